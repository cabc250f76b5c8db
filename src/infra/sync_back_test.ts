/**
 * Bringing the model's working copy back from its sandbox into the worktree
 * (`syncBack`), against an in-memory sandbox whose changes are what the
 * engine would report (tests/_fakes/sandbox.ts), into a real temporary
 * worktree that starts as the sandbox's image.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeSandbox, type FakeSpec } from "../../tests/_fakes/sandbox.ts";
import { carried, planSync, syncBack } from "./sync_back.ts";

const MAX = 1024;

/** The incumbent's tree: the sandbox's image and the worktree's content. */
const TREE: Record<string, FakeSpec> = {
  "README.md": "readme\n",
  "src/a.py": "a = 1\n",
  "src/b.py": "b = 1\n",
  "src/run.sh": { file: "#!/bin/sh\n", mode: 0o755 },
  "src/old/gone.py": "x\n",
  "src/old/nested/deep.py": "y\n",
  "lib/link.py": { symlink: "../src/a.py" },
  "docs/guide.md": "guide\n",
};

/** Write `tree` into `root` as files, directories and symlinks. */
async function mirror(
  root: string,
  tree: Record<string, FakeSpec>,
): Promise<void> {
  for (const [rel, spec] of Object.entries(tree)) {
    const full = join(root, rel);
    await Deno.mkdir(join(full, ".."), { recursive: true });
    if (typeof spec === "string" || spec instanceof Uint8Array) {
      await Deno.writeFile(
        full,
        typeof spec === "string" ? new TextEncoder().encode(spec) : spec,
      );
    } else if ("file" in spec) {
      await Deno.writeFile(
        full,
        typeof spec.file === "string"
          ? new TextEncoder().encode(spec.file)
          : spec.file,
      );
      await Deno.chmod(full, spec.mode ?? 0o644);
    } else if ("dir" in spec) {
      await Deno.mkdir(full, { recursive: true });
    } else if ("symlink" in spec) {
      await Deno.symlink(spec.symlink, full);
    }
  }
}

/** A sandbox of `tree` and a worktree holding the same files. */
async function setup(tree: Record<string, FakeSpec> = TREE) {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-sync-" });
  const root = join(dir, "worktree");
  const outside = join(dir, "outside");
  await Deno.mkdir(root);
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(outside, "keep.txt"), "outside\n");
  await mirror(root, tree);
  return {
    sandbox: new FakeSandbox(tree),
    root,
    outside,
    text: (rel: string) => Deno.readTextFile(join(root, rel)),
    lstat: (rel: string) => Deno.lstat(join(root, rel)).catch(() => null),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("carried() keeps .git, .ratchet, the root and prepared roots out of a candidate", () => {
  assert.equal(carried("src/a.py", []), true);
  assert.equal(carried("", []), false);
  assert.equal(carried(".git", []), false);
  assert.equal(carried(".git/config", []), false);
  assert.equal(carried(".ratchet/state.json", []), false);
  assert.equal(carried("vendor/.git/config", []), true);
  assert.equal(carried("node_modules/x/index.js", ["node_modules"]), false);
  assert.equal(carried("node_modules", ["node_modules"]), false);
  assert.equal(carried("node_modules2/x", ["node_modules"]), true);
  assert.equal(carried("src/gen.js", ["src/gen.js", ".venv"]), false);
});

Deno.test("planSync() removes deepest first, then updates parents before children", () => {
  const plan = planSync([
    { path: "/work", kind: "modified" },
    { path: "/work/src", kind: "modified" },
    { path: "/work/src/a.py", kind: "modified" },
    { path: "/work/src/old", kind: "deleted" },
    { path: "/work/src/old2/x/y.py", kind: "deleted" },
    { path: "/work/new", kind: "added" },
    { path: "/work/new/sub/f.py", kind: "added" },
    { path: "/work/new/b.py", kind: "added" },
    { path: "/work/.git/index", kind: "modified" },
    { path: "/work/.ratchet", kind: "added" },
    { path: "/work/node_modules/pkg", kind: "added" },
    { path: "/workspace/x", kind: "added" },
    { path: "/etc/passwd", kind: "modified" },
    { path: "/tmp/home/.cache", kind: "added" },
  ], ["node_modules"]);
  assert.deepEqual(plan.removals, ["src/old2/x/y.py", "src/old"]);
  assert.deepEqual(plan.updates, [
    { rel: "new", added: true },
    { rel: "src", added: false },
    { rel: "new/b.py", added: true },
    { rel: "src/a.py", added: false },
    { rel: "new/sub/f.py", added: true },
  ]);
});

Deno.test("planSync() keeps a path added once added, whatever else is reported for it", () => {
  const plan = planSync([
    { path: "/work/x", kind: "added" },
    { path: "/work/x", kind: "modified" },
    { path: "/work/y", kind: "modified" },
  ], []);
  assert.deepEqual(plan.updates, [
    { rel: "x", added: true },
    { rel: "y", added: false },
  ]);
});

Deno.test("syncBack() brings new, changed and deleted files back", async () => {
  await using t = await setup();
  t.sandbox.set("src/a.py", "a = 2\n");
  t.sandbox.set("src/new.py", "new\n");
  t.sandbox.remove("src/b.py");
  t.sandbox.remove("src/old");
  t.sandbox.set("pkg/sub/deep/m.py", "m\n");
  t.sandbox.set("pkg/empty", { dir: true });
  const result = await syncBack(t.sandbox, t.root, {
    preparedRoots: [],
    maxFileBytes: MAX,
  });
  assert.equal(await t.text("src/a.py"), "a = 2\n");
  assert.equal(await t.text("src/new.py"), "new\n");
  assert.equal(await t.text("pkg/sub/deep/m.py"), "m\n");
  assert.ok((await t.lstat("pkg/empty"))?.isDirectory);
  assert.equal(await t.lstat("src/b.py"), null);
  assert.equal(await t.lstat("src/old"), null);
  // Untouched files stay as they were.
  assert.equal(await t.text("README.md"), "readme\n");
  assert.equal(await t.text("docs/guide.md"), "guide\n");
  assert.equal(result.removed, 2);
  assert.deepEqual(result.oversized, []);
  assert.ok(result.written >= 5, String(result.written));
});

Deno.test("syncBack() carries the executable bit both ways", async () => {
  await using t = await setup();
  t.sandbox.set("src/a.py", { file: "a = 1\n", mode: 0o755 });
  t.sandbox.set("src/run.sh", { file: "#!/bin/sh\n", mode: 0o644 });
  t.sandbox.set("tools/x.sh", { file: "#!/bin/sh\n", mode: 0o700 });
  t.sandbox.set("tools/y.txt", { file: "y", mode: 0o600 });
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  const mode = async (rel: string) => (await t.lstat(rel))!.mode! & 0o777;
  assert.equal(await mode("src/a.py"), 0o755);
  assert.equal(await mode("src/run.sh"), 0o644);
  assert.equal(await mode("tools/x.sh"), 0o755);
  assert.equal(await mode("tools/y.txt"), 0o644);
});

Deno.test("syncBack() writes symlinks as symlinks with their targets as stored", async () => {
  await using t = await setup();
  t.sandbox.set("src/rel_link", { symlink: "a.py" });
  t.sandbox.set("abs_link", { symlink: "/work/src/a.py" });
  t.sandbox.set("dangling", { symlink: "nowhere/at/all" });
  t.sandbox.set("out_link", { symlink: t.outside });
  t.sandbox.set("lib/link.py", { symlink: "../src/b.py" });
  t.sandbox.set("newdir/inner_link", { symlink: "../README.md" });
  // A file that was a file is now a link, and a link is now a file.
  t.sandbox.set("docs/guide.md", { symlink: "../README.md" });
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  for (
    const [rel, target] of [
      ["src/rel_link", "a.py"],
      ["abs_link", "/work/src/a.py"],
      ["dangling", "nowhere/at/all"],
      ["out_link", t.outside],
      ["lib/link.py", "../src/b.py"],
      ["newdir/inner_link", "../README.md"],
      ["docs/guide.md", "../README.md"],
    ]
  ) {
    assert.ok((await t.lstat(rel!))?.isSymlink, rel);
    assert.equal(await Deno.readLink(join(t.root, rel!)), target, rel);
  }
});

Deno.test("syncBack() replaces a symlink with a file without writing through it", async () => {
  await using t = await setup({
    ...TREE,
    "escape": { symlink: "/placeholder" },
  });
  // The worktree's link leads out of it; the sandbox now holds a file there.
  await Deno.remove(join(t.root, "escape"));
  await Deno.symlink(join(t.outside, "keep.txt"), join(t.root, "escape"));
  t.sandbox.set("escape", "inside\n");
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  assert.ok((await t.lstat("escape"))?.isFile);
  assert.equal(await t.text("escape"), "inside\n");
  assert.equal(
    await Deno.readTextFile(join(t.outside, "keep.txt")),
    "outside\n",
  );
});

Deno.test("syncBack() makes a directory where the worktree has a symlink, never following it", async () => {
  await using t = await setup({ ...TREE, "data": { symlink: "/placeholder" } });
  await Deno.remove(join(t.root, "data"));
  await Deno.symlink(t.outside, join(t.root, "data"));
  t.sandbox.set("data/keep.txt", "mine\n");
  t.sandbox.set("data/more/x.txt", "x\n");
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  const info = await t.lstat("data");
  assert.ok(info?.isDirectory && !info.isSymlink);
  assert.equal(await t.text("data/keep.txt"), "mine\n");
  assert.equal(await t.text("data/more/x.txt"), "x\n");
  // The link's target outside the worktree is as it was.
  assert.equal(
    await Deno.readTextFile(join(t.outside, "keep.txt")),
    "outside\n",
  );
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(t.outside))).map((e) => e.name),
    ["keep.txt"],
  );
});

Deno.test("syncBack() replaces a symlink on the way to a file even when the engine does not list the directory", async () => {
  await using t = await setup({ ...TREE, "data": { symlink: "/placeholder" } });
  await Deno.remove(join(t.root, "data"));
  await Deno.symlink(t.outside, join(t.root, "data"));
  t.sandbox.set("data/keep.txt", "mine\n");
  // An engine that reports the file alone, not the directory above it.
  const changes = t.sandbox.changes.bind(t.sandbox);
  t.sandbox.changes = async () =>
    (await changes()).filter((c) => c.path === "/work/data/keep.txt");
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  const info = await t.lstat("data");
  assert.ok(info?.isDirectory && !info.isSymlink);
  assert.equal(await t.text("data/keep.txt"), "mine\n");
  assert.equal(
    await Deno.readTextFile(join(t.outside, "keep.txt")),
    "outside\n",
  );
});

Deno.test("syncBack() never removes through a symlink in the worktree", async () => {
  await using t = await setup({ ...TREE, "via/keep.txt": "in the image\n" });
  // The worktree has a link where the sandbox's image has a directory.
  await Deno.remove(join(t.root, "via"), { recursive: true });
  await Deno.symlink(t.outside, join(t.root, "via"));
  t.sandbox.remove("via/keep.txt");
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  assert.equal(
    await Deno.readTextFile(join(t.outside, "keep.txt")),
    "outside\n",
  );
});

Deno.test("syncBack() never writes .git, .ratchet or what the prepare step made", async () => {
  await using t = await setup();
  await Deno.mkdir(join(t.root, ".git"));
  await Deno.writeTextFile(join(t.root, ".git/HEAD"), "ref: refs/heads/x\n");
  t.sandbox.set(".git/HEAD", "ref: refs/heads/evil\n");
  t.sandbox.set(".git/hooks/pre-commit", { file: "#!/bin/sh\n", mode: 0o755 });
  t.sandbox.set(".ratchet/results.jsonl", "{}\n");
  t.sandbox.set("node_modules/pkg/index.js", "module.exports = 1\n");
  t.sandbox.set(".venv/bin/python", { symlink: "/usr/bin/python3" });
  t.sandbox.set("src/generated.js", "gen\n");
  t.sandbox.set("src/c.py", "c\n");
  await syncBack(t.sandbox, t.root, {
    preparedRoots: ["node_modules", ".venv", "src/generated.js"],
    maxFileBytes: MAX,
  });
  assert.equal(await t.text(".git/HEAD"), "ref: refs/heads/x\n");
  assert.equal(await t.lstat(".git/hooks"), null);
  assert.equal(await t.lstat(".ratchet"), null);
  assert.equal(await t.lstat("node_modules"), null);
  assert.equal(await t.lstat(".venv"), null);
  assert.equal(await t.lstat("src/generated.js"), null);
  assert.equal(await t.text("src/c.py"), "c\n");
});

Deno.test("syncBack() reports files over the cap and does not copy them", async () => {
  await using t = await setup();
  t.sandbox.set("src/a.py", "a".repeat(MAX + 1));
  t.sandbox.set("big/new.bin", new Uint8Array(MAX + 7));
  t.sandbox.set("big/small.txt", "ok\n");
  t.sandbox.set("exact.txt", "e".repeat(MAX));
  const result = await syncBack(t.sandbox, t.root, {
    preparedRoots: [],
    maxFileBytes: MAX,
  });
  assert.deepEqual(
    result.oversized.toSorted((a, b) => a.path < b.path ? -1 : 1),
    [
      { path: "big/new.bin", size: MAX + 7 },
      { path: "src/a.py", size: MAX + 1 },
    ],
  );
  assert.equal(await t.text("src/a.py"), "a = 1\n");
  assert.equal(await t.lstat("big/new.bin"), null);
  assert.equal(await t.text("big/small.txt"), "ok\n");
  assert.equal((await t.text("exact.txt")).length, MAX);
});

Deno.test("syncBack() skips special files the sandbox holds", async () => {
  await using t = await setup();
  t.sandbox.set("fifo", { fifo: true });
  t.sandbox.set("dir/fifo", { fifo: true });
  t.sandbox.set("dir/ok.txt", "ok\n");
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  assert.equal(await t.lstat("fifo"), null);
  assert.equal(await t.lstat("dir/fifo"), null);
  assert.equal(await t.text("dir/ok.txt"), "ok\n");
});

Deno.test("syncBack() with nothing changed writes nothing", async () => {
  await using t = await setup();
  const result = await syncBack(t.sandbox, t.root, {
    preparedRoots: [],
    maxFileBytes: MAX,
  });
  assert.deepEqual(result, { written: 0, removed: 0, oversized: [] });
  assert.deepEqual(t.sandbox.commands, []);
});

Deno.test("syncBack() keeps a symlink target that ends in a newline", async () => {
  await using t = await setup();
  t.sandbox.set("nl_link", { symlink: "a.py\n" });
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  assert.equal(await Deno.readLink(join(t.root, "nl_link")), "a.py\n");
});

Deno.test("syncBack() brings back thousands of symlinks in a new directory", async () => {
  await using t = await setup();
  const n = 3000;
  for (let i = 0; i < n; i++) {
    t.sandbox.set(
      `node_modules/.bin/some-long-package-command-name-${i}`,
      { symlink: `../some-long-package-name-${i}/bin/cli.js` },
    );
  }
  await syncBack(t.sandbox, t.root, { preparedRoots: [], maxFileBytes: MAX });
  for (const i of [0, 1234, n - 1]) {
    assert.equal(
      await Deno.readLink(
        join(t.root, `node_modules/.bin/some-long-package-command-name-${i}`),
      ),
      `../some-long-package-name-${i}/bin/cli.js`,
    );
  }
});
