import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeRuntime } from "../../tests/_fakes/runtime.ts";
import { tempRepo } from "../../tests/_helpers/git_repo.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import type { LayoutPolicy } from "../core/tree_layout.ts";
import type { SpecContext } from "./container_spec.ts";
import {
  removeRunImages,
  type TreeBuilt,
  TreeImages,
  type TreeImagesOptions,
  treeImageTag,
  type TreeRef,
} from "./tree_images.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

const USER = { uid: 1000, gid: 1000 };
const POLICY: LayoutPolicy = {
  harness: ["tests/**", "score.sh"],
  editable: [],
  scratch: ["build"],
  reportPath: "out/report.txt",
  configPath: null,
};

function ctx(runtime: FakeRuntime): SpecContext {
  void runtime;
  return {
    runId: "run-1",
    config: testConfig(),
    user: "1000:1000",
    env: () => undefined,
    extraMounts: [],
  };
}

/** A repository with a subject, a harness and a stale report, and a fake engine. */
async function setup(extra: Partial<TreeImagesOptions> = {}) {
  const repo = await tempRepo({
    "src/a.py": "a = 1\n",
    "tests/test_a.py": "assert True\n",
    "score.sh": "echo score: 1\n",
    "out/report.txt": "stale score: 999\n",
  });
  await Deno.symlink("../src/a.py", join(repo.dir, "tests/link.py"));
  const tree = await repo.git("rev-parse", `${await repo.commit("c")}^{tree}`);
  const runtime = new FakeRuntime();
  runtime.addImage("base:1");
  const built: TreeBuilt[] = [];
  const faults: string[] = [];
  const images = new TreeImages({
    git: testGit,
    runtime,
    runId: "run-1",
    baseImage: "base:1",
    snapshotDir: null,
    policy: POLICY,
    trialUser: USER,
    labels: { "ratchet.test": "t" },
    onBuilt: (b) => built.push(b),
    fault: (p) => faults.push(p),
    ...extra,
  });
  const ref = (key: string): TreeRef => ({
    key,
    source: { kind: "git", root: repo.dir, treeish: key },
  });
  return {
    repo,
    tree,
    runtime,
    images,
    built,
    faults,
    ref,
    [Symbol.asyncDispose]: () => repo[Symbol.asyncDispose](),
  };
}

Deno.test("treeImageTag() names a tree's image by run and tree, tag-safe", () => {
  assert.equal(
    treeImageTag("20260101-000000-abcd", "0123456789abcdef0123456789"),
    "ratchet-tree:20260101-000000-abcd-0123456789abcdef",
  );
  assert.equal(
    treeImageTag("Run:1", "-.Tree/Key"),
    "ratchet-tree:run_1-tree_key",
  );
  assert.notEqual(treeImageTag("a", "t"), treeImageTag("b", "t"));
});

Deno.test("TreeImages.imageOf() builds one layer per tree, laid out read-only where protected", async () => {
  await using t = await setup();
  const [a, b] = await Promise.all([
    t.images.imageOf(t.ref(t.tree)),
    t.images.imageOf(t.ref(t.tree)),
  ]);
  assert.equal(a, treeImageTag("run-1", t.tree));
  assert.equal(b, a);
  assert.equal(t.runtime.calls.filter((c) => c.startsWith("layer")).length, 1);
  const image = t.runtime.images.get(a)!;
  assert.equal(image.base, "base:1");
  assert.deepEqual(image.labels, {
    "ratchet.run": "run-1",
    "ratchet.role": "tree",
    "ratchet.tree": t.tree,
    "ratchet.test": "t",
  });
  // path → "kind owner mode [-> target] [contents]"
  const layer = Object.fromEntries(
    image.layer!.map((e) => [
      e.path,
      [
        e.kind,
        `${e.uid}:${e.gid}`,
        e.mode.toString(8),
        ...(e.linkTarget ? [`-> ${e.linkTarget}`] : []),
        ...(e.data ? [new TextDecoder().decode(e.data).trim()] : []),
      ].join(" "),
    ]),
  );
  // The harness is the keeper's (root) and read-only; the rest the trial
  // user's; the root holds both, so it is sticky and the keeper's. The stale
  // report is left out; its directory and the scratch path are there.
  assert.deepEqual(layer, {
    // The wrapper's control directory: the keeper's; the trial user may
    // write the files, never read or replace them.
    ".ratchet-trial": "dir 0:0 755",
    ".ratchet-trial/log": "file 0:0 622 ",
    ".ratchet-trial/setup.out": "file 0:0 622 ",
    "work": "dir 0:0 1777",
    "work/build": "dir 1000:1000 755",
    "work/out": "dir 1000:1000 755",
    "work/score.sh": "file 0:0 444 echo score: 1",
    "work/src": "dir 1000:1000 755",
    "work/src/a.py": "file 1000:1000 644 a = 1",
    "work/tests": "dir 0:0 555",
    "work/tests/link.py": "symlink 0:0 777 -> ../src/a.py",
    "work/tests/test_a.py": "file 0:0 444 assert True",
  });
  // Every entry carries the same fixed time, so equal trees make equal layers.
  assert.deepEqual([...new Set(image.layer!.map((e) => e.mtime))], [
    1_000_000_000,
  ]);
  assert.equal(t.built.length, 1);
  assert.deepEqual(
    { ...t.built[0], seconds: 0 },
    { key: t.tree, image: a, files: 4, bytes: 6 + 12 + 14 + 17, seconds: 0 },
  );
  assert.deepEqual(t.faults, ["tree.image-built"]);
});

Deno.test("TreeImages.imageOf() lays the pinned harness snapshot over every tree", async () => {
  const snap = await Deno.makeTempDir({ prefix: "ratchet-snap-" });
  try {
    await Deno.mkdir(join(snap, "tests"));
    await Deno.writeTextFile(join(snap, "tests/test_a.py"), "pinned\n");
    await using t = await setup({ snapshotDir: snap });
    await t.repo.write({ "tests/test_a.py": "assert 'edited'\n" });
    const edited = await t.repo.git(
      "rev-parse",
      `${await t.repo.commit("edit harness")}^{tree}`,
    );
    const tag = await t.images.imageOf(t.ref(edited));
    const file = t.runtime.images.get(tag)!.layer!.find((e) =>
      e.path === "work/tests/test_a.py"
    );
    assert.equal(new TextDecoder().decode(file?.data ?? undefined), "pinned\n");
  } finally {
    await Deno.remove(snap, { recursive: true });
  }
});

Deno.test("TreeImages.imageOf() forgets a failed build, so the next call builds again", async () => {
  await using t = await setup();
  t.runtime.layerError = new Error("engine went away");
  await assert.rejects(t.images.imageOf(t.ref(t.tree)), /engine went away/);
  assert.equal(t.runtime.images.has(treeImageTag("run-1", t.tree)), false);
  assert.equal(
    await t.images.imageOf(t.ref(t.tree)),
    treeImageTag("run-1", t.tree),
  );
  assert.equal(t.runtime.calls.filter((c) => c.startsWith("layer")).length, 2);
});

Deno.test("TreeImages.caches() makes one set of --cache volumes per tree and opens them once", async () => {
  await using t = await setup();
  const context = ctx(t.runtime);
  assert.deepEqual(await t.images.caches(t.ref(t.tree), [], context), []);
  assert.equal(t.runtime.runs.length, 0);
  const [m1, m2] = await Promise.all([
    t.images.caches(t.ref(t.tree), ["/root/.cache", "node_modules"], context),
    t.images.caches(t.ref(t.tree), ["/root/.cache", "node_modules"], context),
  ]);
  assert.deepEqual(m1, m2);
  assert.deepEqual(m1!.map((m) => m.target), [
    "/root/.cache",
    "/work/node_modules",
  ]);
  assert.equal(t.runtime.volumes.size, 2);
  for (const m of m1!) {
    assert.deepEqual(t.runtime.volumes.get(m.source), {
      "ratchet.run": "run-1",
      "ratchet.role": "cache",
      "ratchet.tree": t.tree,
      "ratchet.test": "t",
      "ratchet.cache": m.target,
    });
  }
  // One root container opened them, from the tree's own image.
  assert.equal(t.runtime.runs.length, 1);
  const init = t.runtime.runs[0]!.spec;
  assert.equal(init.image, treeImageTag("run-1", t.tree));
  assert.equal(init.user, "0:0");
  assert.deepEqual(init.mounts, m1);
  // Another tree gets its own volumes.
  const other = await t.images.caches(t.ref("HEAD"), ["/root/.cache"], context);
  assert.notEqual(other[0]!.source, m1![0]!.source);
});

Deno.test("TreeImages.caches() fails when the volumes cannot be opened, and tries again next time", async () => {
  await using t = await setup();
  t.runtime.onRun = () => ({
    exitCode: 1,
    stderr: new TextEncoder().encode("chmod: denied\n"),
  });
  await assert.rejects(
    t.images.caches(t.ref(t.tree), ["/c"], ctx(t.runtime)),
    /opening the --cache volumes failed \(exit 1\): chmod: denied/,
  );
  t.runtime.onRun = () => ({});
  assert.equal(
    (await t.images.caches(t.ref(t.tree), ["/c"], ctx(t.runtime))).length,
    1,
  );
});

Deno.test("TreeImages.retainOnly() removes the images and volumes of the other trees", async () => {
  await using t = await setup();
  await t.repo.write({ "src/a.py": "a = 2\n" });
  const second = await t.repo.git(
    "rev-parse",
    `${await t.repo.commit("second")}^{tree}`,
  );
  const context = ctx(t.runtime);
  await t.images.imageOf(t.ref(t.tree));
  await t.images.caches(t.ref(second), ["/c"], context);
  assert.equal(t.runtime.volumes.size, 1);
  await t.images.retainOnly([t.tree]);
  assert.ok(t.runtime.images.has(treeImageTag("run-1", t.tree)));
  assert.equal(t.runtime.images.has(treeImageTag("run-1", second)), false);
  assert.equal(t.runtime.volumes.size, 0);
  assert.deepEqual(t.faults.filter((f) => f === "images.removed"), [
    "images.removed",
  ]);
  // A released tree is built again when it is needed again.
  await t.images.imageOf(t.ref(second));
  assert.equal(
    t.runtime.calls.filter((c) =>
      c === `layer ${treeImageTag("run-1", second)}`
    )
      .length,
    2,
  );
  await t.images.retainOnly([t.tree, second]);
  assert.equal(t.runtime.images.size, 3);
});

Deno.test("TreeImages.removeAll() removes the run's containers, tree images and volumes, also ones it did not make", async () => {
  await using t = await setup();
  await t.images.imageOf(t.ref(t.tree));
  // Left by an earlier process of the same run, and another run's.
  t.runtime.addImage("ratchet-tree:run-1-old", {
    "ratchet.run": "run-1",
    "ratchet.role": "tree",
  });
  t.runtime.addImage("ratchet-tree:run-2-x", {
    "ratchet.run": "run-2",
    "ratchet.role": "tree",
  });
  t.runtime.addImage("ratchet-prepared:abc", {
    "ratchet.run": "",
    "ratchet.role": "prepared",
  });
  await t.runtime.createVolume("v-old", { "ratchet.run": "run-1" });
  await t.runtime.createVolume("v-other", { "ratchet.run": "run-2" });
  await t.images.removeAll();
  assert.deepEqual([...t.runtime.images.keys()].sort(), [
    "base:1",
    "ratchet-prepared:abc",
    "ratchet-tree:run-2-x",
  ]);
  assert.deepEqual([...t.runtime.volumes.keys()], ["v-other"]);
  assert.ok(
    t.runtime.calls.includes('remove-containers {"ratchet.run":"run-1"}'),
  );
  // removeRunImages() is the same, for a process that has no TreeImages.
  t.runtime.addImage("ratchet-tree:run-2-y", {
    "ratchet.run": "run-2",
    "ratchet.role": "tree",
  });
  await removeRunImages(t.runtime, "run-2");
  assert.deepEqual([...t.runtime.images.keys()].sort(), [
    "base:1",
    "ratchet-prepared:abc",
  ]);
});
