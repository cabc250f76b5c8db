/**
 * `ratchet measure`: run trials of the checkout as it is and report the
 * scores (spec sections 2 and 8). No model and no git: the checkout
 * directory (without `.git` and `.ratchet`) becomes one tree image on the
 * trial image (after the prepare step, as in a run) and every trial is a
 * fresh container of it, harness read-only included.
 */
import { makeRunId } from "../core/run_id.ts";
import { randomHex } from "../infra/random.ts";
import type { Config } from "../config/config.ts";
import type { MetricRule } from "../core/metric.ts";
import { SCHEMA_VERSION, type TrialOutcome } from "../core/state.ts";
import { mean, median, stdev } from "../core/stats.ts";
import type { TrialResult } from "../core/trial_report.ts";
import type { GitContext } from "../infra/git/context.ts";
import type { ContainerRuntime, ProgressSink } from "../infra/runtime.ts";
import { runTrial } from "../trial/runner.ts";
import { setUpTrials, specContext, type TrialSetup } from "../trial/setup.ts";
import { removeRunImages, TreeImages } from "../trial/tree_images.ts";
import { policyOf } from "./run_state.ts";

/** Trials when `--trials` is not given to `measure`. */
export const DEFAULT_MEASURE_TRIALS = 5;

/** One trial in `measure --json`. */
export interface MeasureTrial {
  score: number | null;
  outcome: TrialOutcome;
  exit_code: number | null;
  wall_s: number | null;
  /** Each `--guard`'s value (null when the trial is not ok); absent without guards. */
  guards?: Record<string, number | null>;
}

/** Summary statistics of one guard over the ok trials. */
export interface GuardStats {
  unit: string | null;
  n_ok: number;
  mean: number | null;
  median: number | null;
  stdev: number | null;
  cv: number | null;
  min: number | null;
  max: number | null;
}

/** `measure --json` exactly as spec section 8 lists it. */
export interface MeasureResult {
  schema_version: number;
  /** The rule that matched (of the first trial that yielded the metric), or null. */
  rule: MetricRule | null;
  unit: string | null;
  trials: MeasureTrial[];
  n: number;
  n_ok: number;
  mean: number | null;
  median: number | null;
  /** Sample standard deviation; null with fewer than two scores. */
  stdev: number | null;
  /** stdev / |mean|; null when either is missing or the mean is 0. */
  cv: number | null;
  min: number | null;
  max: number | null;
  /** `--guard`: each guard's statistics; absent without guards. */
  guards?: Record<string, GuardStats>;
}

/** A finished `measure`: the JSON result plus what the text view explains. */
export interface MeasureRun {
  result: MeasureResult;
  /** Why trials did not end ok, by trial ("" for ok ones). */
  details: string[];
  /**
   * When no trial yielded the metric: the extraction message (which rules
   * were tried, and `--report-source wall` for time-like names) or the
   * first failure. Null otherwise.
   */
  message: string | null;
  /** The engine and images the trials used. */
  setup: TrialSetup;
}

/** What `measure` needs from the outside. */
export interface MeasureDeps {
  runtime: ContainerRuntime;
  /** What the checkout is read from git with. */
  git: GitContext;
  /** Reads a host variable (only `--pass-env` names are asked for). */
  env: (name: string) => string | undefined;
  signal?: AbortSignal;
  now?: () => Date;
}

/** Progress of one finished trial. */
export interface MeasureProgress {
  /** 1-based trial number and the total. */
  k: number;
  n: number;
  result: TrialResult;
}

/** Options of `measure`. */
export interface MeasureOptions {
  config: Config;
  /** The checkout to measure (the repo root; no git needed). */
  checkoutDir: string;
  /** Number of trials (default 5). */
  trials?: number;
  /** Image build, pull and prepare progress. */
  onProgress?: ProgressSink;
  /** Told once the engine and image are ready, before the first trial. */
  onReady?: (setup: TrialSetup) => void;
  onTrial?: (progress: MeasureProgress) => void;
  /** Saves each trial's human-readable report (1-based trial number). */
  saveReport?: (trial: number, text: string) => Promise<void>;
  /** Extra container labels (tests). */
  labels?: Record<string, string>;
}

/** Summary statistics over the scores of the `ok` trials. */
export function summarize(
  trials: readonly MeasureTrial[],
  rule: MetricRule | null,
  unit: string | null,
  guardUnits: Record<string, string | null> | null = null,
): MeasureResult {
  const scores = trials.filter((t) => t.outcome === "ok" && t.score !== null)
    .map((t) => t.score as number);
  const stats = statsOf(scores);
  return {
    schema_version: SCHEMA_VERSION,
    rule,
    unit,
    trials: [...trials],
    n: trials.length,
    ...stats,
    ...(guardUnits === null ? {} : {
      guards: Object.fromEntries(
        Object.entries(guardUnits).map(([name, u]) => [
          name,
          {
            unit: u,
            ...statsOf(trials.flatMap((t) => {
              const v = t.outcome === "ok" ? t.guards?.[name] : null;
              return v === null || v === undefined ? [] : [v];
            })),
          },
        ]),
      ),
    }),
  };
}

/** n, mean, median, stdev, cv, min and max of some values. */
function statsOf(scores: readonly number[]): Omit<GuardStats, "unit"> {
  const n_ok = scores.length;
  const m = n_ok > 0 ? mean(scores) : null;
  const sd = n_ok > 1 ? stdev(scores) : null;
  return {
    n_ok,
    mean: m,
    median: n_ok > 0 ? median(scores) : null,
    stdev: sd,
    cv: m !== null && sd !== null && m !== 0 ? sd / Math.abs(m) : null,
    min: n_ok > 0 ? Math.min(...scores) : null,
    max: n_ok > 0 ? Math.max(...scores) : null,
  };
}

/** Label value for a measure's containers and cache volumes. */
export function measureRunId(now: Date): string {
  return `measure-${makeRunId(now, randomHex(2))}`;
}

/**
 * Run `trials` trials of the checkout and summarize them. The engine is asked
 * first, so an unreachable Docker is an EnvironmentError (exit 3) before
 * anything is sent. The checkout's image, containers and cache volumes live
 * only for this measure; a prepared image is kept as the cache it is.
 */
export async function measure(
  deps: MeasureDeps,
  options: MeasureOptions,
): Promise<MeasureRun> {
  const n = options.trials ?? DEFAULT_MEASURE_TRIALS;
  const runId = measureRunId((deps.now ?? (() => new Date()))());
  const { config } = options;
  const source = { kind: "dir" as const, dir: options.checkoutDir };
  const trials: MeasureTrial[] = [];
  const details: string[] = [];
  let rule: MetricRule | null = null;
  let unit: string | null | undefined = undefined;
  let guardUnits: Record<string, string | null> | undefined = undefined;
  let firstFailure: string | null = null;
  let firstNoMetric: string | null = null;
  let setup: TrialSetup | null = null;
  try {
    setup = await setUpTrials({
      runtime: deps.runtime,
      root: options.checkoutDir,
      config,
      runId,
      source,
      git: deps.git,
      env: deps.env,
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      ...(options.onProgress === undefined
        ? {}
        : { onProgress: options.onProgress }),
    });
    options.onReady?.(setup);
    const policy = policyOf(config, null);
    const images = new TreeImages({
      runtime: deps.runtime,
      git: deps.git,
      runId,
      baseImage: setup.image,
      snapshotDir: null,
      policy,
      trialUser: setup.trialUser,
      ...(options.labels === undefined ? {} : { labels: options.labels }),
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    });
    const trialDeps = {
      runtime: deps.runtime,
      images,
      spec: specContext(runId, config, setup, deps.env, options.labels),
      config,
      ...(options.saveReport === undefined ? {} : {
        saveReport: (_iter: number, trial: number, text: string) =>
          options.saveReport!(trial, text),
      }),
      ...(deps.signal === undefined ? {} : { signal: deps.signal }),
    };
    for (let k = 1; k <= n; k++) {
      const result = await runTrial(trialDeps, {
        iter: 0,
        trial: k,
        side: "measure",
        tree: { key: "checkout", source },
        // Every trial must report in the unit of the first that did.
        ...(unit === undefined ? {} : { expectedUnit: unit }),
        ...(guardUnits === undefined ? {} : { expectedGuardUnits: guardUnits }),
      });
      if (result.outcome === "ok" && unit === undefined) {
        unit = result.unit;
        rule = result.rule as MetricRule | null;
        guardUnits = { ...result.guardUnits };
      }
      if (result.outcome !== "ok") {
        firstFailure ??= `trial ${k} ended ${result.outcome}: ${result.detail}`;
      }
      if (result.outcome === "no_metric") firstNoMetric ??= result.detail;
      trials.push({
        score: result.outcome === "ok" ? result.score : null,
        outcome: result.outcome,
        exit_code: result.exitCode,
        wall_s: result.wallSeconds,
        ...(options.config.guard.length > 0 ? { guards: result.guards } : {}),
      });
      details.push(result.detail);
      options.onTrial?.({ k, n, result });
    }
  } finally {
    // The checkout's image, its containers (and network holder) and volumes.
    await removeRunImages(deps.runtime, runId).catch(() => {});
  }
  const result = summarize(
    trials,
    rule,
    unit ?? null,
    options.config.guard.length === 0 ? null : guardUnits ??
      Object.fromEntries(options.config.guard.map((g) => [g.name, null])),
  );
  return {
    result,
    details,
    message: result.n_ok === 0 ? firstNoMetric ?? firstFailure : null,
    setup,
  };
}
