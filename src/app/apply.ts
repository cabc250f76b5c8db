/** `apply`: squash the run's kept changes onto the checkout's branch. */
import {
  claimOf,
  type Confirmation,
  type ConfirmResult,
} from "../core/confirm.ts";
import type { IterationRecord } from "../core/state.ts";
import type { RunFile } from "../infra/store/store.ts";
import { type Incumbent, incumbentOf } from "../core/incumbent.ts";
import { EnvironmentError } from "../errors.ts";
import { currentBranch, findRepoRoot } from "../infra/git/repo.ts";
import { squashApply } from "../infra/git/squash_apply.ts";
import type { AppContext } from "./context.ts";

/** What the squash commit's message is written from. */
export interface ApplyInput {
  run: RunFile;
  records: readonly IterationRecord[];
  best: Incumbent | null;
  claim: (Confirmation & { result: ConfirmResult }) | null;
}

/** What `apply` did: nothing to apply, or the commit it made and where. */
export type Applied =
  | { kind: "nothing"; runId: string }
  | {
    kind: "applied";
    runId: string;
    kept: number;
    sha: string;
    /** The branch it landed on; null on a detached HEAD. */
    branch: string | null;
  };

/** Apply the run of the repository around `ctx.cwd`; exit 3 without one. */
export async function applyRun(
  ctx: AppContext,
  messageOf: (input: ApplyInput) => string,
): Promise<Applied> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError(`There is no run to apply in ${root}`, {
      hint: "Start one with `ratchet run`.",
    });
  }
  const records = await store.readRecords();
  const best = incumbentOf(records);
  const claim = claimOf(
    await store.readConfirmation().catch(() => null),
    run.run_id,
    best?.sha ?? null,
  );
  const message = messageOf({ run, records, best, claim });
  const sha = await squashApply(
    ctx.deps.git,
    root,
    run.branch,
    run.start_sha,
    message,
  );
  if (sha === null) return { kind: "nothing", runId: run.run_id };
  return {
    kind: "applied",
    runId: run.run_id,
    kept: records.filter((r) => r.iter > 0 && r.kept).length,
    sha,
    branch: await currentBranch(ctx.deps.git, root),
  };
}
