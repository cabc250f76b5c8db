import assert from "node:assert/strict";
import { join } from "node:path";
import { EnvironmentError, ExitCode } from "../../errors.ts";
import {
  tempDir,
  type TempRepo,
  tempRepo,
} from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { BRANCH, exists, runWorktree } from "./_test_helpers.ts";
import { commitCandidate, writeCandidateTree } from "./candidate.ts";
import { changedFiles, diffPatch } from "./diff.ts";
import { exportTree } from "./export_tree.ts";
import { gitContextFrom } from "./context.ts";
import { GitError, GitTimeoutError, runGit } from "./process.ts";
import { ensureExcluded } from "./repo.ts";
import { squashApply } from "./squash_apply.ts";
import { removeWorktree, resetWorktree } from "./worktree.ts";

async function plantHooks(dir: string, marker: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (
    const hook of [
      "pre-commit",
      "post-commit",
      "post-checkout",
      "post-merge",
      "post-rewrite",
      "reference-transaction",
      "post-index-change",
      "pre-auto-gc",
    ]
  ) {
    const path = join(dir, hook);
    await Deno.writeTextFile(path, `#!/bin/sh\necho ${hook} >> '${marker}'\n`);
    await Deno.chmod(path, 0o755);
  }
}

/** Everything ratchet does with git in a run and on apply. */
async function exerciseRun(repo: TempRepo): Promise<void> {
  await ensureExcluded(testGit, repo.dir, ".ratchet/");
  const { base, wt } = await runWorktree(repo);
  await Deno.writeTextFile(join(wt, "a.txt"), "kept\n");
  const tree = await writeCandidateTree(testGit, wt);
  const kept = await commitCandidate(testGit, wt, {
    tree,
    parent: base,
    message: "k",
  });
  await Deno.writeTextFile(join(wt, "a.txt"), "reverted\n");
  await writeCandidateTree(testGit, wt);
  await resetWorktree(testGit, wt, kept);
  await changedFiles(testGit, repo.dir, base, tree);
  await diffPatch(testGit, wt, base, tree);
  await exportTree(
    testGit,
    repo.dir,
    tree,
    join(repo.dir, ".ratchet", "tmp", "t1"),
  );
  await removeWorktree(testGit, repo.dir, wt);
  await squashApply(testGit, repo.dir, BRANCH, base, "apply");
}

for (const where of [".git/hooks", "core.hooksPath"]) {
  Deno.test(`git hooks never run (planted via ${where})`, async () => {
    await using repo = await tempRepo({ "a.txt": "a\n" });
    await using markers = await tempDir();
    const marker = join(markers.dir, "hooks-ran");
    if (where === ".git/hooks") {
      await plantHooks(join(repo.dir, ".git", "hooks"), marker);
    } else {
      const hooks = join(markers.dir, "hooks");
      await plantHooks(hooks, marker);
      await repo.git("config", "core.hooksPath", hooks);
    }
    // The planted hooks do fire for plain git, so their silence below counts.
    await repo.write({ "probe.txt": "p\n" });
    await repo.commit("probe");
    assert.match(await Deno.readTextFile(marker), /pre-commit/);
    await Deno.remove(marker);

    await exerciseRun(repo);
    assert.equal(await exists(marker), false, "a hook ran");
    assert.equal(await Deno.readTextFile(join(repo.dir, "a.txt")), "kept\n");
  });
}

Deno.test("runGit() throws GitError carrying git's stderr", async () => {
  await using repo = await tempRepo();
  await assert.rejects(
    runGit(testGit, repo.dir, ["rev-parse", "--verify", "no-such-ref"]),
    (error: unknown) => {
      assert.ok(error instanceof GitError);
      assert.equal(error.status, 128);
      assert.match(error.message, /no-such-ref|Needed a single revision/);
      assert.match(error.stderr, /fatal/);
      return true;
    },
  );
});

Deno.test("every git call is bounded: a hung git is killed and named, not waited on", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  // git blocks opening a FIFO nobody writes to: a real hang inside git.
  const fifo = join(repo.dir, "pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0);
  const started = performance.now();
  await assert.rejects(
    runGit(testGit, repo.dir, ["hash-object", "--no-filters", "pipe"], {
      timeoutMs: 500,
    }),
    (error: unknown) => {
      assert.ok(error instanceof GitTimeoutError);
      assert.equal(error.exitCode, ExitCode.environment);
      assert.match(
        error.message,
        /^git hash-object --no-filters pipe did not finish within 0\.5 s and was killed$/,
      );
      assert.match(error.hint ?? "", /RATCHET_GIT_TIMEOUT_SECONDS=SECONDS/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 5_000);
  // A call that answers in time is untouched by its limit.
  assert.equal(
    await runGit(testGit, repo.dir, ["rev-parse", "--is-inside-work-tree"], {
      timeoutMs: 30_000,
    }),
    "true",
  );
});

Deno.test("gitContextFrom() reads RATCHET_GIT_TIMEOUT_SECONDS and refuses nonsense", () => {
  assert.equal(gitContextFrom({}).timeoutMs, 300_000);
  assert.equal(
    gitContextFrom({ RATCHET_GIT_TIMEOUT_SECONDS: undefined }).timeoutMs,
    300_000,
  );
  assert.equal(
    gitContextFrom({ RATCHET_GIT_TIMEOUT_SECONDS: " " }).timeoutMs,
    300_000,
  );
  assert.equal(
    gitContextFrom({ RATCHET_GIT_TIMEOUT_SECONDS: "2.5" }).timeoutMs,
    2_500,
  );
  for (const bad of ["0", "-1", "soon"]) {
    assert.throws(
      () => gitContextFrom({ RATCHET_GIT_TIMEOUT_SECONDS: bad }),
      (e: unknown) =>
        e instanceof EnvironmentError &&
        e.exitCode === ExitCode.environment &&
        /RATCHET_GIT_TIMEOUT_SECONDS=.* is not a number of seconds/.test(
          e.message,
        ),
    );
  }
});

Deno.test("a git call's time limit is its context's", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  const fifo = join(repo.dir, "pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0);
  const git = gitContextFrom({
    ...Deno.env.toObject(),
    RATCHET_GIT_TIMEOUT_SECONDS: "0.5",
  });
  await assert.rejects(
    runGit(git, repo.dir, ["hash-object", "--no-filters", "pipe"]),
    (error: unknown) =>
      error instanceof GitTimeoutError && error.timeoutMs === 500,
  );
});

Deno.test("gitContextFrom() drops the variables that point git elsewhere, keeps the rest", () => {
  const pointing = {
    GIT_DIR: "/elsewhere/.git",
    GIT_WORK_TREE: "/elsewhere",
    GIT_INDEX_FILE: "/elsewhere/.git/index",
    GIT_COMMON_DIR: "/elsewhere/.git",
    GIT_OBJECT_DIRECTORY: "/elsewhere/.git/objects",
    GIT_ALTERNATE_OBJECT_DIRECTORIES: "/elsewhere/.git/objects",
    GIT_NAMESPACE: "ns",
    GIT_PREFIX: "sub/",
  };
  const git = gitContextFrom({
    ...pointing,
    HOME: "/home/someone",
    PATH: "/usr/bin:/bin",
    GIT_AUTHOR_NAME: "someone",
    UNSET: undefined,
  });
  assert.deepEqual(git.env, {
    HOME: "/home/someone",
    PATH: "/usr/bin:/bin",
    GIT_AUTHOR_NAME: "someone",
  });
});

Deno.test("a git call acts on its cwd even when the context's environment came with GIT_DIR set elsewhere", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  await using other = await tempRepo({ "b.txt": "b\n" });
  const git = gitContextFrom({
    ...Deno.env.toObject(),
    GIT_DIR: join(other.dir, ".git"),
    GIT_WORK_TREE: other.dir,
    GIT_INDEX_FILE: join(other.dir, ".git", "index"),
  });
  assert.equal(
    await runGit(git, repo.dir, ["rev-parse", "HEAD"]),
    await repo.git("rev-parse", "HEAD"),
  );
  assert.equal(await runGit(git, repo.dir, ["ls-files"]), "a.txt");
  assert.equal(
    await runGit(git, repo.dir, ["rev-parse", "--show-toplevel"]),
    await Deno.realPath(repo.dir),
  );
});
