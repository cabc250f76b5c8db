import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../../errors.ts";
import { tempDir, tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { BRANCH, keptRun, runWorktree } from "./_test_helpers.ts";
import { GitError } from "./process.ts";
import {
  currentBranch,
  ensureExcluded,
  findRepoRoot,
  headSha,
  isDirty,
  listBranchCommits,
} from "./repo.ts";

Deno.test("findRepoRoot() returns the top of the work tree from a subdirectory", async () => {
  await using repo = await tempRepo({ "src/deep/a.txt": "a\n" });
  const root = await findRepoRoot(testGit, join(repo.dir, "src", "deep"));
  assert.equal(await Deno.realPath(root), await Deno.realPath(repo.dir));
});

Deno.test("findRepoRoot() throws EnvironmentError (exit 3) outside a repository", async () => {
  await using dir = await tempDir();
  await assert.rejects(findRepoRoot(testGit, dir.dir), (error: unknown) => {
    assert.ok(error instanceof GitError === false);
    const e = error as { exitCode: number; message: string; hint: string };
    assert.equal(e.exitCode, ExitCode.environment);
    assert.match(e.message, /not inside a git repository/);
    assert.match(e.hint, /git init/);
    return true;
  });
});

Deno.test("headSha() throws EnvironmentError when the repository has no commit", async () => {
  await using repo = await tempRepo({ "a.txt": "a" }, { commit: false });
  await assert.rejects(headSha(testGit, repo.dir), (error: unknown) => {
    const e = error as { exitCode: number; message: string; hint: string };
    assert.equal(e.exitCode, ExitCode.environment);
    assert.match(e.message, /no commits yet/);
    assert.match(e.hint, /first commit/);
    return true;
  });
  const sha = await repo.commit("first");
  assert.equal(await headSha(testGit, repo.dir), sha);
});

Deno.test("currentBranch() returns the branch, or null on a detached HEAD", async () => {
  await using repo = await tempRepo();
  assert.equal(await currentBranch(testGit, repo.dir), "main");
  await repo.git("checkout", "-q", "-b", "ratchet/x");
  assert.equal(await currentBranch(testGit, repo.dir), "ratchet/x");
  await repo.git("checkout", "-q", "--detach");
  assert.equal(await currentBranch(testGit, repo.dir), null);
});

Deno.test("isDirty() sees staged, unstaged and untracked changes but not .ratchet/", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n", "b.txt": "b\n" });
  assert.equal(await isDirty(testGit, repo.dir), false);
  await repo.write({ ".ratchet/results.jsonl": "{}\n" });
  assert.equal(await isDirty(testGit, repo.dir), false);
  await repo.write({ "new.txt": "n\n" });
  assert.equal(await isDirty(testGit, repo.dir), true);
  assert.equal(await isDirty(testGit, repo.dir, { untracked: false }), false);
  await Deno.remove(join(repo.dir, "new.txt"));
  await repo.write({ "a.txt": "changed\n" });
  assert.equal(await isDirty(testGit, repo.dir, { untracked: false }), true);
  await repo.git("checkout", "--", "a.txt");
  await repo.write({ "b.txt": "staged\n" });
  await repo.git("add", "b.txt");
  await repo.write({ "b.txt": "b\n" });
  assert.equal(await isDirty(testGit, repo.dir, { untracked: false }), true);
});

Deno.test("ensureExcluded() appends the entry once, also from a linked worktree", async () => {
  await using repo = await tempRepo();
  const exclude = join(repo.dir, ".git", "info", "exclude");
  await Deno.mkdir(join(repo.dir, ".git", "info"), { recursive: true });
  await Deno.writeTextFile(exclude, "# existing\n*.log"); // no final newline
  assert.equal(await ensureExcluded(testGit, repo.dir, ".ratchet/"), true);
  assert.equal(await ensureExcluded(testGit, repo.dir, ".ratchet/"), false);
  assert.equal(
    await Deno.readTextFile(exclude),
    "# existing\n*.log\n.ratchet/\n",
  );
  await repo.write({ ".ratchet/x": "x" });
  assert.equal(await repo.git("status", "--porcelain"), "");

  const { wt } = await runWorktree(repo);
  assert.equal(await ensureExcluded(testGit, wt, "/.ratchet"), false);
  assert.equal(await ensureExcluded(testGit, wt, "build/"), true);
  assert.match(await Deno.readTextFile(exclude), /\nbuild\/\n$/);
});

Deno.test("listBranchCommits() lists the run's commits oldest first", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  const base = await keptRun(repo);
  const commits = await listBranchCommits(testGit, repo.dir, base, BRANCH);
  assert.equal(commits.length, 2);
  assert.equal(await repo.git("rev-parse", `${commits[0]}^`), base);
  assert.equal(commits[1], await repo.git("rev-parse", BRANCH));
  assert.deepEqual(
    await listBranchCommits(testGit, repo.dir, base, "main"),
    [],
  );
});
