import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../../errors.ts";
import {
  tempDir,
  type TempRepo,
  tempRepo,
} from "../../../tests/_helpers/git_repo.ts";
import { BRANCH, exists, worktreeOf } from "./_test_helpers.ts";
import { commitCandidate, writeCandidateTree } from "./candidate.ts";
import { changedFiles, diffPatch } from "./diff.ts";
import { exportTree } from "./export_tree.ts";
import { GitError, GitTimeoutError, gitTimeoutMs, runGit } from "./process.ts";
import { ensureExcluded, headSha } from "./repo.ts";
import { squashApply } from "./squash_apply.ts";
import { createWorktree, removeWorktree, resetWorktree } from "./worktree.ts";

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
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await ensureExcluded(repo.dir, ".ratchet/");
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "a.txt"), "kept\n");
  const tree = await writeCandidateTree(wt);
  const kept = await commitCandidate(wt, { tree, parent: base, message: "k" });
  await Deno.writeTextFile(join(wt, "a.txt"), "reverted\n");
  await writeCandidateTree(wt);
  await resetWorktree(wt, kept);
  await changedFiles(repo.dir, base, tree);
  await diffPatch(wt, base, tree);
  await exportTree(repo.dir, tree, join(repo.dir, ".ratchet", "tmp", "t1"));
  await removeWorktree(repo.dir, wt);
  await squashApply(repo.dir, BRANCH, base, "apply");
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
    runGit(repo.dir, ["rev-parse", "--verify", "no-such-ref"]),
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
    runGit(repo.dir, ["hash-object", "--no-filters", "pipe"], {
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
    await runGit(repo.dir, ["rev-parse", "--is-inside-work-tree"], {
      timeoutMs: 30_000,
    }),
    "true",
  );
});

Deno.test("gitTimeoutMs() reads RATCHET_GIT_TIMEOUT_SECONDS and refuses nonsense", () => {
  assert.equal(gitTimeoutMs(() => undefined), 300_000);
  assert.equal(gitTimeoutMs(() => "2.5"), 2_500);
  for (const bad of ["0", "-1", "soon"]) {
    assert.throws(
      () => gitTimeoutMs(() => bad),
      (e: unknown) =>
        e instanceof Error &&
        /RATCHET_GIT_TIMEOUT_SECONDS=.* is not a number of seconds/.test(
          e.message,
        ),
    );
  }
});
