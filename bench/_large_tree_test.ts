import assert from "node:assert/strict";
import { join } from "node:path";
import {
  digestOfTree,
  LARGE_TREE_DEFAULTS,
  largeTreeLayout,
  largeTreeRepo,
  writeLargeTree,
} from "./_large_tree.ts";

async function tempDir(): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-large-tree-" });
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

/** Every file under `dir` (not .git) with its size. */
async function walk(dir: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const go = async (rel: string) => {
    for await (const e of Deno.readDir(join(dir, rel))) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        if (p !== ".git") await go(p);
      } else out.set(p, (await Deno.stat(join(dir, p))).size);
    }
  };
  await go("");
  return out;
}

/** gzip-compressed size of `data`. */
async function gzipSize(data: Uint8Array): Promise<number> {
  const stream = new Blob([data as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

Deno.test("the default large tree has at least 10,000 files and 300 MB of incompressible content, on disk as reported, and the same digest every time", async () => {
  await using a = await tempDir();
  const tree = await writeLargeTree(a.dir);
  const files = await walk(a.dir);
  assert.ok(files.size >= 10_000, `${files.size} files`);
  assert.equal(tree.files, files.size);
  const total = [...files.values()].reduce((x, y) => x + y, 0);
  assert.ok(total >= 300_000_000, `${total} bytes`);
  assert.equal(tree.bytes, total);
  assert.equal(tree.bytes, LARGE_TREE_DEFAULTS.bytes);
  // Nested directories, many small files and a few large ones.
  const dirs = new Set([...files.keys()].map((p) => p.replace(/\/[^/]+$/, "")));
  assert.ok(dirs.size >= 50, `${dirs.size} directories`);
  assert.ok(tree.largeFiles >= 1 && tree.largeFiles < tree.files / 100);
  // The digest is the files' (recomputed from disk).
  assert.equal(await digestOfTree(a.dir), tree.digest);
  // Incompressible: gzip gains under 1% on a large file and on a sample of
  // small ones (together, so the container overhead does not count).
  const paths = [...files.keys()];
  const large = paths.find((p) => p.startsWith("data/"))!;
  const sample = paths.filter((p) => p.startsWith("src/")).slice(0, 200);
  for (const group of [[large], sample]) {
    const parts = await Promise.all(
      group.map((p) => Deno.readFile(join(a.dir, p))),
    );
    const joined = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
    let at = 0;
    for (const p of parts) {
      joined.set(p, at);
      at += p.length;
    }
    const packed = await gzipSize(joined);
    assert.ok(
      packed > joined.length * 0.99,
      `${group.length} file(s): ${joined.length} bytes gzip to ${packed}`,
    );
  }
  // Deterministic: a second generation is byte for byte the same.
  await using b = await tempDir();
  const again = await writeLargeTree(b.dir);
  assert.deepEqual(again, tree);
  assert.equal(await digestOfTree(b.dir), tree.digest);
});

Deno.test("the large tree's layout follows its options: file count, exact total, a different seed gives different content", async () => {
  const layout = largeTreeLayout({ files: 300, bytes: 4_000_000 });
  assert.equal(layout.length, 300);
  assert.equal(layout.reduce((n, f) => n + f.size, 0), 4_000_000);
  assert.equal(new Set(layout.map((f) => f.path)).size, 300);
  assert.throws(
    () => largeTreeLayout({ files: 10_000, bytes: 1_000 }),
    /too little/,
  );
  await using a = await tempDir();
  await using b = await tempDir();
  const one = await writeLargeTree(a.dir, { files: 50, bytes: 600_000 });
  const two = await writeLargeTree(b.dir, {
    files: 50,
    bytes: 600_000,
    seed: 15,
  });
  assert.equal(one.bytes, 600_000);
  assert.notEqual(one.digest, two.digest);
});

Deno.test("largeTreeRepo commits the whole tree on main", async () => {
  await using a = await tempDir();
  const repo = await largeTreeRepo(a.dir, { files: 120, bytes: 2_000_000 });
  const git = async (...args: string[]) =>
    new TextDecoder().decode(
      (await new Deno.Command("git", { args, cwd: a.dir, stdout: "piped" })
        .output()).stdout,
    ).trim();
  assert.match(repo.sha, /^[0-9a-f]{40}$/);
  assert.equal(await git("rev-parse", "HEAD"), repo.sha);
  assert.equal(await git("branch", "--show-current"), "main");
  assert.equal((await git("ls-files")).split("\n").length, repo.files);
  assert.equal(await git("status", "--porcelain"), "");
});
