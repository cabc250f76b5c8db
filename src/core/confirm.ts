/**
 * The end-of-run confirmation (issue 16, item 18): when the loop stops,
 * the baseline commit and the final incumbent are measured interleaved
 * (A B A B …, as a decision measures), and that comparison is the run's
 * claimed gain.
 *
 * Why: every decision compares a candidate with the incumbent measured
 * beside it, so each keep is sound; but the gain a run reports is a
 * comparison across hours, the baseline measured at the start and the
 * incumbent at the end. A machine that drifts in between (thermal state,
 * other load, a kernel update) shifts that difference by the drift, and
 * its interval ignores it. Measuring both commits again, side by side,
 * removes the drift from the claim. Pure: the runner (src/app/confirm.ts)
 * measures, this module plans and summarizes.
 */
import { measureRule, perSide } from "./measure_plan.ts";
import type { GuardSpec } from "./guards.ts";
import { effectInterval, mean, meanCi, welch } from "./stats.ts";

/** Schema of `.ratchet/confirmation.json`. */
export const CONFIRMATION_SCHEMA_VERSION = 1;

/** One side of the confirmation: the start commit or the final incumbent. */
export type ConfirmSide = "baseline" | "incumbent";

/** One trial of the confirmation, as persisted. */
export interface ConfirmTrial {
  side: ConfirmSide;
  /** 1-based pair number. */
  k: number;
  score: number | null;
  outcome: string;
  guards: Record<string, number | null>;
}

/** The claimed gain: what the confirmation measured. */
export interface ConfirmResult {
  /** Mean, two-sided interval at the run's confidence, and ok trials of each side. */
  baseline: { mean: number | null; ci: [number, number] | null; n: number };
  final: { mean: number | null; ci: [number, number] | null; n: number };
  /** (final − baseline) / |baseline| from the means; null when undefined. */
  gain: number | null;
  /** Two-sided interval of `gain` at the run's confidence (ratio scale). */
  ci: [number, number] | null;
  /**
   * One-sided p-value (Welch) that the final incumbent is better than the
   * baseline in the metric's direction; null when no test exists.
   */
  p_value: number | null;
  /** Each guard's change from the baseline to the final incumbent. */
  guards: Record<
    string,
    {
      baseline_mean: number | null;
      final_mean: number | null;
      effect: number | null;
      ci: [number, number] | null;
    }
  >;
  /** One line: counts, what failed, the level. */
  detail: string;
}

/** `.ratchet/confirmation.json`: the confirmation of one run, trial by trial. */
export interface Confirmation {
  schema_version: number;
  run_id: string;
  /** The two commits compared; a confirmation of other commits is stale. */
  baseline_sha: string;
  incumbent_sha: string;
  /** The iteration that kept the final incumbent. */
  incumbent_iter: number;
  /** The last recorded iteration when the confirmation started. */
  through_iter: number;
  /** Pairs planned (trials per side). */
  per_side: number;
  trials: ConfirmTrial[];
  /** Null until every pair is measured. */
  result: ConfirmResult | null;
  started_at: string;
  finished_at: string | null;
}

/**
 * Trials per side of the confirmation: as many as a decision may use, so
 * the claim is as precise as the run's most careful decision. Under `stat`
 * that is the sequential plan's maximum (`--max-trials`), one for a
 * deterministic metric (unless a guard is noisy); under `mean`, `--trials`.
 */
export function confirmationPerSide(
  config: {
    decision: "stat" | "mean";
    trials: number;
    maxTrials: number;
    guard: readonly GuardSpec[];
  },
  deterministic: boolean,
  guardDeterministic: Record<string, boolean> = {},
): number {
  const rule = measureRule(config.decision, deterministic);
  return perSide(rule, config, guardDeterministic).max;
}

/** The trial to run next: pair `k`, `side` (baseline first in every pair); null when done. */
export function nextTrial(
  c: Pick<Confirmation, "trials" | "per_side">,
): { k: number; side: ConfirmSide } | null {
  const n = c.trials.length;
  if (n >= 2 * c.per_side) return null;
  return {
    k: Math.floor(n / 2) + 1,
    side: n % 2 === 0 ? "baseline" : "incumbent",
  };
}

function ok(trials: readonly ConfirmTrial[], side: ConfirmSide): number[] {
  return trials.flatMap((t) =>
    t.side === side && t.outcome === "ok" && t.score !== null ? [t.score] : []
  );
}

function okGuard(
  trials: readonly ConfirmTrial[],
  side: ConfirmSide,
  name: string,
): number[] {
  return trials.flatMap((t) => {
    const v = t.side === side && t.outcome === "ok" ? t.guards[name] : null;
    return v === null || v === undefined ? [] : [v];
  });
}

function relative(c: number | null, b: number | null): number | null {
  return c === null || b === null || b === 0 ? null : (c - b) / Math.abs(b);
}

/**
 * The claimed gain from the confirmation's trials: the means of both
 * sides, the relative gain and its two-sided interval at `confidence` on
 * the ratio scale ({@linkcode effectInterval}), Welch's one-sided p-value
 * in the metric's direction, and each guard's change.
 */
export function summarizeConfirmation(
  trials: readonly ConfirmTrial[],
  options: {
    direction: "max" | "min";
    confidence: number;
    guards: readonly GuardSpec[];
    /** A deterministic metric: one trial a side is exact, the interval a point. */
    deterministic?: boolean;
  },
): ConfirmResult {
  const level = 1 - (1 - options.confidence) / 2;
  const b = ok(trials, "baseline");
  const f = ok(trials, "incumbent");
  const side = (v: number[]) => ({
    mean: v.length > 0 ? mean(v) : null,
    ci: v.length >= 2 ? meanCi(v, options.confidence) : null,
    n: v.length,
  });
  const baseline = side(b);
  const final = side(f);
  const w = welch(f, b);
  const p = w === null
    ? null
    : options.direction === "max"
    ? w.pGreater
    : w.pLess;
  const failed = trials.filter((t) => t.outcome !== "ok").length;
  const guards: ConfirmResult["guards"] = {};
  for (const g of options.guards) {
    const gb = okGuard(trials, "baseline", g.name);
    const gf = okGuard(trials, "incumbent", g.name);
    const bm = gb.length > 0 ? mean(gb) : null;
    const fm = gf.length > 0 ? mean(gf) : null;
    guards[g.name] = {
      baseline_mean: bm,
      final_mean: fm,
      effect: relative(fm, bm),
      ci: effectInterval(gf, gb, level),
    };
  }
  const gain = relative(final.mean, baseline.mean);
  const exact = options.deterministic === true && gain !== null &&
    b.length < 2;
  return {
    baseline,
    final,
    gain,
    ci: exact ? [gain, gain] : effectInterval(f, b, level),
    p_value: p === null ? null : Math.min(1, p),
    guards,
    detail: `${f.length} vs ${b.length} ok trials, interleaved${
      failed > 0 ? `; ${failed} trial(s) did not end ok` : ""
    }; ${Math.round(options.confidence * 1000) / 10}% interval`,
  };
}

/**
 * The confirmation that holds the run's claim: finished, of this run, and
 * of the incumbent the records end with (an extended run that kept another
 * change has not been confirmed yet). Null otherwise.
 */
export function claimOf(
  c: Confirmation | null,
  runId: string,
  incumbentSha: string | null,
): (Confirmation & { result: ConfirmResult }) | null {
  if (c === null || c.result === null) return null;
  if (c.run_id !== runId || c.incumbent_sha !== incumbentSha) return null;
  return c as Confirmation & { result: ConfirmResult };
}
