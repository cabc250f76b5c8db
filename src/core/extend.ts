/**
 * Extending a finished run (`ratchet resume --iterations N`, a higher
 * `--max-cost-usd`, a new `--patience` or `--threshold`), pure. Whatever
 * stopped the run, the extension goes on from its last record:
 *
 * - `iterations`: the new cap must lie beyond the last iteration;
 * - `cost`: the new cap must lie above what the run has spent (0 = no cap);
 * - `patience` and `crashes`: their counts start again after the last
 *   record (`since`), so the streak that ended the run does not end the
 *   extension at once;
 * - `threshold`: a goal the incumbent has reached is dropped for the
 *   extension (a new `--threshold` not yet reached replaces it).
 *
 * When the settings cannot let the run go on, the plan names the flag to
 * change and how.
 */
import type { IterationRecord } from "./state.ts";
import { incumbentOf } from "./incumbent.ts";
import { type StopParams, stopReason } from "./stop.ts";

/** The settings an extension reads (the run's config with the new flags). */
export interface ExtendSettings extends StopParams {
  maxCostUsd: number;
}

/** What `planExtension` needs. */
export interface ExtendInput {
  records: readonly IterationRecord[];
  settings: ExtendSettings;
  /** Option names given on the command line (`iterations`, `threshold` …). */
  given: ReadonlySet<string>;
  /** Everything the run has spent, cut-short iterations included. */
  spentUsd: number;
}

/** How the run goes on, or which flag stops it from going on. */
export type ExtendPlan =
  | {
    ok: true;
    /** Patience and crash counts start after this iteration. */
    since: number;
    /** The threshold to keep (null: dropped, it was reached). */
    threshold: number | null;
    /** What changed besides the flags, for the user. */
    notes: string[];
  }
  | { ok: false; flag: string; message: string; hint: string };

function usd(x: number): string {
  return `$${x.toFixed(2)}`;
}

/** Plan the extension of a finished run (see the module doc). */
export function planExtension(input: ExtendInput): ExtendPlan {
  const { records, settings, given } = input;
  const last = records.at(-1)?.iter ?? 0;
  if (last >= settings.iterations) {
    return {
      ok: false,
      flag: "--iterations",
      message: given.has("iterations")
        ? `--iterations ${settings.iterations} does not extend the run: it has already recorded iteration ${last}`
        : `The run has already recorded all ${settings.iterations} iterations`,
      hint:
        `Pass --iterations N with N above ${last} (records are iterations 0 to N).`,
    };
  }
  if (settings.maxCostUsd > 0 && input.spentUsd >= settings.maxCostUsd) {
    return {
      ok: false,
      flag: "--max-cost-usd",
      message: `The run has spent ${
        usd(input.spentUsd)
      } of its --max-cost-usd ${usd(settings.maxCostUsd)}`,
      hint: `Pass a higher cap, e.g. --max-cost-usd ${
        Math.ceil(input.spentUsd) + 5
      } (0 = no cap).`,
    };
  }
  const notes: string[] = [];
  let threshold = settings.threshold;
  if (threshold !== null) {
    const inc = incumbentOf(
      records,
      settings.confidence === undefined
        ? {}
        : { confidence: settings.confidence },
    );
    const reached = inc !== null &&
      (settings.direction === "max"
        ? inc.mean >= threshold
        : inc.mean <= threshold);
    if (reached && given.has("threshold")) {
      return {
        ok: false,
        flag: "--threshold",
        message:
          `--threshold ${threshold} is already reached: the incumbent's mean is ${
            inc!.mean
          }`,
        hint: `Pass a threshold the run has not reached yet (${
          settings.direction === "max" ? "above" : "below"
        } ${inc!.mean}), or --no-threshold.`,
      };
    }
    if (reached) {
      notes.push(
        `The threshold ${threshold} was reached; the extension runs without one (pass --threshold X for a new goal).`,
      );
      threshold = null;
    }
  }
  // With these settings nothing that ended the run ends it again at once.
  const stop = stopReason(records, { ...settings, threshold, since: last }, {
    costUsd: input.spentUsd,
    maxCostUsd: settings.maxCostUsd,
  });
  if (stop !== null) {
    // Unreachable by the checks above; kept so a new stop rule cannot make
    // resume loop without saying why.
    return {
      ok: false,
      flag: `--${stop}`,
      message: `The run would stop again at once (${stop})`,
      hint: "Change the setting that stopped it.",
    };
  }
  return { ok: true, since: last, threshold, notes };
}
