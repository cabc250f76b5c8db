/** The text of `ratchet calibrate`: noise figures, grade and recommendations. */
import type { GuardNoise, NoiseReport } from "../core/noise.ts";
import type { GuardSpec } from "../core/guards.ts";
import type { MeasureRun } from "../app/measure.ts";
import { fmtDuration, fmtNum, fmtPct } from "./format.ts";
import { styles } from "./output.ts";

const GRADE_TEXT: Record<NoiseReport["grade"], string> = {
  deterministic:
    "deterministic: every run gave the same value; one trial per side suffices",
  low_noise: "low noise: small effects are detectable with few trials",
  noisy: "noisy: ratchet will need several trials per side",
  unstable:
    "unstable: noise this large hides most real effects; reduce it first (fewer background jobs, larger inputs, pinned CPUs)",
};

/** Render the calibration report. */
export function renderCalibration(
  run: MeasureRun,
  report: NoiseReport,
  options: {
    color: boolean;
    /** `--guard`: each guard with its noise (null with fewer than two values). */
    guards?: { spec: GuardSpec; noise: GuardNoise | null }[];
  },
): string {
  const s = styles(options.color);
  const lines = [
    s.bold(`Calibration over ${report.n} runs of the unchanged checkout`),
    `  mean ${fmtNum(report.mean)}  median ${fmtNum(report.median)}  stdev ${
      fmtNum(report.stdev)
    }  CV ${
      Number.isFinite(report.cv) ? fmtPct(report.cv).replace("+", "") : "∞"
    }  MAD ${fmtNum(report.mad)}`,
    `  outliers: ${
      report.outliers.length === 0
        ? "none"
        : report.outliers.map((i) =>
          `run ${i + 1} (${
            fmtNum(run.result.trials.filter((t) => t.score !== null)[i]?.score)
          })`
        ).join(", ")
    }`,
    `  drift: ${fmtNum(report.drift.slope_per_trial)} per run${
      report.drift.relative_per_trial === null
        ? ""
        : ` (${fmtPct(report.drift.relative_per_trial)} per run)`
    }, p=${report.drift.p_value.toPrecision(2)}${
      report.drift.significant
        ? s.yellow(
          " — the metric drifts over time; interleaving (the stat rule) protects against it",
        )
        : ""
    }`,
    `  grade: ${GRADE_TEXT[report.grade]}`,
    "",
    s.bold("Recommended settings"),
    `  --trials ${report.recommend.trials}  --max-trials ${report.recommend.maxTrials}  --min-effect ${
      Number(report.recommend.minEffect.toPrecision(2))
    }`,
  ];
  if (report.estimated_trial_seconds_per_iteration !== undefined) {
    lines.push(
      `  trial time per iteration: up to ${
        fmtDuration(report.estimated_trial_seconds_per_iteration)
      }`,
    );
  }
  const guards = options.guards ?? [];
  if (guards.length > 0) {
    lines.push("", s.bold("Guards"));
    for (const { spec, noise } of guards) {
      if (noise === null) {
        lines.push(`  ${spec.name}: fewer than two trials gave it; no figures`);
        continue;
      }
      const n = noise.noise;
      lines.push(
        `  ${spec.name}: mean ${fmtNum(n.mean)}  stdev ${fmtNum(n.stdev)}  CV ${
          Number.isFinite(n.cv) ? fmtPct(n.cv).replace("+", "") : "∞"
        }  (${GRADE_TEXT[n.grade].split(":")[0]})`,
        noise.tolerance === null
          ? `    no relative tolerance fits a guard whose mean is 0`
          : `    recommended: --guard ${spec.name}:${spec.direction}:${noise.tolerance}${
            noise.tolerance === 0
              ? " (deterministic: compared exactly)"
              : ` (the smallest slack its noise lets ${report.recommend.maxTrials} trials a side verify${
                noise.tolerance > spec.tolerance
                  ? `; your ${spec.tolerance} will often leave changes inconclusive`
                  : ""
              })`
          }`,
      );
    }
  }
  lines.push(
    "",
    `Write them into ratchet.jsonc with: ratchet calibrate --write`,
  );
  return lines.join("\n");
}
