import assert from "node:assert/strict";
import { join } from "node:path";
import { matchesAny } from "../core/protect.ts";
import { ConfigError, EnvironmentError, ExitCode } from "../errors.ts";
import {
  cacheMounts,
  cacheVolumeName,
  containerPath,
  dropNested,
  type Entry,
  extraMounts,
  findMatches,
  mergeHarness,
  type PlanInput,
  planMounts,
  prepareMountPoints,
  snapshotHarness,
} from "./mounts.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-mounts-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), content);
  }
  return dir;
}

function input(overrides: Partial<PlanInput>): PlanInput {
  return {
    treeDir: "/t",
    harnessDir: "/snap",
    harness: [],
    editable: null,
    scratch: [],
    reportPath: null,
    topLevel: [],
    ...overrides,
  };
}

const view = (plan: ReturnType<typeof planMounts>) =>
  plan.mounts.map((m) => `${m.target} ${m.readOnly ? "ro" : "rw"} ${m.source}`);

Deno.test("planMounts() without --editable: /work rw, harness ro from the snapshot, ancestors pinned", () => {
  const plan = planMounts(input({
    harness: [
      { path: "eval/data/gold.txt", kind: "file", from: "snapshot" },
      { path: "score.py", kind: "file", from: "snapshot" },
      { path: "tests", kind: "dir", from: "snapshot" },
      { path: "extra/added_test.py", kind: "file", from: "tree" },
    ],
  }));
  assert.deepEqual(view(plan), [
    "/work rw /t",
    "/work/eval rw /t/eval",
    "/work/extra rw /t/extra",
    "/work/score.py ro /snap/score.py",
    "/work/tests ro /snap/tests",
    "/work/eval/data rw /t/eval/data",
    "/work/extra/added_test.py ro /t/extra/added_test.py",
    "/work/eval/data/gold.txt ro /snap/eval/data/gold.txt",
  ]);
  assert.deepEqual(plan.mountPoints.map((p) => `${p.path}:${p.kind}`), [
    "eval:dir",
    "extra:dir",
    "score.py:file",
    "tests:dir",
    "eval/data:dir",
    "extra/added_test.py:file",
    "eval/data/gold.txt:file",
  ]);
  assert.deepEqual(plan.skipped, []);
});

Deno.test("planMounts() with --editable: /work ro, editable, scratch and report dir rw", () => {
  const plan = planMounts(input({
    editable: [
      { path: "src", kind: "dir" },
      { path: "lib/fast.c", kind: "file" },
      { path: "src/inner", kind: "dir" },
    ],
    scratch: [{ path: "build", kind: "dir" }],
    reportPath: "out/sub/report.json",
    harness: [{ path: "src/score.py", kind: "file", from: "snapshot" }],
  }));
  assert.deepEqual(view(plan), [
    "/work ro /t",
    "/work/build rw /t/build",
    "/work/src rw /t/src",
    "/work/lib/fast.c rw /t/lib/fast.c",
    "/work/out/sub rw /t/out/sub",
    "/work/src/score.py ro /snap/src/score.py",
  ]);
});

Deno.test("planMounts() pins harness ancestors only where they are writable", () => {
  const plan = planMounts(input({
    editable: [{ path: "a", kind: "dir" }],
    harness: [
      { path: "a/b/c/h.txt", kind: "file", from: "snapshot" },
      { path: "x/y/h.txt", kind: "file", from: "snapshot" },
    ],
  }));
  // a is a mount point already; a/b and a/b/c lie in the writable a; x and
  // x/y lie in the read-only /work and cannot be renamed anyway.
  assert.deepEqual(view(plan), [
    "/work ro /t",
    "/work/a rw /t/a",
    "/work/a/b rw /t/a/b",
    "/work/a/b/c rw /t/a/b/c",
    "/work/x/y/h.txt ro /snap/x/y/h.txt",
    "/work/a/b/c/h.txt ro /snap/a/b/c/h.txt",
  ]);
});

Deno.test("planMounts() with the report at the root keeps /work writable but existing entries read-only", () => {
  const topLevel: Entry[] = [
    { path: "README.md", kind: "file" },
    { path: "src", kind: "dir" },
    { path: "docs", kind: "dir" },
    { path: "link", kind: "symlink" },
    { path: "report.txt", kind: "file" },
  ];
  const plan = planMounts(input({
    editable: [{ path: "src/a.py", kind: "file" }],
    reportPath: "report.txt",
    topLevel,
  }));
  assert.deepEqual(view(plan), [
    "/work rw /t",
    "/work/README.md ro /t/README.md",
    "/work/docs ro /t/docs",
    "/work/src ro /t/src",
    "/work/src/a.py rw /t/src/a.py",
  ]);
});

Deno.test("planMounts() lets the harness win over editable paths inside it, and skips symlinks", () => {
  const plan = planMounts(input({
    editable: [{ path: "tests/fixtures", kind: "dir" }],
    harness: [
      { path: "tests", kind: "dir", from: "snapshot" },
      { path: "evil", kind: "symlink", from: "tree" },
    ],
  }));
  assert.deepEqual(view(plan), [
    "/work ro /t",
    "/work/tests ro /snap/tests",
  ]);
  assert.deepEqual(plan.skipped, ["evil"]);
});

Deno.test("planMounts() without a snapshot binds harness paths from the tree copy", () => {
  const plan = planMounts(input({
    harnessDir: null,
    harness: [{ path: "tests", kind: "dir", from: "snapshot" }],
  }));
  assert.deepEqual(view(plan), ["/work rw /t", "/work/tests ro /t/tests"]);
});

Deno.test("mergeHarness() prefers the snapshot and drops nested entries", () => {
  const merged = mergeHarness(
    [{ path: "tests", kind: "dir" }, { path: "score.py", kind: "file" }],
    [
      { path: "tests/new_test.py", kind: "file" },
      { path: "score.py", kind: "symlink" },
      { path: "more_test.py", kind: "file" },
    ],
  );
  assert.deepEqual(merged, [
    { path: "more_test.py", kind: "file", from: "tree" },
    { path: "score.py", kind: "file", from: "snapshot" },
    { path: "tests", kind: "dir", from: "snapshot" },
  ]);
  assert.deepEqual(dropNested(["a/b", "a", "ab", "c/d", "c/d/e"]), [
    "a",
    "ab",
    "c/d",
  ]);
});

Deno.test("findMatches() agrees with matchesAny, stops at matched dirs, never follows symlinks", async () => {
  const dir = await tree({
    "tests/a_test.py": "",
    "tests/sub/b.py": "",
    "src/x_test.py": "",
    "src/deep/y_test.py": "",
    "src/z.py": "",
    "data/gold.csv": "",
    "data/other.txt": "",
    ".git/config": "",
    ".ratchet/tmp/x_test.py": "",
    "score.py": "",
  });
  try {
    await Deno.symlink(join(dir, "src"), join(dir, "linked"));
    await Deno.symlink("/etc", join(dir, "data/etc_test.py"));
    const globs = [
      "tests/",
      "**/*_test.py",
      "data/*.csv",
      "score.py",
      "missing/**",
    ];
    const found = await findMatches(dir, globs);
    assert.deepEqual(found, [
      { path: "data/etc_test.py", kind: "symlink" },
      { path: "data/gold.csv", kind: "file" },
      { path: "score.py", kind: "file" },
      { path: "src/deep/y_test.py", kind: "file" },
      { path: "src/x_test.py", kind: "file" },
      { path: "tests", kind: "dir" },
    ]);
    // Every file matchesAny protects is covered by a found entry.
    for (
      const f of [
        "tests/a_test.py",
        "tests/sub/b.py",
        "src/x_test.py",
        "src/deep/y_test.py",
        "src/z.py",
        "data/gold.csv",
        "data/other.txt",
        "score.py",
      ]
    ) {
      const covered = found.some((e) =>
        f === e.path || f.startsWith(e.path + "/")
      );
      assert.equal(covered, matchesAny(f, globs), f);
    }
    assert.deepEqual(await findMatches(dir, []), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("prepareMountPoints() creates missing mount points and replaces planted symlinks", async () => {
  const dir = await tree({ "real/file.txt": "x", "tests/h.py": "candidate" });
  const outside = await Deno.makeTempDir();
  try {
    await Deno.remove(join(dir, "tests"), { recursive: true });
    await Deno.symlink(outside, join(dir, "tests"));
    await Deno.symlink("/etc/passwd", join(dir, "score.py"));
    await prepareMountPoints(dir, [
      { path: "tests", kind: "dir" },
      { path: "tests/h.py", kind: "file" },
      { path: "score.py", kind: "file" },
      { path: "new/dir", kind: "dir" },
      { path: "real/file.txt", kind: "file" },
    ], null);
    const info = (p: string) => Deno.lstatSync(join(dir, p));
    assert.ok(info("tests").isDirectory && !info("tests").isSymlink);
    assert.ok(info("tests/h.py").isFile);
    assert.ok(info("score.py").isFile && !info("score.py").isSymlink);
    assert.ok(info("new/dir").isDirectory);
    assert.equal(await Deno.readTextFile(join(dir, "real/file.txt")), "x");
    // The symlink's target was not touched.
    assert.deepEqual(await Array.fromAsync(Deno.readDir(outside)), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

Deno.test("extraMounts() resolves sources from the repo root and refuses missing ones (exit 3)", async () => {
  const dir = await tree({ "data/x.bin": "1" });
  try {
    const mounts = await extraMounts(dir, [
      { source: "data", target: "/data", readOnly: true },
      { source: join(dir, "data/x.bin"), target: "rel/x.bin", readOnly: false },
    ]);
    assert.deepEqual(mounts, [
      {
        type: "bind",
        source: join(await Deno.realPath(dir), "data"),
        target: "/data",
        readOnly: true,
      },
      {
        type: "bind",
        source: join(await Deno.realPath(dir), "data/x.bin"),
        target: "/work/rel/x.bin",
        readOnly: false,
      },
    ]);
    const error = await extraMounts(dir, [
      { source: "nope", target: "/nope", readOnly: false },
    ]).catch((e) => e);
    assert.ok(error instanceof EnvironmentError);
    assert.equal(error.exitCode, ExitCode.environment);
    assert.match(error.message, /nope/);
    assert.match(error.hint ?? "", /never creates/);
    // Nothing was created.
    assert.equal(await Deno.stat(join(dir, "nope")).catch(() => null), null);
    await assert.rejects(
      extraMounts(dir, [{ source: "data", target: "/work", readOnly: false }]),
      ConfigError,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cacheMounts() names one volume per run and path", () => {
  const mounts = cacheMounts("20250101-120000-abcd", [
    "/root/.cache",
    "node_modules",
    "/root/.cache/",
  ]);
  assert.equal(mounts.length, 2);
  assert.deepEqual(mounts.map((m) => m.target), [
    "/root/.cache",
    "/work/node_modules",
  ]);
  for (const m of mounts) {
    assert.equal(m.type, "volume");
    assert.equal(m.readOnly, false);
    assert.match(m.source, /^ratchet-cache-20250101-120000-abcd-[0-9a-f]{12}$/);
  }
  assert.equal(
    mounts[0]!.source,
    cacheVolumeName("20250101-120000-abcd", "/root/.cache"),
  );
  assert.notEqual(cacheVolumeName("other", "/root/.cache"), mounts[0]!.source);
  assert.throws(() => cacheMounts("r", ["/tmp/home"]), ConfigError);
});

Deno.test("containerPath() takes relative paths from /work", () => {
  assert.equal(containerPath("/data/"), "/data");
  assert.equal(containerPath("a/../b"), "/work/b");
  assert.equal(containerPath("."), "/work");
});

Deno.test("snapshotHarness() copies the harness matches, keeping symlinks", async () => {
  const dir = await tree({
    "tests/a.py": "a",
    "tests/sub/b.py": "b",
    "score.py": "s",
    "src/main.py": "m",
  });
  const dest = await Deno.makeTempDir();
  try {
    await Deno.symlink("../score.py", join(dir, "tests/link.py"));
    const copied = await snapshotHarness(
      dir,
      ["tests", "score.py"],
      join(dest, "h"),
    );
    assert.deepEqual(copied.map((e) => e.path), ["score.py", "tests"]);
    assert.equal(await Deno.readTextFile(join(dest, "h/tests/sub/b.py")), "b");
    assert.equal(
      await Deno.readLink(join(dest, "h/tests/link.py")),
      "../score.py",
    );
    assert.equal(await Deno.stat(join(dest, "h/src")).catch(() => null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dest, { recursive: true });
  }
});
