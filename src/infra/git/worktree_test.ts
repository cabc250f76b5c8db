import assert from "node:assert/strict";
import { join } from "node:path";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import {
  BRANCH,
  exists,
  keptRun,
  runWorktree,
  snapshotFiles,
  userState,
  worktreeOf,
} from "./_test_helpers.ts";
import { commitCandidate, writeCandidateTree } from "./candidate.ts";
import { runGit } from "./process.ts";
import { currentBranch, ensureExcluded, headSha } from "./repo.ts";
import { createWorktree, removeWorktree, resetWorktree } from "./worktree.ts";

Deno.test("createWorktree() works from a detached HEAD and never moves it", async () => {
  await using repo = await tempRepo({ "a.txt": "1\n" });
  const first = await headSha(testGit, repo.dir);
  await repo.write({ "a.txt": "2\n" });
  const second = await repo.commit("second");
  await repo.git("checkout", "-q", "--detach", first);
  await ensureExcluded(testGit, repo.dir, ".ratchet/");
  const before = await userState(repo);

  const wt = worktreeOf(repo);
  await createWorktree(testGit, repo.dir, wt, BRANCH, second);
  assert.equal(await Deno.readTextFile(join(wt, "a.txt")), "2\n");
  assert.equal(await currentBranch(testGit, wt), BRANCH);
  assert.equal(await headSha(testGit, wt), second);
  const after = await userState(repo);
  assert.equal(after.head, first);
  assert.deepEqual({ ...after, branches: "" }, { ...before, branches: "" });
  assert.match(
    after.branches,
    new RegExp(`${second} commit\trefs/heads/${BRANCH}`),
  );
});

Deno.test("a run leaves a dirty checkout on another branch untouched through commit and revert", async () => {
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "b.txt": "b\n",
    "src/x.py": "x = 1\n",
  });
  const base = await headSha(testGit, repo.dir);
  await repo.git("checkout", "-q", "-b", "feature");
  await repo.write({ "c.txt": "c\n" });
  await repo.commit("feature work");
  await repo.write({ "a.txt": "unstaged edit\n", "b.txt": "staged edit\n" });
  await repo.git("add", "b.txt");
  await repo.write({
    "a.txt": "unstaged edit again\n",
    "u.txt": "untracked\n",
  });
  await ensureExcluded(testGit, repo.dir, ".ratchet/");
  const before = await userState(repo);

  const wt = worktreeOf(repo);
  await createWorktree(testGit, repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "src/x.py"), "x = 2\n");
  await Deno.writeTextFile(join(wt, "src/new.py"), "y = 1\n");
  const tree = await writeCandidateTree(testGit, wt);
  const kept = await commitCandidate(testGit, wt, {
    tree,
    parent: base,
    message: "kept",
  });

  await Deno.writeTextFile(join(wt, "a.txt"), "candidate\n");
  await Deno.mkdir(join(wt, "gen/deep"), { recursive: true });
  await Deno.writeTextFile(join(wt, "gen/deep/out.txt"), "junk\n");
  await writeCandidateTree(testGit, wt);
  await resetWorktree(testGit, wt, kept);

  const after = await userState(repo);
  assert.deepEqual(
    { ...after, branches: "" },
    { ...before, branches: "" },
  );
  assert.equal(
    after.branches.split("\n").filter((l) => !l.includes(BRANCH)).join("\n"),
    before.branches,
  );
  assert.equal(await repo.git("rev-parse", `refs/heads/${BRANCH}`), kept);
});

Deno.test("resetWorktree() restores the commit and removes untracked and ignored files the candidate added", async () => {
  await using repo = await tempRepo({
    ".gitignore": "build/\n",
    "a.txt": "a\n",
    "b.txt": "b\n",
  });
  const { base, wt } = await runWorktree(repo);
  const clean = await snapshotFiles(wt);
  await Deno.writeTextFile(join(wt, "a.txt"), "changed\n");
  await Deno.remove(join(wt, "b.txt"));
  await Deno.mkdir(join(wt, "newdir/sub"), { recursive: true });
  await Deno.writeTextFile(join(wt, "newdir/sub/x.txt"), "x\n");
  await Deno.mkdir(join(wt, "build"));
  await Deno.writeTextFile(join(wt, "build/out.o"), "o\n");
  await Deno.symlink("a.txt", join(wt, "link"));
  await writeCandidateTree(testGit, wt);

  await resetWorktree(testGit, wt, base);
  assert.deepEqual(await snapshotFiles(wt), clean);
  assert.equal(await exists(join(wt, "newdir")), false);
  assert.equal(await exists(join(wt, "build")), false);
  assert.equal(
    await runGit(testGit, wt, ["status", "--porcelain", "--ignored"]),
    "",
  );
  assert.equal(await headSha(testGit, wt), base);
});

Deno.test("removeWorktree() removes the worktree and keeps the branch", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  await keptRun(repo);
  const wt = worktreeOf(repo);
  await Deno.writeTextFile(join(wt, "untracked.txt"), "u\n");
  const tip = await repo.git("rev-parse", BRANCH);
  await removeWorktree(testGit, repo.dir, wt);
  assert.equal(await exists(wt), false);
  assert.equal(await repo.git("rev-parse", BRANCH), tip);
  assert.doesNotMatch(await repo.git("worktree", "list"), /\.ratchet/);
});

Deno.test("removeWorktree() drops the registration of a worktree whose directory is gone", async () => {
  await using repo = await tempRepo();
  const { wt } = await runWorktree(repo);
  await Deno.remove(wt, { recursive: true });
  await removeWorktree(testGit, repo.dir, wt);
  assert.doesNotMatch(await repo.git("worktree", "list"), /\.ratchet/);
  // The branch is free again: it can be checked out in a new worktree.
  await createWorktree(testGit, repo.dir, wt + "2", "ratchet/next", BRANCH);
  await repo.git("branch", "-D", BRANCH);
});
