import assert from "node:assert/strict";
import {
  type CandidateContext,
  checkCandidateChanges as checkWith,
  type FileChange,
  type IntegrityViolation,
  MAX_LINK_HOPS,
  resolveInTree,
  symlinkEscapes,
} from "./integrity.ts";
import type { ProtectionPolicy } from "./protect.ts";

const policy: ProtectionPolicy = {
  editable: [],
  harness: ["tests/**", "**/conftest.py", "pytest.ini"],
  scratch: [],
  reportPath: "out/report.json",
  configPath: "ratchet.jsonc",
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
    size: status === "D" ? null : 100,
    ...extra,
  };
}

function link(
  path: string,
  target: string | null,
  status: FileChange["status"] = "A",
): FileChange {
  return {
    path,
    status,
    newMode: "120000",
    symlinkTarget: target,
    size: target?.length ?? null,
  };
}

/**
 * The check with the links the changes make as the candidate's only links
 * (an incumbent without links) and a 10 MiB cap, unless `context` says more.
 */
function checkCandidateChanges(
  changes: FileChange[],
  p: ProtectionPolicy,
  context: Partial<CandidateContext> = {},
): IntegrityViolation | null {
  const after = new Map<string, string>();
  for (const c of changes) {
    if (c.newMode === "120000" && c.symlinkTarget !== null) {
      after.set(c.path, c.symlinkTarget);
    }
  }
  return checkWith(changes, p, {
    links: { before: new Map(), after },
    maxFileBytes: 10 * 1024 ** 2,
    ...context,
  });
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
    size: null,
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

/** The 12-deep chain of issue 13: `d1/…/d12/up` climbs back to the root. */
const DEEP = Array.from({ length: 12 }, (_, i) => `d${i + 1}`).join("/");
const UP12 = Array(12).fill("..").join("/");

Deno.test("resolveInTree() follows links component by component inside the tree", () => {
  const links = new Map<string, string>([
    ["a/up", ".."], // a link to the root's directory
    ["a/dir", "../b/c"], // a link to a directory
    ["loop1", "loop2"],
    ["loop2", "loop1"],
    ["self", "self/x"],
    ["abs", "/etc"],
    ["sub/abs2", "../abs/passwd"], // a link to a link with an absolute target
    ["b/c/back", "../../a/dir/.."], // link → dir link, then `..` from where it points
    ["win", "C:\\Windows"],
    [`${DEEP}/up`, UP12],
    ["empty", ""],
    ["long", "x/".repeat(2100)],
  ]);
  const rows: [string, string, string][] = [
    // path, expected kind, expected path or words in the step/why
    ["src/file", "inside", "src/file"],
    ["a/up", "inside", ""],
    ["a/up/b", "inside", "b"],
    ["a/up/..", "outside", "above the repository root"],
    ["a/dir/..", "inside", "b"], // .. from b/c, not from a
    ["a/dir/../..", "inside", ""],
    ["a/dir/../../..", "outside", "above the repository root"],
    ["b/c/back", "inside", "b"],
    ["loop1", "unresolvable", "a loop"],
    ["self", "unresolvable", "a loop"],
    ["abs", "outside", "absolute target of abs"],
    ["sub/abs2", "outside", "absolute target of abs"],
    ["win", "outside", "absolute target of win"],
    [`${DEEP}/up`, "inside", ""],
    [`${DEEP}/up/${UP12}/home/me/.ssh/id_rsa`, "outside", "above the"],
    ["empty", "unresolvable", "empty target"],
    ["long", "unresolvable", "longer than 4095"],
    ["missing/../x", "inside", "x"],
    ["missing/../../x", "outside", "above the repository root"],
  ];
  for (const [path, kind, expected] of rows) {
    const r = resolveInTree(links, path);
    assert.equal(r.kind, kind, `${path}: ${JSON.stringify(r)}`);
    if (r.kind === "inside") assert.equal(r.path, expected, path);
    else if (r.kind === "outside") assert.match(r.step, new RegExp(expected));
    else assert.match(r.why, new RegExp(expected));
  }
});

Deno.test("resolveInTree() stops after MAX_LINK_HOPS links and names the chain", () => {
  // A chain of 41 links that would end inside: one too many to follow.
  const links = new Map<string, string>();
  for (let i = 0; i <= MAX_LINK_HOPS; i++) links.set(`l${i}`, `l${i + 1}`);
  const r = resolveInTree(links, "l0");
  assert.equal(r.kind, "unresolvable");
  assert.equal(r.via.length, MAX_LINK_HOPS);
  assert.equal(r.via[0], "l0 -> l1");
  links.delete(`l${MAX_LINK_HOPS}`);
  assert.deepEqual(resolveInTree(links, "l1"), {
    kind: "inside",
    path: `l${MAX_LINK_HOPS}`,
    via: Array.from(
      { length: MAX_LINK_HOPS - 1 },
      (_, i) => `l${i + 1} -> l${i + 2}`,
    ),
  });
});

Deno.test("checkCandidateChanges() rejects the issue's link that climbs through another link", () => {
  const secret = `${DEEP}/up/${UP12}/home/me/.ssh/id_rsa`;
  // Textually it stays inside (d1/home/me/.ssh/id_rsa): the old check passed it.
  assert.equal(symlinkEscapes("leak", secret), false);
  const v = checkCandidateChanges(
    [link(`${DEEP}/up`, UP12), link("leak", secret)],
    policy,
  );
  assert.equal(v?.reason, "symlink_outside");
  assert.match(v?.detail ?? "", /^added symlink leak -> d1\/d2/);
  assert.match(v?.detail ?? "", /resolves outside the repository/);
  assert.match(v?.detail ?? "", /then through d1\/.*\/d12\/up -> \.\.\//);
  // The climbing link alone stays inside: it is the pair that leaves.
  assert.equal(checkCandidateChanges([link(`${DEEP}/up`, UP12)], policy), null);
});

Deno.test("checkCandidateChanges() rejects a report directory made a link out through a chain", () => {
  const out = `${DEEP}/up/${UP12}/home/me/important`;
  const v = checkCandidateChanges(
    [link(`${DEEP}/up`, UP12), link("out", out)],
    policy,
  );
  assert.equal(v?.reason, "symlink_outside");
  assert.match(v?.detail ?? "", /symlink out -> /);
});

Deno.test("checkCandidateChanges() rejects an unchanged link that a changed link now makes leave", () => {
  // The repository has src/data -> cache/../files, where src/cache is a
  // directory (so it points at src/files). The candidate turns src/cache
  // into a link to `..` (the root, inside): src/data now climbs out.
  const before = new Map([["src/data", "cache/../files"]]);
  const after = new Map([
    ["src/data", "cache/../files"],
    ["src/cache", ".."],
  ]);
  const changes = [link("src/cache", "..", "T")];
  assert.equal(resolveInTree(after, "src/cache").kind, "inside");
  const v = checkWith(changes, policy, {
    links: { before, after },
    maxFileBytes: null,
  });
  assert.equal(v?.reason, "symlink_outside");
  assert.match(
    v?.detail ?? "",
    /^the unchanged symlink src\/data -> cache\/\.\.\/files now resolves outside/,
  );
  assert.match(v?.detail ?? "", /src\/cache -> \.\./);
});

Deno.test("checkCandidateChanges() leaves alone a link the repository had that already left", () => {
  const before = new Map([["data", "/mnt/datasets"]]);
  const v = checkWith([file("src/a.py")], policy, {
    links: { before, after: new Map(before) },
    maxFileBytes: null,
  });
  assert.equal(v, null);
  // …but a new link through it is the candidate's.
  const through = checkWith([link("train.csv", "data/train.csv")], policy, {
    links: {
      before,
      after: new Map([...before, ["train.csv", "data/train.csv"]]),
    },
    maxFileBytes: null,
  });
  assert.equal(through?.reason, "symlink_outside");
  assert.match(through?.detail ?? "", /absolute target of data/);
});

Deno.test("checkCandidateChanges() rejects a new link loop, and trusts git over a stale map", () => {
  const loop = checkCandidateChanges(
    [link("a", "b"), link("b", "a")],
    policy,
  );
  assert.equal(loop?.reason, "symlink_outside");
  assert.match(loop?.detail ?? "", /cannot be resolved \(more than 40 links/);
  // The map still lists a link the changes delete: git's word wins.
  const v = checkWith([file("old", "D"), link("new", "old/..")], policy, {
    links: {
      before: new Map([["old", "/etc"]]),
      after: new Map([["old", "/etc"], ["new", "old/.."]]),
    },
    maxFileBytes: null,
  });
  assert.equal(v, null);
});

Deno.test("checkCandidateChanges() rejects a new or changed file above the cap as file_too_large", () => {
  const cap = 10 * 1024 ** 2;
  const ok = checkCandidateChanges([file("a.bin", "A", { size: cap })], policy);
  assert.equal(ok, null);
  const big = checkCandidateChanges(
    [file("data/big.bin", "A", { size: 4 * 1024 ** 3 })],
    policy,
  );
  assert.equal(big?.reason, "file_too_large");
  assert.equal(
    big?.detail,
    "added data/big.bin: 4.0 GiB (4294967296 bytes), above the file-size cap of 10.0 MiB (10485760 bytes); raise it with --max-file-size if the file belongs in the repository",
  );
  const grown = checkCandidateChanges(
    [file("src/a.py", "M", { size: cap + 1 })],
    policy,
  );
  assert.match(grown?.detail ?? "", /^modified src\/a\.py: 10\.0 MiB/);
  const unknown = checkCandidateChanges(
    [file("src/a.py", "M", { size: null })],
    policy,
  );
  assert.equal(unknown?.reason, "file_too_large");
  assert.match(unknown?.detail ?? "", /size could not be read/);
  // No cap: anything goes; a deletion never counts.
  assert.equal(
    checkCandidateChanges([file("a.bin", "A", { size: 2 ** 40 })], policy, {
      maxFileBytes: null,
    }),
    null,
  );
  assert.equal(checkCandidateChanges([file("a.bin", "D")], policy), null);
});

Deno.test("checkCandidateChanges() reports files found above the cap before git read them first", () => {
  const v = checkCandidateChanges([file("src/a.py")], policy, {
    oversized: [{ path: "big.bin", size: 4 * 1024 ** 3 }],
  });
  assert.equal(v?.reason, "file_too_large");
  assert.match(
    v?.detail ?? "",
    /^wrote big\.bin: 4\.0 GiB \(4294967296 bytes\)/,
  );
});

Deno.test("checkCandidateChanges() rejects a change to the config file as protected_path", () => {
  for (const change of [file("ratchet.jsonc"), file("ratchet.jsonc", "D")]) {
    const v = checkCandidateChanges([change], policy);
    assert.equal(v?.reason, "protected_path");
    assert.match(v?.detail ?? "", /ratchet\.jsonc.*config/);
  }
  const custom = { ...policy, configPath: "conf/bench.jsonc" };
  const v = checkCandidateChanges([file("conf/bench.jsonc")], custom);
  assert.equal(v?.reason, "protected_path");
  assert.match(v?.detail ?? "", /conf\/bench\.jsonc is ratchet's config file/);
});
