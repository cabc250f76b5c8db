/**
 * `ratchet measure` and `ratchet calibrate`: trials of the checkout as it
 * is, with the same machinery as a run, but no model and no git
 * (src/app/measure_checkout.ts, src/app/calibrate.ts).
 */
import type { CommandContext } from "../context.ts";
import type { ConfigFlags } from "../args.ts";
import { BaselineError } from "../../errors.ts";
import {
  type CheckoutMeasure,
  measureCheckout,
} from "../../app/measure_checkout.ts";
import {
  calibrate,
  recommendationsPath,
  writeRecommendations,
} from "../../app/calibrate.ts";
import { engineLine } from "../../ui/engine_text.ts";
import { measureTrialLine, renderMeasure } from "../../ui/measure_view.ts";
import { renderCalibration } from "../../ui/calibrate_view.ts";

type MeasureCmd = ConfigFlags & { trials: number; json: boolean };

/** The measure, with its progress on stderr unless --json. */
function measureShown(
  cmd: MeasureCmd,
  ctx: CommandContext,
): Promise<CheckoutMeasure> {
  const say = (line: string) => {
    if (!cmd.json) ctx.output.err(line);
  };
  return measureCheckout(cmd, ctx, {
    onProgress: say,
    onReady: (setup) => say(engineLine(setup.info, setup.sharesFiles)),
    onTrial: (p) =>
      say(measureTrialLine(
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
      )),
  });
}

/** `ratchet measure`: exit 5 when no trial yielded the metric. */
export async function measureCommand(
  cmd: MeasureCmd,
  ctx: CommandContext,
): Promise<number> {
  const { run } = await measureShown(cmd, ctx);
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

/** `ratchet calibrate`: the noise report and recommendations. */
export async function calibrateCommand(
  cmd: MeasureCmd & { write: boolean },
  ctx: CommandContext,
): Promise<number> {
  const { run, config, configFile, root } = await measureShown(cmd, ctx);
  const calibration = calibrate(run, config);
  const { report, guards } = calibration;
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
    const path = recommendationsPath({
      configFile,
      configPath: cmd.configPath,
      cwd: ctx.cwd,
      root,
    });
    const written = await writeRecommendations(path, calibration, config);
    ctx.output.err(
      `Wrote trials, max-trials, min-effect${
        written.guards ? " and the guards' tolerances" : ""
      } into ${path}`,
    );
  }
  return 0;
}
