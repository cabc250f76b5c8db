import assert from "node:assert/strict";
import { join } from "node:path";
import { makeRecord } from "../core/state.ts";
import { tempRepo } from "../../tests/_helpers/git_repo.ts";
import { restoreWorktree } from "./resume_worktree.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

const T = "2026-01-01T00:00:00.000Z";

/** A repo with a run branch checked out in `.ratchet/worktree`, and its kept commit. */
async function runRepo() {
  const repo = await tempRepo({ "value.txt": "10\n", ".gitignore": "out/\n" });
  const start = await repo.git("rev-parse", "HEAD");
  const worktree = join(repo.dir, ".ratchet", "worktree");
  await repo.git("worktree", "add", "-q", "-b", "ratchet/r1", worktree, start);
  const git = (...args: string[]) => repo.git("-C", worktree, ...args);
  await Deno.writeTextFile(join(worktree, "value.txt"), "20\n");
  await git("commit", "-q", "-am", "iteration 1 (kept)");
  const kept = await git("rev-parse", "HEAD");
  const records = [
    makeRecord({ run_id: "r1", iter: 0, decision: "baseline", timestamp: T }),
    makeRecord({
      run_id: "r1",
      iter: 1,
      decision: "improved",
      kept: true,
      sha: kept,
      trial_scores: [20],
      timestamp: T,
    }),
  ];
  return { repo, start, worktree, git, kept, records };
}

Deno.test("restoreWorktree() discards what an interrupted iteration left and returns to the incumbent", async () => {
  const { repo, start, worktree, git, kept, records } = await runRepo();
  await using _ = repo;
  // An iteration cut short: a commit without its record, then an edit, an
  // untracked file and an ignored build output on top.
  await Deno.writeTextFile(join(worktree, "value.txt"), "99\n");
  await git("commit", "-q", "-am", "iteration 2 (not recorded)");
  await Deno.writeTextFile(join(worktree, "value.txt"), "1000\n");
  await Deno.writeTextFile(join(worktree, "new.txt"), "left behind\n");
  await Deno.mkdir(join(worktree, "out"));
  await Deno.writeTextFile(join(worktree, "out", "build.o"), "x");

  const sha = await restoreWorktree({
    git: testGit,
    root: repo.dir,
    worktree,
    branch: "ratchet/r1",
    startSha: start,
    records,
    confidence: 0.95,
  });
  assert.equal(sha, kept);
  assert.equal(await git("rev-parse", "HEAD"), kept);
  assert.equal(await git("rev-parse", "ratchet/r1"), kept);
  assert.equal(await git("status", "--porcelain", "--ignored"), "");
  assert.equal(await Deno.readTextFile(join(worktree, "value.txt")), "20\n");
});

Deno.test("restoreWorktree() resets to the run's start when nothing was kept", async () => {
  const { repo, start, worktree, git, records } = await runRepo();
  await using _ = repo;
  const sha = await restoreWorktree({
    git: testGit,
    root: repo.dir,
    worktree,
    branch: "ratchet/r1",
    startSha: start,
    records: records.slice(0, 1),
    confidence: 0.95,
  });
  assert.equal(sha, start);
  assert.equal(await git("rev-parse", "HEAD"), start);
  assert.equal(await Deno.readTextFile(join(worktree, "value.txt")), "10\n");
});

Deno.test("restoreWorktree() attaches a missing worktree to the run's branch", async () => {
  const { repo, start, worktree, git, kept, records } = await runRepo();
  await using _ = repo;
  await Deno.remove(worktree, { recursive: true });
  const sha = await restoreWorktree({
    git: testGit,
    root: repo.dir,
    worktree,
    branch: "ratchet/r1",
    startSha: start,
    records,
    confidence: 0.95,
  });
  assert.equal(sha, kept);
  assert.equal(await git("rev-parse", "--abbrev-ref", "HEAD"), "ratchet/r1");
  assert.equal(await git("status", "--porcelain"), "");
});
