/**
 * What `ratchet resume`'s flags (`--iterations`, `--max-cost-usd`,
 * `--patience`, `--threshold`, `--model`) do to the run: new values for an
 * interrupted run; for a finished one, an extension whatever stopped it
 * (see `planExtension`), refused with the flag to change when it cannot go
 * on.
 */
import type { Config } from "../config/config.ts";
import { OPTIONS } from "../config/options.ts";
import { fromFileForm } from "../config/file_form.ts";
import { planExtension } from "../core/extend.ts";
import type { IterationRecord } from "../core/state.ts";
import { priceFor } from "../agent/pricing.ts";
import { UsageError } from "../errors.ts";
import type { RunFile } from "../infra/store/store.ts";

/** The run's settings for this resume. */
export type ResumeSettings =
  | {
    /** A finished run and no flag: nothing to do. */
    kind: "finished";
    config: Config;
  }
  | {
    kind: "continue";
    config: Config;
    /** Reopens a finished run (its state goes back to running). */
    reopened: boolean;
    /** Where patience and crash counts start (`RunFile.extended_after`). */
    since: number | undefined;
    /** What changed besides the flags, for the user. */
    notes: string[];
  };

/** Option names (`max-cost-usd`) of the values in `flags`. */
function givenNames(flags: Partial<Config>): Set<string> {
  return new Set(
    OPTIONS.filter((o) => flags[o.key] !== undefined).map((o) => o.name),
  );
}

/**
 * Apply `flags` onto the run's config. `spentUsd` is everything the run
 * has spent (records and a cut-short iteration). Throws UsageError (exit 2)
 * naming the flag when a finished run cannot be extended as asked, and
 * ConfigError when a new model has no known price.
 */
export function resumeSettings(input: {
  run: RunFile;
  records: readonly IterationRecord[];
  flags: Partial<Config>;
  spentUsd: number;
}): ResumeSettings {
  const config: Config = { ...fromFileForm(input.run.config) };
  for (const [key, value] of Object.entries(input.flags)) {
    if (value !== undefined) {
      (config as unknown as Record<string, unknown>)[key] = value;
    }
  }
  // Without a price the cost cap cannot hold (exit 2 before anything).
  if (input.flags.model !== undefined) priceFor(config.model, config.prices);
  const given = givenNames(input.flags);
  const since = input.run.extended_after;
  if (input.run.state !== "finished") {
    return { kind: "continue", config, reopened: false, since, notes: [] };
  }
  if (given.size === 0) return { kind: "finished", config };
  const plan = planExtension({
    records: input.records,
    settings: config,
    given,
    spentUsd: input.spentUsd,
  });
  if (!plan.ok) {
    throw new UsageError(
      `Run ${input.run.run_id} stopped (${
        input.run.stop_reason ?? "finished"
      }) and cannot go on with these settings: ${plan.message}`,
      { hint: plan.hint },
    );
  }
  config.threshold = plan.threshold;
  return {
    kind: "continue",
    config,
    reopened: true,
    since: plan.since,
    notes: plan.notes,
  };
}
