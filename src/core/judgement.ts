/**
 * The outcome of comparing a measured candidate with the incumbent, in the
 * shape the loop records (spec section 8: p-value, effect, interval, rule).
 */
import type { GuardLook } from "./guard_decide.ts";
import type { Decision, Reason } from "./state.ts";

/** A finished comparison. */
export interface Judgement {
  decision: Decision;
  reason: Reason | null;
  detail: string;
  p_value: number | null;
  effect: number | null;
  ci: [number, number] | null;
  /** Which rule decided: "mean", "exact", "welch-t", a rank test … */
  rule: string;
  /** The incumbent's mean as measured in this iteration (null under mean). */
  incumbentMean: number | null;
  /** Interval of the incumbent's mean from this iteration's trials. */
  incumbentCi: [number, number] | null;
  /** Interval of the candidate's mean. */
  candidateCi: [number, number] | null;
  /** Each guard at the deciding look; null without guards or comparison. */
  guards: Record<string, GuardLook> | null;
}
