/**
 * `ratchet measure` and `ratchet calibrate`: trials of the checkout as it
 * is, with the same machinery as a run, but no model and no git.
 */
import { join, resolve } from "node:path";
import { applyEdits, modify } from "jsonc-parser";
import type { CommandContext } from "../context.ts";
import type { ConfigFlags } from "../args.ts";
import type { Config } from "../../config/config.ts";
import { CONFIG_FILE_NAME, loadConfig } from "../../config/load.ts";
import {
  analyzeNoise,
  guardNoise,
  type NoiseReport,
} from "../../core/noise.ts";
import { formatGuardSpec } from "../../core/guards.ts";
import { STAT_MIN_PER_SIDE } from "../../core/measure_plan.ts";
import { BaselineError } from "../../errors.ts";
import { runGitRaw } from "../../infra/git.ts";
import { engineLine } from "../../ui/engine_text.ts";
import { measure, type MeasureRun } from "../../app/measure.ts";
import { measureTrialLine, renderMeasure } from "../../ui/measure_view.ts";
import { renderCalibration } from "../../ui/calibrate_view.ts";

/**
 * The checkout: cwd when it holds a ratchet.jsonc (a project inside another
 * repository), else the git work tree around cwd, else cwd.
 */
async function checkoutOf(cwd: string): Promise<string> {
  if (
    await Deno.stat(join(cwd, CONFIG_FILE_NAME)).then(() => true, () => false)
  ) {
    return cwd;
  }
  const out = await runGitRaw(cwd, ["rev-parse", "--show-toplevel"], {
    okCodes: [0, 128],
  }).catch(() => null);
  const top = out && out.status === 0
    ? new TextDecoder().decode(out.stdout).trim()
    : "";
  return top === "" ? cwd : top;
}

async function measureCheckout(
  cmd: ConfigFlags & { trials: number; json: boolean },
  ctx: CommandContext,
  options: { progressOnJson: boolean },
): Promise<
  { run: MeasureRun; config: Config; configFile: string | null; root: string }
> {
  const root = await checkoutOf(ctx.cwd);
  const { config, configFile } = await loadConfig({
    cwd: ctx.cwd,
    repoRoot: root,
    configPath: cmd.configPath,
    flags: cmd.flags,
    trustConfig: cmd.trustConfig,
    purpose: "measure",
    envModel: ctx.env.RATCHET_MODEL,
    readTextFile: (p) => Deno.readTextFile(p),
  });
  const runtime = ctx.deps.engine();
  await runtime.info();
  const run = await measure(
    { runtime, env: (name) => ctx.env[name], signal: ctx.signal, now: ctx.now },
    {
      config,
      checkoutDir: root,
      trials: cmd.trials,
      onProgress: (line) => {
        if (!cmd.json) ctx.output.err(line);
      },
      onReady: (setup) => {
        if (!cmd.json) {
          ctx.output.err(engineLine(setup.info, setup.sharesFiles));
        }
      },
      onTrial: (p) => {
        if (!cmd.json || options.progressOnJson) {
          ctx.output.err(
            measureTrialLine(
              p.k,
              p.n,
              {
                score: p.result.score,
                outcome: p.result.outcome,
                exit_code: p.result.exitCode,
                wall_s: p.result.wallSeconds,
                guards: p.result.guards,
              },
              p.result.unit,
              p.result.detail,
              { color: ctx.output.colorErr },
            ),
          );
        }
      },
    },
  );
  return { run, config, configFile, root };
}

/** `ratchet measure`: exit 5 when no trial yielded the metric. */
export async function measureCommand(
  cmd: ConfigFlags & { trials: number; json: boolean },
  ctx: CommandContext,
): Promise<number> {
  const { run } = await measureCheckout(cmd, ctx, { progressOnJson: false });
  if (cmd.json) ctx.output.out(JSON.stringify(run.result));
  else {
    ctx.output.out(
      renderMeasure(run, {
        color: ctx.output.colorOut,
        // The progress lines already showed every trial on this terminal;
        // a pipe or a file still gets the complete result.
        trialLines: !ctx.output.sameTerminal,
      }),
    );
  }
  if (run.result.n_ok === 0) {
    throw new BaselineError(
      `No trial yielded the metric: ${run.message ?? "see above"}`,
      {
        hint:
          "Fix the command or the metric settings until measure prints scores.",
      },
    );
  }
  return 0;
}

/** Write the recommendations into ratchet.jsonc, keeping its comments. */
async function writeRecommendations(
  path: string,
  report: NoiseReport,
  guards: string[] = [],
): Promise<void> {
  let text = await Deno.readTextFile(path).catch(() => "{\n}\n");
  const values: [string, number | string[]][] = [
    ["trials", report.recommend.trials],
    // A run starts each side at max(trials, 3) under stat before it knows a
    // metric is deterministic; a smaller max-trials (a deterministic
    // metric's 1) would make the file refuse `ratchet run`.
    ["max-trials", Math.max(report.recommend.maxTrials, STAT_MIN_PER_SIDE)],
    ["min-effect", Number(report.recommend.minEffect.toPrecision(2))],
    ...(guards.length > 0 ? [["guard", guards] as [string, string[]]] : []),
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
}

/** `ratchet calibrate`: the noise report and recommendations. */
export async function calibrateCommand(
  cmd: ConfigFlags & { trials: number; json: boolean; write: boolean },
  ctx: CommandContext,
): Promise<number> {
  const { run, config, configFile, root } = await measureCheckout(cmd, ctx, {
    progressOnJson: false,
  });
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
  if (cmd.json) {
    ctx.output.out(
      JSON.stringify({
        schema_version: 1,
        measure: run.result,
        noise: report,
        ...(guards === null ? {} : { guards }),
      }),
    );
  } else {
    ctx.output.out(
      renderCalibration(run, report, {
        color: ctx.output.colorOut,
        guards: config.guard.map((g) => ({
          spec: g,
          noise: guards?.[g.name] ?? null,
        })),
      }),
    );
  }
  if (cmd.write) {
    // The file the configuration was read from; else the one --config names
    // (relative to the current directory, or absolute) or the repo's.
    const path = configFile ??
      (cmd.configPath === null
        ? join(root, CONFIG_FILE_NAME)
        : resolve(ctx.cwd, cmd.configPath));
    const guardSpecs = guards === null ? [] : config.guard.map((g) => {
      const t = guards[g.name]?.tolerance;
      return formatGuardSpec(
        t === null || t === undefined ? g : { ...g, tolerance: t },
      );
    });
    await writeRecommendations(path, report, guardSpecs);
    ctx.output.err(
      `Wrote trials, max-trials, min-effect${
        guardSpecs.length > 0 ? " and the guards' tolerances" : ""
      } into ${path}`,
    );
  }
  return 0;
}
