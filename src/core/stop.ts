/**
 * When a run stops (spec section 7's stop reasons that depend on the
 * records). Pure: the run loop asks after every record.
 */
import { incumbentOf } from "./incumbent.ts";
import type { IterationRecord, StopReason } from "./state.ts";

/** The configuration the stop conditions read. */
export interface StopParams {
  /** `--iterations`: the last record's iter at which the run ends. */
  iterations: number;
  threshold: number | null;
  direction: "max" | "min";
  /** 0 = off. */
  patience: number;
  maxConsecutiveCrashes: number;
  /** For the incumbent's interval; defaults to 0.95. */
  confidence?: number;
  /**
   * The last iteration recorded when a finished run was extended (`resume`
   * with new limits): patience and consecutive crashes count only the
   * iterations after it, so the condition that ended the run does not end
   * the extension at once. 0 (the default) counts every proposal.
   */
  since?: number;
}

/** Money spent so far and the cap (0 = no cap). */
export interface Spend {
  costUsd: number;
  maxCostUsd: number;
}

/**
 * Why the run should stop after these records, or null to go on.
 *
 * - `threshold`: the incumbent's mean ({@linkcode incumbentOf}) reached the
 *   threshold (≥ for max, ≤ for min); checked after iteration 0 too;
 * - `crashes`: the last `maxConsecutiveCrashes` iterations all `crashed`;
 * - `patience`: the last `patience` iterations after the baseline were all
 *   not `improved`;
 * - `cost`: the spend reached `maxCostUsd` (the agent also stops before a
 *   call that would exceed it);
 * - `iterations`: the last record is iteration `iterations`.
 *
 * When several hold, the first in that order is reported: reaching the goal
 * says the most, then what went wrong, then the plain cap.
 */
export function stopReason(
  records: readonly IterationRecord[],
  params: StopParams,
  spend: Spend,
): StopReason | null {
  if (records.length === 0) return null;
  if (params.threshold !== null) {
    const inc = incumbentOf(
      records,
      params.confidence === undefined ? {} : { confidence: params.confidence },
    );
    if (inc !== null) {
      const reached = params.direction === "max"
        ? inc.mean >= params.threshold
        : inc.mean <= params.threshold;
      if (reached) return "threshold";
    }
  }
  const since = params.since ?? 0;
  const proposals = records.filter((r) => r.iter >= 1 && r.iter > since);
  const lastN = (n: number) =>
    n > 0 && proposals.length >= n ? proposals.slice(-n) : null;
  const crashed = lastN(params.maxConsecutiveCrashes);
  if (crashed !== null && crashed.every((r) => r.decision === "crashed")) {
    return "crashes";
  }
  const waited = lastN(params.patience);
  if (waited !== null && waited.every((r) => r.decision !== "improved")) {
    return "patience";
  }
  if (spend.maxCostUsd > 0 && spend.costUsd >= spend.maxCostUsd) return "cost";
  const last = records[records.length - 1]!;
  if (last.iter >= params.iterations) return "iterations";
  return null;
}
