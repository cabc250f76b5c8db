import assert from "node:assert/strict";
import {
  keeperOf,
  type LayoutEntry,
  type LayoutPolicy,
  type PlacedEntry,
  planTreeLayout,
} from "./tree_layout.ts";

const USER = { uid: 1000, gid: 1000 };
const ROOT = { uid: 0, gid: 0 };

function file(path: string, executable = false): LayoutEntry {
  return { path, kind: "file", executable };
}
function dir(path: string): LayoutEntry {
  return { path, kind: "dir", executable: false };
}

const TREE: LayoutEntry[] = [
  dir("src"),
  file("src/a.py"),
  file("src/run.sh", true),
  dir("tests"),
  file("tests/test_a.py"),
  dir("eval"),
  dir("eval/data"),
  file("eval/data/gold.txt"),
  file("eval/other.txt"),
  file("bench.py"),
  file("ratchet.jsonc"),
  { path: "link", kind: "symlink", executable: false },
];

function policy(extra: Partial<LayoutPolicy> = {}): LayoutPolicy {
  return {
    harness: [],
    editable: [],
    scratch: [],
    reportPath: null,
    configPath: null,
    ...extra,
  };
}

/** path → "uid:gid mode" for compact tables. */
function table(placed: PlacedEntry[]): Record<string, string> {
  return Object.fromEntries(
    placed.map((e) => [e.path, `${e.uid} ${e.mode.toString(8)}`]),
  );
}

Deno.test("planTreeLayout() protects harness files, their directories and the dirs above them", () => {
  const t = table(planTreeLayout(
    TREE,
    policy({
      harness: ["tests", "bench.py", "eval/data/gold.txt"],
      configPath: "ratchet.jsonc",
    }),
    USER,
  ));
  assert.deepEqual(t, {
    // Writable but holding protected entries: keeper-owned and sticky.
    "": "0 1777",
    "eval": "0 1777",
    "eval/data": "0 1777",
    // A directory named by a glob: read-only as a whole.
    "tests": "0 555",
    "tests/test_a.py": "0 444",
    "eval/data/gold.txt": "0 444",
    "bench.py": "0 444",
    "ratchet.jsonc": "0 444",
    // Everything else belongs to the trial user.
    "src": "1000 755",
    "src/a.py": "1000 644",
    "src/run.sh": "1000 755",
    "eval/other.txt": "1000 644",
    "link": "1000 777",
  });
});

Deno.test("planTreeLayout() gives protected entries to nobody when the trial runs as root", () => {
  assert.deepEqual(keeperOf(ROOT), { uid: 65534, gid: 65534 });
  assert.deepEqual(keeperOf(USER), { uid: 0, gid: 0 });
  const t = table(
    planTreeLayout(TREE, policy({ harness: ["bench.py"] }), ROOT),
  );
  assert.equal(t["bench.py"], "65534 444");
  assert.equal(t[""], "65534 1777");
  assert.equal(t["src/a.py"], "0 644");
});

Deno.test("planTreeLayout() under --editable leaves only editable paths, scratch and the report dir writable", () => {
  const placed = planTreeLayout(
    TREE,
    policy({
      editable: ["src/*.py"],
      scratch: ["build/obj"],
      reportPath: "out/r.txt",
    }),
    USER,
  );
  const t = table(placed);
  assert.equal(t["src/a.py"], "1000 644");
  // Not editable: read-only, executable bit kept.
  assert.equal(t["src/run.sh"], "0 555");
  // An ancestor of an editable file: traversable, nothing created in it.
  assert.equal(t["src"], "0 555");
  assert.equal(t["eval/other.txt"], "0 444");
  assert.equal(t[""], "0 555");
  // Scratch and the report's directory are made, writable.
  assert.equal(t["build"], "0 555");
  assert.equal(t["build/obj"], "1000 755");
  assert.equal(t["out"], "1000 755");
  assert.deepEqual(
    placed.filter((e) => e.created).map((e) => e.path),
    ["build", "out", "build/obj"],
  );
});

Deno.test("planTreeLayout() with the report at the root keeps the root open but its entries fixed", () => {
  const t = table(planTreeLayout(
    TREE,
    policy({ editable: ["src"], reportPath: "report.txt" }),
    USER,
  ));
  assert.equal(t[""], "0 1777");
  assert.equal(t["src"], "1000 755");
  assert.equal(t["src/a.py"], "1000 644");
  assert.equal(t["bench.py"], "0 444");
});

Deno.test("planTreeLayout() leaves out the report file and anything under it", () => {
  const placed = planTreeLayout(
    [...TREE, dir("out"), file("out/r.txt"), dir("out/r.txt2")],
    policy({ reportPath: "./out/r.txt" }),
    USER,
  );
  const paths = placed.map((e) => e.path);
  assert.ok(!paths.includes("out/r.txt"));
  assert.ok(paths.includes("out/r.txt2"));
});

Deno.test("planTreeLayout() lists each directory before what it holds", () => {
  const placed = planTreeLayout(
    [file("a/b/c/d.txt"), dir("a/b/c"), dir("a"), dir("a/b")],
    policy({ scratch: ["x/y"] }),
    USER,
  );
  const seen = new Set<string>();
  for (const e of placed) {
    const parent = e.path.includes("/")
      ? e.path.slice(0, e.path.lastIndexOf("/"))
      : "";
    if (e.path !== "") assert.ok(seen.has(parent), `${e.path} before parent`);
    seen.add(e.path);
  }
});

Deno.test("planTreeLayout() never gives the trial user a protected entry, whatever the globs", () => {
  // The harness wins over editable and scratch.
  const t = table(planTreeLayout(
    TREE,
    policy({
      harness: ["src/a.py"],
      editable: ["src"],
      scratch: ["src"],
    }),
    USER,
  ));
  assert.equal(t["src/a.py"], "0 444");
  assert.equal(t["src"], "0 1777");
});
