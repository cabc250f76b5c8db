import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../../errors.ts";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import {
  BRANCH,
  exists,
  keptRun,
  runWorktree,
  userState,
} from "./_test_helpers.ts";
import { currentBranch, headSha, treeOf } from "./repo.ts";
import { squashApply } from "./squash_apply.ts";

Deno.test("squashApply() refuses a dirty tree and leaves it as it was", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  await repo.write({ "c.txt": "dirty\n" });
  const before = await userState(repo);
  await assert.rejects(
    squashApply(testGit, repo.dir, BRANCH, base, "apply"),
    (error: unknown) => {
      const e = error as { exitCode: number; message: string; hint: string };
      assert.equal(e.exitCode, ExitCode.environment);
      assert.match(e.message, /uncommitted changes/);
      assert.match(e.hint, /git stash/);
      return true;
    },
  );
  assert.deepEqual(await userState(repo), before);
});

Deno.test("squashApply() makes one commit with the run's changes on the current branch", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  await repo.write({ "untracked.txt": "mine\n" });
  const sha = await squashApply(
    testGit,
    repo.dir,
    BRANCH,
    base,
    "ratchet: 2 kept changes",
  );
  assert.ok(sha !== null);
  assert.equal(await repo.git("rev-parse", "main"), sha);
  assert.equal(await repo.git("rev-parse", "HEAD^"), base);
  assert.equal(
    await repo.git("log", "-1", "--format=%s"),
    "ratchet: 2 kept changes",
  );
  assert.equal(await repo.git("rev-list", "--count", `${base}..HEAD`), "1");
  assert.equal(
    await treeOf(testGit, repo.dir, sha),
    await treeOf(testGit, repo.dir, BRANCH),
  );
  assert.equal(await Deno.readTextFile(join(repo.dir, "src/b.py")), "b = 1\n");
  assert.equal(
    await Deno.readTextFile(join(repo.dir, "untracked.txt")),
    "mine\n",
  );
  assert.equal(
    await repo.git("status", "--porcelain", "--untracked-files=no"),
    "",
  );
  assert.equal(
    await squashApply(testGit, repo.dir, BRANCH, base, "again"),
    null,
  );
});

Deno.test("squashApply() applies only the run's diff after the branch moved on", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  // The user's branch is unrelated history holding src/a.py but not c.txt:
  // only base→tip is applied, not the difference between base and the branch.
  await repo.git("checkout", "-q", "--orphan", "other");
  await repo.git("rm", "-q", "--cached", "c.txt");
  await Deno.remove(join(repo.dir, "c.txt"));
  await repo.write({ "other.txt": "o\n" });
  const otherHead = await repo.commit("other root");
  const sha = await squashApply(testGit, repo.dir, BRANCH, base, "apply");
  assert.ok(sha !== null);
  assert.equal(await repo.git("rev-parse", "HEAD^"), otherHead);
  assert.deepEqual(
    (await repo.git("ls-tree", "-r", "--name-only", "HEAD")).split("\n"),
    ["other.txt", "src/a.py", "src/b.py"],
  );
  // c.txt (in the run's base, not on this branch) is not brought back.
  assert.equal(await Deno.readTextFile(join(repo.dir, "src/a.py")), "a = 2\n");
  assert.equal(await exists(join(repo.dir, "c.txt")), false);
  assert.equal(await currentBranch(testGit, repo.dir), "other");
});

Deno.test("squashApply() refuses a conflict and leaves the checkout as it was", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  const base = await keptRun(repo);
  await repo.write({ "src/a.py": "a = 3\n" });
  await repo.commit("user edit");
  const before = await userState(repo);
  await assert.rejects(
    squashApply(testGit, repo.dir, BRANCH, base, "apply"),
    (error: unknown) => {
      const e = error as { exitCode: number; message: string; hint: string };
      assert.equal(e.exitCode, ExitCode.environment);
      assert.match(e.message, /conflict.*src\/a\.py/);
      assert.match(e.hint, /git merge --squash/);
      return true;
    },
  );
  assert.deepEqual(await userState(repo), before);
});

Deno.test("squashApply() returns null when the run kept nothing", async () => {
  await using repo = await tempRepo();
  const { base } = await runWorktree(repo);
  assert.equal(
    await squashApply(testGit, repo.dir, BRANCH, base, "apply"),
    null,
  );
  assert.equal(await headSha(testGit, repo.dir), base);
});
