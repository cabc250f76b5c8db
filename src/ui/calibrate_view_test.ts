import assert from "node:assert/strict";
import { renderCalibration } from "./calibrate_view.ts";
import { renderMeasure } from "./measure_view.ts";
import { summarize } from "../app/measure.ts";
import { analyzeNoise, guardNoise } from "../core/noise.ts";
import type { TrialSetup } from "../trial/setup.ts";

/** The engine side of a measure; the views do not show it. */
const setup: TrialSetup = {
  info: {
    rootless: false,
    serverVersion: "27.0.0",
    product: "docker",
    endpoint: "unix:///var/run/docker.sock",
    dataRoot: "/var/lib/docker",
  },
  trialUser: { uid: 1000, gid: 1000 },
  sharesFiles: true,
  extraMounts: [],
  baseImage: "busybox:latest",
  image: "busybox:latest",
  preparedRoots: [],
  preparedReused: null,
};

const trials = [0.91, 0.9, 0.92, 0.91, 0.905].map((acc, i) => ({
  score: 1 + i / 100,
  outcome: "ok" as const,
  exit_code: 0,
  wall_s: 0.1,
  guards: { accuracy: acc, size: 512 },
}));

Deno.test("summarize() and renderMeasure() report every guard's statistics", () => {
  const result = summarize(trials, "line", null, {
    accuracy: null,
    size: "KB",
  });
  assert.equal(result.guards!.accuracy!.n_ok, 5);
  assert.ok(Math.abs(result.guards!.accuracy!.mean! - 0.909) < 1e-12);
  assert.equal(result.guards!.size!.cv, 0);
  assert.equal(result.guards!.size!.unit, "KB");
  const text = renderMeasure({ result, details: [], message: null, setup }, {
    color: false,
  });
  assert.match(text, /trial 1\/5 +ok +score 1 .*accuracy 0\.91 {2}size 512/);
  assert.match(
    text,
    /^guard accuracy {2}mean 0\.909 {2}median 0\.91 .* cv 0\.8% .*\(5 ok\)$/m,
  );
  assert.match(text, /^guard size {2}mean 512 KB/m);
  // Without guards the result has no guards key (spec section 8's shape).
  assert.ok(!("guards" in summarize(trials, "line", null)));
});

Deno.test("renderCalibration() gives each guard's noise and a recommended tolerance", () => {
  const result = summarize(trials, "line", null, {
    accuracy: null,
    size: null,
  });
  const report = analyzeNoise(trials.map((t) => t.score));
  const acc = guardNoise(trials.map((t) => t.guards.accuracy), {
    maxTrials: report.recommend.maxTrials,
  });
  const size = guardNoise([512, 512, 512, 512, 512], { maxTrials: 10 });
  const text = renderCalibration(
    { result, details: [], message: null, setup },
    report,
    {
      color: false,
      guards: [
        {
          spec: { name: "accuracy", direction: "max", tolerance: 0.001 },
          noise: acc,
        },
        {
          spec: { name: "size", direction: "min", tolerance: 0.02 },
          noise: size,
        },
      ],
    },
  );
  assert.match(text, /Guards\n {2}accuracy: mean 0\.909 .*CV 0\.8%/);
  assert.match(
    text,
    new RegExp(
      `recommended: --guard accuracy:max:${acc.tolerance} \\(the smallest slack its noise lets \\d+ trials a side verify; your 0\\.001 will often leave changes inconclusive\\)`,
    ),
  );
  assert.match(
    text,
    /recommended: --guard size:min:0 \(deterministic: compared exactly\)/,
  );
});
