import assert from "node:assert/strict";
import {
  checkCandidateChanges,
  type FileChange,
  symlinkEscapes,
} from "./integrity.ts";
import type { ProtectionPolicy } from "./protect.ts";

const policy: ProtectionPolicy = {
  editable: [],
  harness: ["tests/**", "**/conftest.py", "pytest.ini"],
  scratch: [],
  reportPath: "out/report.json",
};

function file(
  path: string,
  status: FileChange["status"] = "M",
  extra: Partial<FileChange> = {},
): FileChange {
  return {
    path,
    status,
    newMode: status === "D" ? null : "100644",
    symlinkTarget: null,
    ...extra,
  };
}

function link(
  path: string,
  target: string | null,
  status: FileChange["status"] = "A",
): FileChange {
  return { path, status, newMode: "120000", symlinkTarget: target };
}

Deno.test("checkCandidateChanges() accepts ordinary source changes", () => {
  const changes = [
    file("src/a.py"),
    file("src/new.py", "A"),
    file("src/old.py", "D"),
    file("src/b.py", "R", { oldPath: "src/a2.py" }),
    link("src/link", "../README.md"),
  ];
  assert.equal(checkCandidateChanges(changes, policy), null);
  assert.equal(checkCandidateChanges([], policy), null);
});

const protectedCases: [string, FileChange, RegExp][] = [
  [
    "modified harness file",
    file("tests/test_a.py"),
    /modified tests\/test_a\.py.*harness/,
  ],
  [
    "deleted harness file",
    file("tests/test_a.py", "D"),
    /deleted tests\/test_a\.py/,
  ],
  [
    "type change of harness file",
    file("pytest.ini", "T"),
    /changed the type of pytest\.ini/,
  ],
  ["modified report file", file("out/report.json"), /report file/],
  [
    "added file inside .ratchet",
    file(".ratchet/results.jsonl", "A"),
    /\.ratchet/,
  ],
  ["modified .git path", file(".git/config"), /\.git/],
  [
    "renamed a harness file away",
    file("src/moved.py", "R", { oldPath: "tests/test_a.py" }),
    /renamed tests\/test_a\.py to src\/moved\.py.*harness/,
  ],
];

for (const [name, change, detail] of protectedCases) {
  Deno.test(`checkCandidateChanges() rejects a ${name} as protected_path`, () => {
    const v = checkCandidateChanges([file("src/ok.py"), change], policy);
    assert.equal(v?.reason, "protected_path");
    assert.match(v?.detail ?? "", detail);
  });
}

Deno.test("checkCandidateChanges() rejects changes outside the editable allowlist", () => {
  const allow = { ...policy, editable: ["src/**"] };
  assert.equal(checkCandidateChanges([file("src/a.py")], allow), null);
  const v = checkCandidateChanges([file("setup.py", "A")], allow);
  assert.equal(v?.reason, "protected_path");
  assert.match(v?.detail ?? "", /added setup\.py.*editable/);
});

Deno.test("checkCandidateChanges() rejects a new conftest.py as harness_added", () => {
  const v = checkCandidateChanges([file("src/pkg/conftest.py", "A")], policy);
  assert.equal(v?.reason, "harness_added");
  assert.match(v?.detail ?? "", /src\/pkg\/conftest\.py/);
  assert.match(v?.detail ?? "", /\*\*\/conftest\.py/);
});

// Globs match names that start with a dot too (picomatch's `dot: true`): a
// harness file hidden in a dot directory is still a harness file.
Deno.test("checkCandidateChanges() rejects a new conftest.py inside a dot directory as harness_added", () => {
  for (const path of ["src/.pkg/conftest.py", ".hidden/conftest.py"]) {
    const v = checkCandidateChanges([file(path, "A")], policy);
    assert.equal(v?.reason, "harness_added", path);
  }
  const dotted = checkCandidateChanges(
    [file("tests/.cache/x.py", "A")],
    policy,
  );
  assert.equal(dotted?.reason, "harness_added");
});

Deno.test("checkCandidateChanges() rejects a new file under a harness directory as harness_added", () => {
  const v = checkCandidateChanges([file("tests/test_new.py", "A")], policy);
  assert.equal(v?.reason, "harness_added");
  assert.match(v?.detail ?? "", /tests\/\*\*/);
});

Deno.test("checkCandidateChanges() treats a rename into the harness as harness_added", () => {
  const v = checkCandidateChanges(
    [file("tests/conftest.py", "R", { oldPath: "src/helpers.py" })],
    policy,
  );
  assert.equal(v?.reason, "harness_added");
  assert.match(
    v?.detail ?? "",
    /renamed src\/helpers\.py to tests\/conftest\.py/,
  );
});

Deno.test("checkCandidateChanges() rejects a symlink pointing outside the tree", () => {
  for (
    const target of ["/etc/passwd", "../../x", "../../../outside", "a/../../.."]
  ) {
    const v = checkCandidateChanges([link("src/link", target)], policy);
    assert.equal(v?.reason, "symlink_outside", target);
    assert.match(v?.detail ?? "", new RegExp(`src/link -> `), target);
  }
});

Deno.test("checkCandidateChanges() rejects a symlink retargeted outside or of unknown target", () => {
  const retargeted = checkCandidateChanges(
    [link("src/link", "/tmp", "M")],
    policy,
  );
  assert.equal(retargeted?.reason, "symlink_outside");
  const typeChanged = checkCandidateChanges(
    [link("src/data", "../../data", "T")],
    policy,
  );
  assert.equal(typeChanged?.reason, "symlink_outside");
  const unknown = checkCandidateChanges([link("src/link", null)], policy);
  assert.equal(unknown?.reason, "symlink_outside");
  assert.match(unknown?.detail ?? "", /could not be read/);
});

Deno.test("checkCandidateChanges() ignores a deleted symlink", () => {
  const deleted: FileChange = {
    path: "src/link",
    status: "D",
    newMode: null,
    symlinkTarget: null,
  };
  assert.equal(checkCandidateChanges([deleted], policy), null);
});

Deno.test("checkCandidateChanges() reports the first violation and counts the rest", () => {
  const v = checkCandidateChanges(
    [
      file("src/a.py"),
      link("src/l", "/etc"),
      file("tests/test_a.py"),
      file("tests/new_test.py", "A"),
    ],
    policy,
  );
  assert.equal(v?.reason, "symlink_outside");
  assert.match(v?.detail ?? "", /and 2 more violations/);
  assert.match(v?.detail ?? "", /tests\/new_test\.py/);
});

Deno.test("symlinkEscapes() resolves targets from the link's directory", () => {
  const rows: [string, string, boolean][] = [
    ["a/link", "b", false],
    ["a/link", "../b", false],
    ["a/link", "..", false],
    ["a/b/link", "../../c", false],
    ["link", ".", false],
    ["a/link", "../..", true],
    ["a/link", "../../b", true],
    ["link", "../b", true],
    ["a/link", "x/../../../y", true],
    ["a/link", "/abs", true],
    ["a/link", "C:\\Windows", true],
    ["a/link", "", true],
  ];
  for (const [path, target, escapes] of rows) {
    assert.equal(symlinkEscapes(path, target), escapes, `${path} -> ${target}`);
  }
});
