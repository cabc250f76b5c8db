/**
 * Simulation of ratchet's decision rules, shared by the decision bench
 * (`deno task bench:decision`), the README table it writes, and the tests
 * that check the rules' error rates.
 *
 * A "trial" is a draw from a noise model around the true value of the
 * commit measured. Drift is applied by the run-wide trial index, so the
 * order of the trials matters exactly as it does on a real machine: the
 * `stat` rule measures incumbent and candidate interleaved (A B A B …) and
 * so sees the same drift on both sides; the `mean` rule compares fresh
 * candidate trials with an average recorded earlier.
 */
import { baselineTrials, planStat } from "../src/core/measure_plan.ts";
import { decideMean } from "../src/core/rule_mean.ts";
import { type StatParams, stepStat } from "../src/core/rule_stat.ts";
import type { Verdict } from "../src/core/verdict.ts";
import { mulberry32, type Rng } from "../src/core/rng.ts";
import { type IterationRecord, makeRecord } from "../src/core/state.ts";
import { mean } from "../src/core/stats.ts";
import { incumbentOf } from "../src/core/incumbent.ts";
import { summarizeConfirmation } from "../src/core/confirm.ts";

/** Seed of every published number. */
export const SEED = 20250101;

/** A noise model: one trial of a commit whose true mean is `value`. */
export interface NoiseModel {
  name: string;
  /** One measurement at run-wide trial index `index`. */
  draw(rng: Rng, value: number, index: number): number;
  /**
   * The true mean of a measurement at `index` (what `draw` averages to):
   * `value` for models without drift. The simulated claim's truth.
   */
  expected?(value: number, index: number): number;
}

/** True mean of the starting commit in every simulation. */
export const BASE = 100;

/** Relative drift per trial of the `drift` model (metric "max"). */
export const DRIFT_PER_TRIAL = 0.0003;

/** The noise models of the bench. Every model has mean `value` at index 0. */
export const MODELS: readonly NoiseModel[] = [
  {
    name: "normal, CV 1%",
    draw: (rng, v) => v * (1 + 0.01 * rng.normal()),
  },
  {
    name: "normal, CV 5%",
    draw: (rng, v) => v * (1 + 0.05 * rng.normal()),
  },
  {
    name: "normal, CV 15%",
    draw: (rng, v) => v * (1 + 0.15 * rng.normal()),
  },
  {
    // exp(σZ − σ²/2) has mean 1: the effect moves the mean by exactly e.
    name: "log-normal σ=0.2 (heavy right tail)",
    draw: (rng, v) => v * Math.exp(0.2 * rng.normal() - 0.02),
  },
  {
    // +0.03% of the base per trial: about +10% across a 30-iteration run.
    name: "normal 2% + slow drift",
    draw: (rng, v, i) =>
      v * (1 + 0.02 * rng.normal()) + BASE * DRIFT_PER_TRIAL * i,
    expected: (v, i) => v + BASE * DRIFT_PER_TRIAL * i,
  },
  {
    // One trial in 20 is a spike 50% above its commit's value.
    name: "normal 2% + 5% outliers ×1.5",
    draw: (rng, v) => {
      const x = v * (1 + 0.02 * rng.normal());
      return rng.next() < 0.05 ? 1.5 * x : x;
    },
    expected: (v) => v * (1 + 0.05 * 0.5),
  },
  {
    // Two machine states ±4% (CPU frequency, cache luck), 1% noise in each.
    name: "bimodal ±4%, CV 1% each",
    draw: (rng, v) =>
      v * ((rng.next() < 0.5 ? 0.96 : 1.04) + 0.01 * rng.normal()),
  },
];

/** True relative effects of single proposals (metric direction "max"). */
export const EFFECTS: readonly number[] = [-0.05, 0, 0.02, 0.05, 0.1];

/** The run configuration the bench simulates (ratchet's defaults). */
export const BENCH_CONFIG = {
  trials: 1,
  maxTrials: 10,
  confidence: 0.95,
  minEffect: 0,
  minImprovement: 0,
  /** `--trials` given to the mean rule: the same as stat's maximum per side. */
  meanTrials: 10,
} as const;

/** One simulated comparison. */
export interface Outcome {
  verdict: Verdict;
  /** Trials used, both sides together. */
  trials: number;
  incumbent: number[];
  candidate: number[];
}

/** Clock of run-wide trial indexes, shared by the measurements of a run. */
export interface Clock {
  index: number;
}

export function statParams(): StatParams {
  const plan = planStat(BENCH_CONFIG);
  return {
    ...plan,
    direction: "max",
    confidence: BENCH_CONFIG.confidence,
    minEffect: BENCH_CONFIG.minEffect,
    minImprovement: BENCH_CONFIG.minImprovement,
    deterministic: false,
  };
}

/**
 * Order of the trials of a pair: "ABAB" is what the loop does (incumbent
 * first in every pair); "ABBA" alternates which side goes first, which
 * cancels a linear drift every two pairs (kept here to measure that).
 */
export type PairOrder = "ABAB" | "ABBA";

/**
 * One `stat` comparison: interleaved pairs, `startPerSide` first, one pair
 * more per look until the rule is done.
 */
export function simulateStat(
  rng: Rng,
  model: NoiseModel,
  incumbentValue: number,
  candidateValue: number,
  clock: Clock,
  params: StatParams = statParams(),
  order: PairOrder = "ABAB",
): Outcome {
  const incumbent: number[] = [];
  const candidate: number[] = [];
  const pair = () => {
    const a = () =>
      incumbent.push(model.draw(rng, incumbentValue, clock.index++));
    const b = () =>
      candidate.push(model.draw(rng, candidateValue, clock.index++));
    if (order === "ABBA" && incumbent.length % 2 === 1) {
      b();
      a();
    } else {
      a();
      b();
    }
  };
  for (let k = 0; k < params.startPerSide; k++) pair();
  for (;;) {
    const step = stepStat({ incumbent, candidate }, params);
    if (step.kind === "done") {
      const { kind: _kind, ...verdict } = step;
      return {
        verdict,
        trials: incumbent.length + candidate.length,
        incumbent,
        candidate,
      };
    }
    pair();
  }
}

/** One `mean` comparison: fresh candidate trials against a recorded mean. */
export function simulateMean(
  rng: Rng,
  model: NoiseModel,
  recordedIncumbentMean: number,
  candidateValue: number,
  clock: Clock,
): Outcome {
  const candidate: number[] = [];
  for (let k = 0; k < BENCH_CONFIG.meanTrials; k++) {
    candidate.push(model.draw(rng, candidateValue, clock.index++));
  }
  const verdict = decideMean({
    candidate,
    incumbentMean: recordedIncumbentMean,
    direction: "max",
    minImprovement: BENCH_CONFIG.minImprovement,
  });
  return { verdict, trials: candidate.length, incumbent: [], candidate };
}

/**
 * Trials between the incumbent's recorded measurement and a candidate's
 * trials in the single-comparison bench: the incumbent was kept a few
 * iterations ago (this is what makes drift matter to the mean rule).
 */
export const RECORD_AGE_TRIALS = 60;

/** Per-rule, per-effect rates of one noise model. */
export interface CellStats {
  keepRate: number;
  meanTrials: number;
}

/**
 * Simulate `n` single comparisons of each effect under one model and rule.
 * Each comparison happens at run-wide trial index RECORD_AGE_TRIALS (the
 * mean rule's recorded incumbent mean was measured at index 0).
 */
export function simulateCell(
  rng: Rng,
  model: NoiseModel,
  rule: "stat" | "mean",
  effect: number,
  n: number,
): CellStats {
  let kept = 0;
  let trials = 0;
  for (let s = 0; s < n; s++) {
    const candidateValue = BASE * (1 + effect);
    let out: Outcome;
    if (rule === "stat") {
      out = simulateStat(rng, model, BASE, candidateValue, {
        index: RECORD_AGE_TRIALS,
      });
    } else {
      const recordClock = { index: 0 };
      const recorded: number[] = [];
      for (let k = 0; k < BENCH_CONFIG.meanTrials; k++) {
        recorded.push(model.draw(rng, BASE, recordClock.index++));
      }
      out = simulateMean(rng, model, mean(recorded), candidateValue, {
        index: RECORD_AGE_TRIALS,
      });
    }
    if (out.verdict.decision === "improved") kept++;
    trials += out.trials;
  }
  return { keepRate: kept / n, meanTrials: trials / n };
}

/**
 * The distribution of true effects of proposals in a simulated run: most
 * proposals do nothing or hurt, a few help.
 */
export const PROPOSAL_MIX: readonly { effect: number; weight: number }[] = [
  { effect: -0.05, weight: 0.25 },
  { effect: 0, weight: 0.4 },
  { effect: 0.02, weight: 0.15 },
  { effect: 0.05, weight: 0.12 },
  { effect: 0.1, weight: 0.08 },
];

function drawEffect(rng: Rng): number {
  let u = rng.next();
  for (const p of PROPOSAL_MIX) {
    if (u < p.weight) return p.effect;
    u -= p.weight;
  }
  return PROPOSAL_MIX[PROPOSAL_MIX.length - 1]!.effect;
}

/** Summary of one simulated run. */
export interface RunResult {
  /**
   * The true gain of the final incumbent over the start commit, at the
   * time the claim was measured: under additive drift the relative gain
   * itself changes as the machine drifts, and the claim is about the
   * machine as it is at the end of the run.
   */
  trueGain: number;
  claimedGain: number;
  /** Two-sided interval (at the run's confidence) of the claimed gain. */
  claimedCi: [number, number] | null;
  falseKeeps: number;
  keeps: number;
  /** Trials of the whole run, the confirmation included. */
  trials: number;
  /** Trials of the end-of-run confirmation (0 when nothing was kept). */
  confirmationTrials: number;
}

/**
 * The end-of-run confirmation (src/app/confirm.ts) in the simulation: the start
 * commit and the final incumbent measured interleaved, `perSide` trials a
 * side, continuing the run's clock. Returns the claim: the relative gain
 * of the means and its two-sided interval on the ratio scale.
 */
export function simulateConfirmation(
  rng: Rng,
  model: NoiseModel,
  startValue: number,
  finalValue: number,
  clock: Clock,
  perSide: number,
): { gain: number; ci: [number, number] | null; trueGain: number } {
  const baseline: number[] = [];
  const final: number[] = [];
  const first = clock.index;
  for (let k = 0; k < perSide; k++) {
    baseline.push(model.draw(rng, startValue, clock.index++));
    final.push(model.draw(rng, finalValue, clock.index++));
  }
  const middle = (first + clock.index - 1) / 2;
  const expected = model.expected ?? ((v: number) => v);
  const result = summarizeConfirmation(
    [
      ...baseline.map((score, i) => ({
        side: "baseline" as const,
        k: i + 1,
        score,
        outcome: "ok",
        guards: {},
      })),
      ...final.map((score, i) => ({
        side: "incumbent" as const,
        k: i + 1,
        score,
        outcome: "ok",
        guards: {},
      })),
    ],
    { direction: "max", confidence: BENCH_CONFIG.confidence, guards: [] },
  );
  return {
    gain: result.gain ?? 0,
    ci: result.ci,
    trueGain: expected(finalValue, middle) / expected(startValue, middle) - 1,
  };
}

/**
 * A whole run of `iterations` proposals under one rule, then the end-of-run
 * confirmation: the claimed gain is what `ratchet status` reports, the
 * interleaved comparison of the start commit and the final incumbent
 * (as many trials a side as a decision may use). A run that kept nothing
 * claims exactly 0, which is exactly true.
 */
export function simulateRun(
  rng: Rng,
  model: NoiseModel,
  rule: "stat" | "mean",
  iterations: number,
): RunResult {
  const clock: Clock = { index: 0 };
  const records: IterationRecord[] = [];
  const nBaseline = rule === "stat"
    ? baselineTrials({ decision: "stat", trials: BENCH_CONFIG.trials })
    : BENCH_CONFIG.meanTrials;
  const baseline: number[] = [];
  for (let k = 0; k < nBaseline; k++) {
    baseline.push(model.draw(rng, BASE, clock.index++));
  }
  const rec = (fields: Partial<IterationRecord> & { iter: number }) =>
    makeRecord({
      run_id: "sim",
      decision: "baseline",
      timestamp: "1970-01-01T00:00:00.000Z",
      ...fields,
    });
  records.push(rec({ iter: 0, trial_scores: baseline, sha: "0" }));
  let trueIncumbent = BASE;
  let falseKeeps = 0;
  let keeps = 0;
  for (let iter = 1; iter <= iterations; iter++) {
    const effect = drawEffect(rng);
    const candidateValue = trueIncumbent * (1 + effect);
    const out = rule === "stat"
      ? simulateStat(rng, model, trueIncumbent, candidateValue, clock)
      : simulateMean(
        rng,
        model,
        incumbentOf(records)!.mean,
        candidateValue,
        clock,
      );
    const improved = out.verdict.decision === "improved";
    if (improved) {
      keeps++;
      if (effect <= 0) falseKeeps++;
      trueIncumbent = candidateValue;
    }
    records.push(rec({
      iter,
      decision: out.verdict.decision,
      kept: improved,
      sha: improved ? String(iter) : null,
      trial_scores: out.candidate,
      baseline_scores: out.incumbent,
      effect: out.verdict.effect,
      ci: out.verdict.ci,
      p_value: out.verdict.p_value,
    }));
  }
  const before = clock.index;
  if (keeps === 0) {
    return {
      trueGain: 0,
      claimedGain: 0,
      claimedCi: [0, 0],
      falseKeeps,
      keeps,
      trials: clock.index,
      confirmationTrials: 0,
    };
  }
  const perSide = rule === "stat"
    ? planStat(BENCH_CONFIG).maxPerSide
    : BENCH_CONFIG.meanTrials;
  const claim = simulateConfirmation(
    rng,
    model,
    BASE,
    trueIncumbent,
    clock,
    perSide,
  );
  return {
    trueGain: claim.trueGain,
    claimedGain: claim.gain,
    claimedCi: claim.ci,
    falseKeeps,
    keeps,
    trials: clock.index,
    confirmationTrials: clock.index - before,
  };
}

/** Sizes of the published simulation. */
export const SIM_SIZES: SimSizes = {
  comparisons: 1000,
  nullComparisons: 10000,
  runs: 300,
  iterations: 30,
};

/** How much to simulate. */
export interface SimSizes {
  /** Comparisons per cell with a true gain (power). */
  comparisons: number;
  /**
   * Comparisons per cell with no or a negative true effect: more, because
   * the false-keep rate is the number held to ≤ 5% (standard error ≈ 0.22
   * points at 10 000).
   */
  nullComparisons: number;
  runs: number;
  iterations: number;
}

export function pctCell(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

export function signedPct(x: number): string {
  // U+2212 minus, as in the prose; "+0.0%" for zero.
  return `${x < 0 ? "\u2212" : "+"}${Math.abs(x * 100).toFixed(1)}%`;
}

/** Seed of one table cell, so each cell is reproducible on its own. */
export function cellSeed(...parts: number[]): number {
  let h = SEED >>> 0;
  for (const p of parts) h = Math.imul(h ^ (p + 0x9e3779b9), 0x85ebca6b) >>> 0;
  return h;
}

/**
 * A markdown table laid out the way `deno fmt` lays it out (cells padded to
 * the column width), so the README stays format-clean after a write.
 */
export function markdownTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  rightAligned: (column: number) => boolean,
): string {
  const widths = header.map((h, i) =>
    Math.max(3, h.length, ...rows.map((r) => (r[i] ?? "").length))
  );
  const line = (cells: readonly string[]) =>
    `| ${
      cells.map((c, i) =>
        rightAligned(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)
      ).join(" | ")
    } |`;
  const rule = `| ${
    widths.map((w, i) =>
      rightAligned(i) ? "-".repeat(w - 1) + ":" : "-".repeat(w)
    ).join(" | ")
  } |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}

/** Greedy word wrap at 80 columns, as `deno fmt` wraps markdown prose. */
export function wrapProse(text: string, width = 80): string {
  const out: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/).filter((w) => w !== "")) {
    if (line === "") line = word;
    else if (line.length + 1 + word.length <= width) line += " " + word;
    else {
      out.push(line);
      line = word;
    }
  }
  if (line !== "") out.push(line);
  return out.join("\n");
}

/**
 * The markdown the README carries between the decision-bench markers:
 * deterministic for the fixed seed, already in `deno fmt` layout.
 */
export function renderDecisionTable(
  sizes: SimSizes = SIM_SIZES,
): string {
  const c = BENCH_CONFIG;
  const plan = planStat(c);
  const parts: string[] = [];
  parts.push(wrapProse(
    `Simulated with seed ${SEED}, metric direction max, ` +
      `${sizes.nullComparisons} comparisons per cell at \u22125% and +0%, ` +
      `${sizes.comparisons} at the gains. \`stat\` runs at its defaults ` +
      `(${plan.startPerSide} to ${plan.maxPerSide} trials a side, ` +
      `confidence ${c.confidence}); \`mean\` runs ${c.meanTrials} candidate ` +
      `trials against the incumbent's average recorded ` +
      `${RECORD_AGE_TRIALS} trials earlier. "kept" is the share decided ` +
      `\`improved\`: at \u22125% and +0% every keep is a false keep. ` +
      `"trials" counts both sides.`,
  ));
  const rows: string[][] = [];
  MODELS.forEach((model, mi) => {
    for (const [ri, rule] of (["stat", "mean"] as const).entries()) {
      const cells: string[] = [];
      const trials = new Map<number, number>();
      EFFECTS.forEach((effect, ei) => {
        const rng = mulberry32(cellSeed(1, mi, ri, ei));
        const n = effect <= 0 ? sizes.nullComparisons : sizes.comparisons;
        const s = simulateCell(rng, model, rule, effect, n);
        cells.push(pctCell(s.keepRate));
        trials.set(effect, s.meanTrials);
      });
      rows.push([
        model.name,
        rule,
        ...cells,
        trials.get(0)!.toFixed(1),
        trials.get(0.1)!.toFixed(1),
      ]);
    }
  });
  parts.push(markdownTable(
    [
      "noise",
      "rule",
      ...EFFECTS.map((e) => `kept at ${signedPct(e)}`),
      "trials at +0%",
      "trials at +10%",
    ],
    rows,
    (i) => i >= 2,
  ));
  parts.push(wrapProse(
    `${sizes.runs} runs of ${sizes.iterations} proposals per row, true ` +
      `effects drawn from ${
        PROPOSAL_MIX.map((p) => `${signedPct(p.effect)} (${p.weight * 100}%)`)
          .join(", ")
      }. "claimed" is the gain the run reports: its end-of-run ` +
      `confirmation, the start commit and the final incumbent measured ` +
      `interleaved (${plan.maxPerSide} trials a side under \`stat\`, ` +
      `${c.meanTrials} under \`mean\`; nothing when no change was kept, ` +
      `whose claim of +0% is exact). "true gain" is the final incumbent's ` +
      `true gain when the confirmation ran (under additive drift the ` +
      `relative gain shrinks as the machine drifts); "covered" is how often ` +
      `the claim's ${c.confidence * 100}% interval holds it. "trials/run" ` +
      `includes the confirmation.`,
  ));
  const runRows: string[][] = [];
  MODELS.forEach((model, mi) => {
    for (const [ri, rule] of (["stat", "mean"] as const).entries()) {
      const rng = mulberry32(cellSeed(2, mi, ri));
      let trueGain = 0;
      let claimed = 0;
      let covered = 0;
      let falseKeeps = 0;
      let trials = 0;
      for (let r = 0; r < sizes.runs; r++) {
        const res = simulateRun(rng, model, rule, sizes.iterations);
        trueGain += res.trueGain;
        claimed += res.claimedGain;
        if (
          res.claimedCi !== null && res.claimedCi[0] <= res.trueGain &&
          res.trueGain <= res.claimedCi[1]
        ) covered++;
        falseKeeps += res.falseKeeps;
        trials += res.trials;
      }
      const n = sizes.runs;
      runRows.push([
        model.name,
        rule,
        signedPct(trueGain / n),
        signedPct(claimed / n),
        pctCell(covered / n),
        (falseKeeps / n).toFixed(2),
        (trials / n).toFixed(0),
      ]);
    }
  });
  parts.push(markdownTable(
    [
      "noise",
      "rule",
      "true gain",
      "claimed gain",
      "covered",
      "false keeps/run",
      "trials/run",
    ],
    runRows,
    (i) => i >= 2,
  ));
  return parts.join("\n\n");
}

/** Start and end markers of the generated section in README.md. */
export const README_MARKERS = {
  start: "<!-- decision-bench:start -->",
  end: "<!-- decision-bench:end -->",
} as const;

/** The text between the markers (trimmed), or null when they are missing. */
export function readmeSection(readme: string): string | null {
  const a = readme.indexOf(README_MARKERS.start);
  const b = readme.indexOf(README_MARKERS.end);
  if (a < 0 || b < 0 || b < a) return null;
  return readme.slice(a + README_MARKERS.start.length, b).trim();
}

/** README with the section between the markers replaced; null without them. */
export function replaceReadmeSection(
  readme: string,
  section: string,
): string | null {
  const a = readme.indexOf(README_MARKERS.start);
  const b = readme.indexOf(README_MARKERS.end);
  if (a < 0 || b < 0 || b < a) return null;
  return readme.slice(0, a + README_MARKERS.start.length) + "\n\n" +
    section + "\n\n" + readme.slice(b);
}
