import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { tempRepo } from "../../tests/_helpers/git_repo.ts";
import {
  ContentReader,
  listSource,
  overlaySnapshot,
  type SourceEntry,
} from "./tree_source.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

/** path → "kind x size [-> target]" for compact comparisons. */
function table(entries: readonly SourceEntry[]): Record<string, string> {
  return Object.fromEntries(
    entries.map((e) => [
      e.path,
      `${e.kind}${e.executable ? " x" : ""} ${e.size}${
        e.linkTarget === undefined ? "" : ` -> ${e.linkTarget}`
      }`,
    ]),
  );
}

async function bytesOf(
  reader: ContentReader,
  entry: SourceEntry,
): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const chunk of reader.chunks(entry)) parts.push(chunk);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function sha(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** 3 MiB and a bit of bytes no compression or line logic could fake. */
function bigBytes(): Uint8Array {
  const big = new Uint8Array(3 * 1024 * 1024 + 12345);
  for (let i = 0; i < big.length; i += 65536) {
    crypto.getRandomValues(big.subarray(i, Math.min(big.length, i + 65536)));
  }
  // Newlines in the data must not confuse the blob reader.
  big.fill(10, 1000, 1100);
  return big;
}

const NEWLINE_NAME = "weird\nname ü.txt";

Deno.test("listSource() lists a git tree with modes, symlinks and nested directories", async () => {
  await using repo = await tempRepo({
    "src/a.py": "a = 1\n",
    "a/b/c/d.txt": "deep\n",
    "empty.txt": "",
    [NEWLINE_NAME]: "w\n",
    ".ratchet/tracked": "never part of a tree\n",
  });
  await Deno.writeTextFile(join(repo.dir, "run.sh"), "#!/bin/sh\n");
  await Deno.chmod(join(repo.dir, "run.sh"), 0o755);
  await Deno.mkdir(join(repo.dir, "lib"));
  await Deno.symlink("../src/a.py", join(repo.dir, "lib/link"));
  await Deno.symlink("a/b", join(repo.dir, "dirlink"));
  await Deno.symlink("/etc/passwd", join(repo.dir, "abs"));
  const head = await repo.commit("more");
  const listing = await listSource(testGit, {
    kind: "git",
    root: repo.dir,
    treeish: head,
  });
  assert.equal(listing.identity, await repo.git("rev-parse", "HEAD^{tree}"));
  assert.deepEqual(table(listing.entries), {
    "a": "dir 0",
    "a/b": "dir 0",
    "a/b/c": "dir 0",
    "a/b/c/d.txt": "file 5",
    "abs": "symlink 0 -> /etc/passwd",
    "dirlink": "symlink 0 -> a/b",
    "empty.txt": "file 0",
    "lib": "dir 0",
    "lib/link": "symlink 0 -> ../src/a.py",
    "run.sh": "file x 10",
    "src": "dir 0",
    "src/a.py": "file 6",
    [NEWLINE_NAME]: "file 2",
  });
  // The same tree by its tree id.
  const again = await listSource(testGit, {
    kind: "git",
    root: repo.dir,
    treeish: listing.identity,
  });
  assert.deepEqual(again, listing);
});

Deno.test("listSource() lists a submodule as an empty directory", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  const head = await repo.git("rev-parse", "HEAD");
  await repo.git(
    "update-index",
    "--add",
    "--cacheinfo",
    `160000,${head},vendor/sub`,
  );
  await repo.git("commit", "-q", "-m", "gitlink");
  const listing = await listSource(testGit, {
    kind: "git",
    root: repo.dir,
    treeish: "HEAD",
  });
  assert.deepEqual(table(listing.entries), {
    "a.txt": "file 2",
    "vendor": "dir 0",
    "vendor/sub": "dir 0",
  });
});

Deno.test("ContentReader streams git blobs byte-exact, one after another", async () => {
  await using repo = await tempRepo({ "small.txt": "small\n" });
  const big = bigBytes();
  await Deno.writeFile(join(repo.dir, "big.bin"), big);
  await Deno.writeTextFile(join(repo.dir, "empty"), "");
  await Deno.writeTextFile(join(repo.dir, "last.txt"), "no newline at end");
  await repo.commit("big");
  const { entries } = await listSource(testGit, {
    kind: "git",
    root: repo.dir,
    treeish: "HEAD",
  });
  const byPath = new Map(entries.map((e) => [e.path, e]));
  {
    await using reader = new ContentReader(testGit);
    // In the order a tar is written, twice over (one process serves all).
    for (let round = 0; round < 2; round++) {
      assert.equal(
        sha(await bytesOf(reader, byPath.get("big.bin")!)),
        sha(big),
      );
      assert.deepEqual(
        await bytesOf(reader, byPath.get("empty")!),
        new Uint8Array(),
      );
      assert.equal(
        new TextDecoder().decode(
          await bytesOf(reader, byPath.get("last.txt")!),
        ),
        "no newline at end",
      );
      assert.equal(
        new TextDecoder().decode(
          await bytesOf(reader, byPath.get("small.txt")!),
        ),
        "small\n",
      );
    }
    assert.equal(byPath.get("big.bin")!.size, big.length);
  }
});

Deno.test("listSource() lists a directory without its top-level .git and .ratchet", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-src-" });
  try {
    const write = async (rel: string, text: string) => {
      await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, rel), text);
    };
    await write("src/a.py", "a\n");
    await write(".git/HEAD", "ref\n");
    await write(".ratchet/runs/x", "state\n");
    await write("vendor/.git/HEAD", "nested git dirs are the tree's\n");
    await write(".hidden", "h\n");
    await write("run.sh", "#!/bin/sh\n");
    await Deno.chmod(join(dir, "run.sh"), 0o750);
    await Deno.symlink("src/a.py", join(dir, "link"));
    await Deno.symlink("missing", join(dir, "dangling"));
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(dir, "fifo")],
    }).output();
    assert.ok(fifo.success);
    const listing = await listSource(testGit, { kind: "dir", dir });
    assert.deepEqual(table(listing.entries), {
      ".hidden": "file 2",
      "dangling": "symlink 0 -> missing",
      "link": "symlink 0 -> src/a.py",
      "run.sh": "file x 10",
      "src": "dir 0",
      "src/a.py": "file 2",
      "vendor": "dir 0",
      "vendor/.git": "dir 0",
      "vendor/.git/HEAD": "file 31",
    });
    assert.match(listing.identity, /^dir-[0-9a-f]{40}$/);
    assert.equal(
      (await listSource(testGit, { kind: "dir", dir })).identity,
      listing.identity,
    );
    await using reader = new ContentReader(testGit);
    const a = listing.entries.find((e) => e.path === "src/a.py")!;
    assert.equal(new TextDecoder().decode(await bytesOf(reader, a)), "a\n");
    // Another content, another identity.
    await Deno.writeTextFile(join(dir, "src/a.py"), "a = 2\n");
    assert.notEqual(
      (await listSource(testGit, { kind: "dir", dir })).identity,
      listing.identity,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ContentReader streams a big file of a directory byte-exact", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-src-" });
  try {
    const big = bigBytes();
    await Deno.writeFile(join(dir, "big.bin"), big);
    const { entries } = await listSource(testGit, { kind: "dir", dir });
    await using reader = new ContentReader(testGit);
    assert.equal(sha(await bytesOf(reader, entries[0]!)), sha(big));
    // A directory or link has no contents.
    assert.deepEqual(
      await bytesOf(reader, {
        path: "d",
        kind: "dir",
        executable: false,
        size: 0,
      }),
      new Uint8Array(),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("overlaySnapshot() lays the pinned harness over a tree", async () => {
  const snap = await Deno.makeTempDir({ prefix: "ratchet-snap-" });
  try {
    await Deno.mkdir(join(snap, "tests"));
    await Deno.writeTextFile(join(snap, "tests/test_a.py"), "pinned\n");
    await Deno.writeTextFile(join(snap, "score.sh"), "pinned score\n");
    await Deno.mkdir(join(snap, "eval"));
    await Deno.writeTextFile(join(snap, "eval/gold.txt"), "gold\n");
    const file = (path: string, size = 1): SourceEntry => ({
      path,
      kind: "file",
      executable: false,
      size,
    });
    const dir = (path: string): SourceEntry => ({
      path,
      kind: "dir",
      executable: false,
      size: 0,
    });
    const tree: SourceEntry[] = [
      dir("src"),
      file("src/a.py"),
      dir("tests"),
      // The candidate edited the harness and added a file next to it.
      file("tests/test_a.py", 99),
      file("tests/extra_test.py"),
      // It made a directory where the harness has a file.
      dir("score.sh"),
      file("score.sh/inner"),
      // And deleted eval/ altogether.
    ];
    const out = await overlaySnapshot(tree, snap);
    assert.deepEqual(table(out), {
      "src": "dir 0",
      "src/a.py": "file 1",
      "tests": "dir 0",
      "tests/test_a.py": "file 7",
      "tests/extra_test.py": "file 1",
      "score.sh": "file 13",
      "eval": "dir 0",
      "eval/gold.txt": "file 5",
    });
    // The harness files are read from the snapshot.
    await using reader = new ContentReader(testGit);
    const pinned = out.find((e) => e.path === "tests/test_a.py")!;
    assert.equal(
      new TextDecoder().decode(await bytesOf(reader, pinned)),
      "pinned\n",
    );
    // The input is not changed.
    assert.equal(tree.length, 7);
    // No snapshot (or an empty one): the tree as it is.
    assert.deepEqual(await overlaySnapshot(tree, join(snap, "missing")), tree);
    const empty = await Deno.makeTempDir();
    assert.deepEqual(await overlaySnapshot(tree, empty), tree);
    await Deno.remove(empty);
  } finally {
    await Deno.remove(snap, { recursive: true });
  }
});

Deno.test("listSource() lists a git checkout as git would commit it, named by HEAD's tree while it is clean", async () => {
  await using repo = await tempRepo({
    ".gitignore": "node_modules/\n*.log\n",
    "src/a.py": "a\n",
    "sub/b.py": "b\n",
  });
  await Deno.mkdir(join(repo.dir, "node_modules/x"), { recursive: true });
  await Deno.writeTextFile(join(repo.dir, "node_modules/x/i.js"), "dep\n");
  await Deno.writeTextFile(join(repo.dir, "debug.log"), "noise\n");
  const head = await repo.git("rev-parse", "HEAD^{tree}");
  const clean = await listSource(testGit, { kind: "dir", dir: repo.dir });
  // Ignored files are not part of it; the identity is the commit's tree.
  assert.deepEqual(Object.keys(table(clean.entries)).sort(), [
    ".gitignore",
    "src",
    "src/a.py",
    "sub",
    "sub/b.py",
  ]);
  assert.equal(clean.identity, head);
  // A project inside the repository: named by its own subtree.
  const sub = await listSource(testGit, {
    kind: "dir",
    dir: join(repo.dir, "sub"),
  });
  assert.deepEqual(Object.keys(table(sub.entries)), ["b.py"]);
  assert.equal(sub.identity, await repo.git("rev-parse", "HEAD:sub"));
  // An uncommitted change and a new file are part of it, and no longer
  // the commit's tree.
  await Deno.writeTextFile(join(repo.dir, "src/a.py"), "a = 2\n");
  await Deno.writeTextFile(join(repo.dir, "new.py"), "n\n");
  const dirty = await listSource(testGit, { kind: "dir", dir: repo.dir });
  assert.ok(dirty.entries.some((e) => e.path === "new.py"));
  assert.match(dirty.identity, /^dir-[0-9a-f]{40}$/);
  await using reader = new ContentReader(testGit);
  const a = dirty.entries.find((e) => e.path === "src/a.py")!;
  assert.equal(new TextDecoder().decode(await bytesOf(reader, a)), "a = 2\n");
});
