import assert from "node:assert/strict";
import { join } from "node:path";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { BRANCH, runWorktree, worktreeOf } from "./_test_helpers.ts";
import {
  commitCandidate,
  stageCandidate,
  writeCandidateTree,
} from "./candidate.ts";
import { changedFiles } from "./diff.ts";
import { GitError, runGit } from "./process.ts";
import { treeOf } from "./repo.ts";
import { createWorktree } from "./worktree.ts";

Deno.test("commitCandidate() commits as ratchet, advances the run branch and syncs the index", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  const { base, wt } = await runWorktree(repo);
  await Deno.writeTextFile(join(wt, "a.txt"), "b\n");
  const tree = await writeCandidateTree(testGit, wt);
  const message = "Speed up parsing\n\nhypothesis: fewer allocations\np=0.01";
  const sha = await commitCandidate(testGit, wt, {
    tree,
    parent: base,
    message,
  });

  const wtGit = (...args: string[]) => runGit(testGit, wt, args);
  assert.equal(
    await wtGit("log", "-1", "--format=%an <%ae>|%cn <%ce>"),
    "ratchet <ratchet@localhost>|ratchet <ratchet@localhost>",
  );
  assert.equal(await wtGit("log", "-1", "--format=%B"), `${message}\n`);
  assert.equal(await wtGit("rev-parse", "HEAD"), sha);
  assert.equal(await wtGit("rev-parse", `refs/heads/${BRANCH}`), sha);
  assert.equal(await wtGit("rev-parse", "HEAD^"), base);
  assert.equal(await treeOf(testGit, wt, sha), tree);
  assert.equal(await wtGit("status", "--porcelain"), "");
  // The parent check refuses to move a branch that is not where the caller thinks.
  await assert.rejects(
    commitCandidate(testGit, wt, { tree, parent: base, message: "again" }),
    GitError,
  );
});

Deno.test("writeCandidateTree() includes untracked files and deletions", async () => {
  await using repo = await tempRepo({ "keep.txt": "k\n", "gone.txt": "g\n" });
  const { wt } = await runWorktree(repo);
  await Deno.remove(join(wt, "gone.txt"));
  await Deno.mkdir(join(wt, "new/dir"), { recursive: true });
  await Deno.writeTextFile(join(wt, "new/dir/file.txt"), "n\n");
  const tree = await writeCandidateTree(testGit, wt);
  const listing = await runGit(testGit, repo.dir, [
    "ls-tree",
    "-r",
    "--name-only",
    tree,
  ]);
  assert.deepEqual(listing.split("\n"), ["keep.txt", "new/dir/file.txt"]);
  // The user's index is not the one that was written.
  assert.equal(await repo.git("ls-files"), "gone.txt\nkeep.txt");
});

Deno.test("stageCandidate() leaves files above the cap out of the tree unread, and lists them", async () => {
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "data/tracked.bin": "small\n",
    ".gitignore": "build/\n",
  });
  const { base, wt } = await runWorktree(repo);
  const sparse = async (path: string, size: number) => {
    await Deno.mkdir(join(wt, path, ".."), { recursive: true });
    const f = await Deno.open(join(wt, path), { create: true, write: true });
    await f.truncate(size);
    f.close();
  };
  // A new 1 TB file, a tracked file grown past the cap, an ignored one
  // (never added), and a small new file that must still be staged.
  await sparse("huge.bin", 1024 ** 4);
  await sparse("data/tracked.bin", 2 * 1024 ** 2);
  await sparse("build/out.bin", 1024 ** 3);
  await sparse("odd name ':(glob)*.bin", 3 * 1024 ** 2);
  await Deno.writeTextFile(join(wt, "a.txt"), "a2\n");
  await Deno.writeTextFile(join(wt, "new.txt"), "n\n");
  const started = performance.now();
  const staged = await stageCandidate(testGit, wt, 1024 ** 2);
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(staged.oversized, [
    { path: "data/tracked.bin", size: 2 * 1024 ** 2 },
    { path: "huge.bin", size: 1024 ** 4 },
    { path: "odd name ':(glob)*.bin", size: 3 * 1024 ** 2 },
  ]);
  // Hashing a terabyte would take hours: nothing was read.
  assert.ok(seconds < 10, `${seconds} s`);
  const listing = await runGit(testGit, repo.dir, [
    "ls-tree",
    "-r",
    "-l",
    staged.tree,
  ]);
  assert.doesNotMatch(listing, /huge\.bin|odd name|build/);
  assert.match(listing, /\s6\tdata\/tracked\.bin$/m); // the old content
  assert.match(listing, /\tnew\.txt$/m);
  const changes = await changedFiles(testGit, repo.dir, base, staged.tree);
  assert.deepEqual(changes.map((c) => [c.path, c.size]), [
    ["a.txt", 3],
    ["new.txt", 2],
  ]);
  // Without a cap everything small is staged as before.
  await Deno.remove(join(wt, "huge.bin"));
  await Deno.remove(join(wt, "data/tracked.bin"));
  await Deno.remove(join(wt, "odd name ':(glob)*.bin"));
  const plain = await stageCandidate(testGit, wt, null);
  assert.deepEqual(plain.oversized, []);
  assert.equal(plain.tree, await writeCandidateTree(testGit, wt));
});

Deno.test("stageCandidate() leaves a big tracked file that was only touched to git", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  // The repository's own 2 MiB file, committed.
  await Deno.writeFile(
    join(repo.dir, "data.bin"),
    new Uint8Array(2 * 1024 ** 2).fill(7),
  );
  const base = await repo.commit("data");
  const wt = worktreeOf(repo);
  await createWorktree(testGit, repo.dir, wt, BRANCH, base);
  const later = new Date(Date.now() + 5_000);
  await Deno.utime(join(wt, "data.bin"), later, later);
  const touched = await stageCandidate(testGit, wt, 1024 ** 2);
  assert.deepEqual(touched.oversized, []);
  assert.deepEqual(
    await changedFiles(testGit, repo.dir, base, touched.tree),
    [],
  );
  // Same size, new content: git reads it, and the diff shows its size.
  await Deno.writeFile(
    join(wt, "data.bin"),
    new Uint8Array(2 * 1024 ** 2).fill(8),
  );
  const changed = await stageCandidate(testGit, wt, 1024 ** 2);
  assert.deepEqual(changed.oversized, []);
  assert.deepEqual(
    (await changedFiles(testGit, repo.dir, base, changed.tree)).map((c) =>
      c.size
    ),
    [2 * 1024 ** 2],
  );
  // Grown past its committed size: left out unread.
  const f = await Deno.open(join(wt, "data.bin"), { write: true });
  await f.truncate(3 * 1024 ** 2);
  f.close();
  assert.deepEqual((await stageCandidate(testGit, wt, 1024 ** 2)).oversized, [
    { path: "data.bin", size: 3 * 1024 ** 2 },
  ]);
});
