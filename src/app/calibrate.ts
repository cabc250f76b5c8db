/**
 * `calibrate`: the noise of a measure's scores and of each guard, the
 * settings recommended from it, and writing them into the config file.
 */
import { join, resolve } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import type { Config } from "../config/config.ts";
import { CONFIG_FILE_NAME } from "../config/load.ts";
import { formatGuardSpec } from "../core/guards.ts";
import { STAT_MIN_PER_SIDE } from "../core/measure_plan.ts";
import {
  analyzeNoise,
  type GuardNoise,
  guardNoise,
  type NoiseReport,
} from "../core/noise.ts";
import { BaselineError } from "../errors.ts";
import type { MeasureRun } from "./measure.ts";

/** Each guard's noise (by name), as `guardNoise` reports it. */
export type GuardNoiseByName = Record<string, GuardNoise>;

/** The noise of a measure: the metric's and, with --guard, each guard's. */
export interface Calibration {
  report: NoiseReport;
  /** Null without --guard; a guard with fewer than 2 values is absent. */
  guards: GuardNoiseByName | null;
}

/** Analyse a measure's trials; exit 5 with fewer than 2 scores. */
export function calibrate(run: MeasureRun, config: Config): Calibration {
  const scores = run.result.trials.flatMap((t) =>
    t.score === null ? [] : [t.score]
  );
  if (scores.length < 2) {
    throw new BaselineError(
      `Calibration needs at least 2 trials with the metric, got ${scores.length}: ${
        run.message ?? "see above"
      }`,
      { hint: "Check the command with `ratchet measure` first." },
    );
  }
  const walls = run.result.trials.flatMap((t) =>
    t.wall_s === null ? [] : [t.wall_s]
  );
  const report = analyzeNoise(scores, {
    confidence: config.confidence,
    ...(walls.length > 0
      ? { trialSeconds: walls.reduce((a, b) => a + b, 0) / walls.length }
      : {}),
  });
  // --guard: each guard's noise, and the tolerance its noise lets the
  // non-inferiority test verify at the recommended --max-trials.
  const guards = config.guard.length === 0 ? null : Object.fromEntries(
    config.guard.flatMap((g) => {
      const values = run.result.trials.flatMap((t) => {
        const v = t.outcome === "ok" ? t.guards?.[g.name] : null;
        return v === null || v === undefined ? [] : [v];
      });
      return values.length < 2 ? [] : [[
        g.name,
        guardNoise(values, {
          maxTrials: report.recommend.maxTrials,
          confidence: config.confidence,
        }),
      ]];
    }),
  );
  return { report, guards };
}

/**
 * Where `--write` goes: the file the configuration was read from; else the
 * one --config names (relative to the current directory, or absolute) or
 * the repo's.
 */
export function recommendationsPath(input: {
  configFile: string | null;
  configPath: string | null;
  cwd: string;
  root: string;
}): string {
  return input.configFile ??
    (input.configPath === null
      ? join(input.root, CONFIG_FILE_NAME)
      : resolve(input.cwd, input.configPath));
}

/**
 * Write the recommendations into the config file at `path`, keeping its
 * comments; the guards get the tolerance their noise recommends. Returns
 * whether guard tolerances were written.
 */
export async function writeRecommendations(
  path: string,
  calibration: Calibration,
  config: Config,
): Promise<{ guards: boolean }> {
  const { report, guards } = calibration;
  const guardSpecs = guards === null ? [] : config.guard.map((g) => {
    const t = guards[g.name]?.tolerance;
    return formatGuardSpec(
      t === null || t === undefined ? g : { ...g, tolerance: t },
    );
  });
  let text = await Deno.readTextFile(path).catch(() => "{\n}\n");
  const values: [string, number | string[]][] = [
    ["trials", report.recommend.trials],
    // A run starts each side at max(trials, 3) under stat before it knows a
    // metric is deterministic; a smaller max-trials (a deterministic
    // metric's 1) would make the file refuse `ratchet run`.
    ["max-trials", Math.max(report.recommend.maxTrials, STAT_MIN_PER_SIDE)],
    ["min-effect", Number(report.recommend.minEffect.toPrecision(2))],
    ...(guardSpecs.length > 0
      ? [["guard", guardSpecs] as [string, string[]]]
      : []),
  ];
  for (const [key, value] of values) {
    text = applyEdits(
      text,
      modify(text, [key], value, {
        formattingOptions: { insertSpaces: true, tabSize: 2 },
      }),
    );
  }
  await Deno.writeTextFile(path, text);
  return { guards: guardSpecs.length > 0 };
}
