/**
 * The commit message `ratchet apply` gives the squashed change: the metric
 * from baseline to best, the claimed gain when confirmed, and one line per
 * kept change.
 */
import type { ApplyInput } from "../app/apply.ts";
import { confirmationBasis, confirmationGuards, gainText } from "./claim.ts";
import { fmtNum, fmtPct } from "./format.ts";
import { guardsCell } from "./log_view.ts";

/** The squash commit's message for `run`'s kept records. */
export function applyMessage(input: ApplyInput): string {
  const { run, records, best, claim } = input;
  const kept = records.filter((r) => r.iter > 0 && r.kept);
  const baseline = records[0]?.avg ?? null;
  const gain = best && baseline !== null && baseline !== 0
    ? (best.mean - baseline) / Math.abs(baseline)
    : null;
  const metric = String(run.config["metric-name"] ?? "metric");
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
  return [
    subject,
    "",
    ...claimed,
    ...body,
    "",
    `Ratchet-Run: ${run.run_id} (branch ${run.branch})`,
    "",
  ].join("\n");
}
