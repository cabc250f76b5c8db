/** `ratchet apply`: squash the run's kept changes onto the current branch. */
import type { CommandContext } from "../context.ts";
import { currentBranch, findRepoRoot } from "../../infra/git/repo.ts";
import { squashApply } from "../../infra/git/squash_apply.ts";
import { EnvironmentError } from "../../errors.ts";
import { fmtNum, fmtPct } from "../../ui/format.ts";
import { incumbentOf } from "../../core/incumbent.ts";
import { claimOf } from "../../core/confirm.ts";
import { guardsCell } from "../../ui/log_view.ts";
import {
  confirmationBasis,
  confirmationGuards,
  gainText,
} from "../../ui/claim.ts";

/** Run `ratchet apply`. */
export async function applyCommand(ctx: CommandContext): Promise<number> {
  const root = await findRepoRoot(ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError(`There is no run to apply in ${root}`, {
      hint: "Start one with `ratchet run`.",
    });
  }
  const records = await store.readRecords();
  const kept = records.filter((r) => r.iter > 0 && r.kept);
  const best = incumbentOf(records);
  const baseline = records[0]?.avg ?? null;
  const gain = best && baseline !== null && baseline !== 0
    ? (best.mean - baseline) / Math.abs(baseline)
    : null;
  const metric = String(run.config["metric-name"] ?? "metric");
  const claim = claimOf(
    await store.readConfirmation().catch(() => null),
    run.run_id,
    best?.sha ?? null,
  );
  const shown = claim?.result.gain ?? gain;
  const subject = `ratchet: ${metric} ${fmtNum(baseline)} → ${
    fmtNum(best?.mean)
  }${
    shown === null ? "" : ` (${fmtPct(shown)}${claim ? ", confirmed" : ""})`
  } in ${kept.length} change(s)`;
  const body = kept.map((r) =>
    `- iter ${r.iter}: ${r.description.split("\n")[0]} (effect ${
      gainText(r.effect, r.ci)
    }${r.p_value === null ? "" : `, p=${r.p_value.toPrecision(2)}`}${
      guardsCell(r) === "" ? "" : `; guards ${guardsCell(r)}`
    })`
  );
  const claimed = claim === null ? [] : [
    `Claimed gain: ${gainText(claim.result.gain, claim.result.ci)} (${
      confirmationBasis(claim)
    })`,
    ...(confirmationGuards(claim.result).length > 0
      ? [`Guards: ${confirmationGuards(claim.result).join(", ")}`]
      : []),
    "",
  ];
  const message = [
    subject,
    "",
    ...claimed,
    ...body,
    "",
    `Ratchet-Run: ${run.run_id} (branch ${run.branch})`,
    "",
  ].join("\n");
  const sha = await squashApply(root, run.branch, run.start_sha, message);
  if (sha === null) {
    ctx.output.err(
      `Nothing to apply: run ${run.run_id} kept no change, or its changes are already on this branch.`,
    );
    return 0;
  }
  const branch = await currentBranch(root);
  ctx.output.err(
    `Applied ${kept.length} kept change(s) of run ${run.run_id} as ${
      sha.slice(0, 12)
    } on ${branch ?? "the detached HEAD"}.`,
  );
  return 0;
}
