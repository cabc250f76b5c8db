import assert from "node:assert/strict";
import { join } from "node:path";
import {
  copyCheckout,
  materialize,
  ownerOf,
  parseOwner,
  removeTree,
  tmpRootOf,
} from "./materialize.ts";

async function checkout(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-mat-" });
  const write = async (path: string, content: string) => {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), content);
  };
  await write("a.txt", "a");
  await write("src/run.sh", "#!/bin/sh\n");
  await Deno.chmod(join(dir, "src/run.sh"), 0o755);
  await write(".git/HEAD", "ref: refs/heads/main\n");
  await write(".ratchet/tmp/old/x", "stale");
  await write("sub/.git", "gitdir: elsewhere\n");
  await write(".hidden", "h");
  await Deno.symlink("a.txt", join(dir, "link"));
  return dir;
}

Deno.test("materialize() copies a checkout without .git and .ratchet into .ratchet/tmp, and removes it", async () => {
  const dir = await checkout();
  try {
    const m = await materialize({ kind: "dir", dir }, {
      tmpRoot: tmpRootOf(dir),
      label: "i0-t1",
      owner: null,
    });
    assert.ok(m.dir.startsWith(join(dir, ".ratchet", "tmp", "i0-t1-")));
    const names = (await Array.fromAsync(Deno.readDir(m.tree))).map((e) =>
      e.name
    ).sort();
    assert.deepEqual(names, [".hidden", "a.txt", "link", "src", "sub"]);
    assert.equal(await Deno.readLink(join(m.tree, "link")), "a.txt");
    assert.equal(
      (await Deno.stat(join(m.tree, "src/run.sh"))).mode! & 0o777,
      0o755,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(m.ctl)), []);
    await Deno.writeTextFile(join(m.tree, "new.txt"), "trial output");
    await m.remove();
    await m.remove();
    assert.equal(await Deno.stat(m.dir).catch(() => null), null);
    // The source is untouched.
    assert.equal(await Deno.stat(join(dir, "new.txt")).catch(() => null), null);
    assert.equal(
      await Deno.readTextFile(join(dir, ".ratchet/tmp/old/x")),
      "stale",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("materialize() gives each trial its own directory", async () => {
  const dir = await checkout();
  try {
    await using a = await materialize({ kind: "dir", dir }, {
      tmpRoot: tmpRootOf(dir),
      label: "t",
      owner: null,
    });
    await using b = await materialize({ kind: "dir", dir }, {
      tmpRoot: tmpRootOf(dir),
      label: "t",
      owner: null,
    });
    assert.notEqual(a.dir, b.dir);
    await Deno.writeTextFile(join(a.tree, "a.txt"), "changed");
    assert.equal(await Deno.readTextFile(join(b.tree, "a.txt")), "a");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("materialize() exports a git source through the given exportTree", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const calls: string[][] = [];
    const m = await materialize({
      kind: "git",
      root: "/repo",
      treeish: "abc123",
      exportTree: async (root, treeish, dest) => {
        calls.push([root, treeish, dest]);
        await Deno.writeTextFile(join(dest, "f.txt"), "from git");
      },
    }, { tmpRoot: join(dir, "tmp"), label: "x", owner: null });
    assert.deepEqual(calls, [["/repo", "abc123", m.tree]]);
    assert.equal(await Deno.readTextFile(join(m.tree, "f.txt")), "from git");
    await m.remove();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("materialize() removes its directory when the export fails", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await assert.rejects(
      materialize({
        kind: "git",
        root: "/repo",
        treeish: "bad",
        exportTree: () => Promise.reject(new Error("no such tree")),
      }, { tmpRoot: join(dir, "tmp"), label: "x", owner: null }),
      /no such tree/,
    );
    assert.deepEqual(await Array.fromAsync(Deno.readDir(join(dir, "tmp"))), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  name:
    "materialize() as root chowns the copy and control dir to the trial user",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await checkout();
    try {
      await using m = await materialize({ kind: "dir", dir }, {
        tmpRoot: tmpRootOf(dir),
        label: "own",
        owner: { uid: 4321, gid: 4322 },
      });
      for (
        const p of [
          m.tree,
          join(m.tree, "a.txt"),
          join(m.tree, "src/run.sh"),
          join(m.tree, "link"),
          m.ctl,
        ]
      ) {
        const info = await Deno.lstat(p);
        assert.equal(`${info.uid}:${info.gid}`, "4321:4322", p);
      }
      // The checkout itself keeps its owner.
      assert.equal((await Deno.lstat(join(dir, "a.txt"))).uid, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("removeTree() removes directories a trial locked with chmod 000", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(join(dir, "locked/inner"), { recursive: true });
  await Deno.writeTextFile(join(dir, "locked/inner/f"), "x");
  await Deno.chmod(join(dir, "locked/inner"), 0o000);
  await Deno.chmod(join(dir, "locked"), 0o000);
  await removeTree(dir);
  assert.equal(await Deno.stat(dir).catch(() => null), null);
  await removeTree(dir);
});

Deno.test("copyCheckout() copies nothing when only excluded names exist", async () => {
  const from = await Deno.makeTempDir();
  const to = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(from, ".git"));
    await copyCheckout(from, to);
    assert.deepEqual(await Array.fromAsync(Deno.readDir(to)), []);
  } finally {
    await Deno.remove(from, { recursive: true });
    await Deno.remove(to, { recursive: true });
  }
});

Deno.test("parseOwner() and ownerOf() use numeric uid:gid", async () => {
  assert.deepEqual(parseOwner("4321:99"), { uid: 4321, gid: 99 });
  assert.equal(parseOwner("root"), null);
  assert.equal(parseOwner("1:"), null);
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await ownerOf(dir), `${Deno.uid()}:${Deno.gid()}`);
  } finally {
    await Deno.remove(dir);
  }
});
