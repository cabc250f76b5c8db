/**
 * The figures of docs/decisions.md, generated: each passage that states a
 * number the code or a simulation produces sits between
 * `<!-- decisions:NAME:start -->` and `<!-- decisions:NAME:end -->`, and
 * `deno task bench:decision --write-docs` rewrites it from here (a test
 * fails when the committed page differs). Seeded, so deterministic.
 */
import {
  BASE,
  BENCH_CONFIG,
  cellSeed,
  type Clock,
  DRIFT_PER_TRIAL,
  EFFECTS,
  markdownTable,
  MODELS,
  type NoiseModel,
  pctCell,
  SEED,
  signedPct,
  simulateCell,
  simulateStat,
  statParams,
  wrapProse,
} from "./_decision_sim.ts";
import { planStat } from "../src/core/measure_plan.ts";
import type { StatParams } from "../src/core/rule_stat.ts";
import { stepStatGuarded } from "../src/core/guard_decide.ts";
import type { GuardSpec } from "../src/core/guards.ts";
import { detectableEffect } from "../src/core/noise.ts";
import { mulberry32, type Rng } from "../src/core/rng.ts";
import { type LookMethod, planBoundary } from "../src/core/sequential.ts";
import {
  MAD_TO_SD,
  median,
  pairOutlierLimit,
  welch,
} from "../src/core/stats.ts";

/** How much the page's simulations run. */
export interface DocSizes {
  /** Comparisons per cell of the look-method table and the pair order. */
  comparisons: number;
  /** Samples per size for the fixed-k outlier rate. */
  outlierSamples: number;
  /** Comparisons per calibrate check. */
  calibrate: number;
  /** Comparisons per cell of the guard tables. */
  guards: number;
}

/** The sizes the committed page was generated with. */
export const DOC_SIZES: DocSizes = {
  comparisons: 10000,
  outlierSamples: 20000,
  calibrate: 2000,
  guards: 4000,
};

function pct1(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

// ---------------------------------------------------------------------------
// Pair order under drift

const NORMAL_2: NoiseModel = {
  name: "normal, CV 2%",
  draw: (rng, v) => v * (1 + 0.02 * rng.normal()),
};
const DRIFT_2: NoiseModel = MODELS.find((m) => m.name.includes("drift"))!;

function nullRate(
  seed: number,
  model: NoiseModel,
  n: number,
  order: "ABAB" | "ABBA",
  params: StatParams = statParams(),
): { keep: number; perSide: number } {
  const rng = mulberry32(cellSeed(10, seed));
  let kept = 0;
  let perSide = 0;
  for (let k = 0; k < n; k++) {
    const clock: Clock = { index: 60 };
    const out = simulateStat(rng, model, BASE, BASE, clock, params, order);
    if (out.verdict.decision === "improved") kept++;
    perSide += out.incumbent.length;
  }
  return { keep: kept / n, perSide: perSide / n };
}

function orderSection(s: DocSizes): string {
  const n = s.comparisons;
  const still = nullRate(1, NORMAL_2, n, "ABAB").keep;
  const drift = nullRate(2, DRIFT_2, n, "ABAB").keep;
  const abba = nullRate(3, DRIFT_2, n, "ABBA").keep;
  return wrapProse(
    `With strictly A-then-B pairs a linear drift of β per trial still ` +
      `shifts the difference by β (the candidate is always one trial later). ` +
      `In the bench's drift model (${
        DRIFT_PER_TRIAL * 100
      }% of the value per trial, 2% noise) the null false-keep rate is ` +
      `${pct1(drift)}, against ${pct1(still)} without drift (${n} simulated ` +
      `comparisons each, standard error ${
        (Math.sqrt(0.05 * 0.95 / n) * 100).toFixed(1)
      } points); alternating the order of each pair (A B B A A B …) ` +
      `gives ${pct1(abba)}. At this drift the order is lost in the noise. ` +
      `\`simulateStat(…, "ABBA")\` in the bench code measures both orders.`,
  );
}

// ---------------------------------------------------------------------------
// The rank test's switch

function outlierSection(s: DocSizes): string {
  const ks = [3, 5, 10, 20].map((n) =>
    `${pairOutlierLimit(n).toFixed(1)} at ${n}`
  );
  // How often two normal samples would trip a fixed k = 3.
  const rates = [3, 5, 10].map((n) => {
    const rng = mulberry32(cellSeed(11, n));
    let hit = 0;
    for (let i = 0; i < s.outlierSamples; i++) {
      const a = Array.from({ length: n }, () => rng.normal());
      const b = Array.from({ length: n }, () => rng.normal());
      const res: number[] = [];
      for (const side of [a, b]) {
        const m = median(side);
        for (const v of side) res.push(Math.abs(v - m));
      }
      const limit = 3 * MAD_TO_SD * median(res);
      if (res.some((r) => r > limit)) hit++;
    }
    return hit / s.outlierSamples;
  });
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  return wrapProse(
    `The outlier rule's k depends on the trials a side (${
      ks.join(", ")
    }) and is the 98th ` +
      `percentile of the statistic for normal data, so honest Gaussian ` +
      `noise switches to the rank test only 2% of the time. A fixed k = 3 ` +
      `would switch for ${pct1(lo)} to ${pct1(hi)} of normal samples at 3, ` +
      `5 and 10 trials a side (${s.outlierSamples} simulated each), and at ` +
      `3 or 4 trials a side the rank test cannot be significant at all, so ` +
      `every spurious switch costs trials.`,
  );
}

// ---------------------------------------------------------------------------
// Nominal levels and the look methods

function levelsSection(): string {
  const plan = planStat(BENCH_CONFIG);
  const b = planBoundary(
    BENCH_CONFIG.confidence,
    plan.startPerSide,
    plan.maxPerSide,
  );
  const pairs = b.times.map((_, i) => String(plan.startPerSide + i));
  const levels = b.nominal.map((x) => x < 0.001 ? x.toFixed(5) : x.toFixed(4));
  return markdownTable(["pairs", ...pairs], [["nominal level", ...levels]], (
    i,
  ) => i > 0);
}

interface MethodRow {
  label: string;
  method: LookMethod;
  futility: boolean;
}

const METHOD_ROWS: readonly MethodRow[] = [
  {
    label: "O'Brien–Fleming + futility",
    method: "obrien-fleming",
    futility: true,
  },
  { label: "Pocock-type + futility", method: "pocock", futility: true },
  {
    label: "Bonferroni (α/8) + futility",
    method: "bonferroni",
    futility: true,
  },
  { label: "no correction + futility", method: "none", futility: true },
  {
    label: "O'Brien–Fleming, no futility",
    method: "obrien-fleming",
    futility: false,
  },
];

const CV5: NoiseModel = MODELS.find((m) => m.name === "normal, CV 5%")!;
const METHOD_EFFECTS = [0, 0.05, 0.1] as const;

/** Keep rate and trials a side per method and effect, at CV 5%. */
export function methodTable(
  s: DocSizes,
): { row: MethodRow; cells: { keep: number; perSide: number }[] }[] {
  return METHOD_ROWS.map((row, ri) => ({
    row,
    cells: METHOD_EFFECTS.map((effect, ei) => {
      const rng = mulberry32(cellSeed(12, ri, ei));
      const params = {
        ...statParams(),
        lookMethod: row.method,
        futility: row.futility,
      };
      let kept = 0;
      let perSide = 0;
      for (let k = 0; k < s.comparisons; k++) {
        const out = simulateStat(
          rng,
          CV5,
          BASE,
          BASE * (1 + effect),
          { index: 0 },
          params,
        );
        if (out.verdict.decision === "improved") kept++;
        perSide += out.incumbent.length;
      }
      return { keep: kept / s.comparisons, perSide: perSide / s.comparisons };
    }),
  }));
}

function methodsSection(
  table: ReturnType<typeof methodTable>,
  s: DocSizes,
): string {
  const none = table[3]!.cells[0]!.keep;
  const obf = table[0]!.cells;
  const obfNoFut = table[4]!.cells;
  const intro = wrapProse(
    `Looking after every pair and testing each look at 5% would keep ` +
      `${pct1(none)} of changes that do nothing (simulated below). With ` +
      `ratchet's boundaries the realized rate is ${
        pct1(obfNoFut[0]!.keep)
      } without futility stopping and ${pct1(obf[0]!.keep)} with it ` +
      `(futility only stops, never keeps).`,
  );
  const tableText = markdownTable(
    ["method", "no change", "+5%", "+10%"],
    table.map(({ row, cells }) => [
      row.label,
      ...cells.map((c) => `${pct1(c.keep)} (${c.perSide.toFixed(1)})`),
    ]),
    () => false,
  );
  const pocock = table[1]!.cells;
  return [
    intro,
    wrapProse(
      `Simulated at CV 5% (${s.comparisons} comparisons each, seed ${SEED}; ` +
        `keep rate and mean trials a side):`,
    ),
    tableText,
    wrapProse(
      `Bonferroni is valid but wastes the correlation between looks (${
        pct1(table[2]!.cells[1]!.keep)
      } at +5%); Pocock stops a little sooner but keeps ${
        ((obf[1]!.keep - pocock[1]!.keep) * 100).toFixed(1)
      } points fewer of the +5% gains.`,
    ),
  ].join("\n\n");
}

function futilitySection(table: ReturnType<typeof methodTable>): string {
  const obf = table[0]!.cells;
  const none = table[4]!.cells;
  return wrapProse(
    `In the simulation it cuts the trials spent on changes that do nothing ` +
      `from ${none[0]!.perSide.toFixed(1)} to ${
        obf[0]!.perSide.toFixed(1)
      } a side, for ${
        ((none[1]!.keep - obf[1]!.keep) * 100).toFixed(1)
      } points of power at +5% (the table above).`,
  );
}

// ---------------------------------------------------------------------------
// calibrate's recommendations, checked through the real rule

function calibrateSection(s: DocSizes): string {
  const rates: number[] = [];
  const cases: [number, number][] = [[0.01, 10], [0.05, 10], [0.05, 20], [
    0.1,
    30,
  ]];
  cases.forEach(([cv, n], i) => {
    const effect = detectableEffect(cv, n);
    const model: NoiseModel = {
      name: "",
      draw: (rng, v) => v * (1 + cv * rng.normal()),
    };
    const params = { ...statParams(), maxPerSide: n };
    const rng = mulberry32(cellSeed(13, i));
    let kept = 0;
    for (let k = 0; k < s.calibrate; k++) {
      const out = simulateStat(
        rng,
        model,
        BASE,
        BASE * (1 + effect),
        { index: 0 },
        params,
      );
      if (out.verdict.decision === "improved") kept++;
    }
    rates.push(kept / s.calibrate);
  });
  const lo = Math.min(...rates);
  const hi = Math.max(...rates);
  return wrapProse(
    `Simulated through the real rule (${s.calibrate} comparisons at each of ` +
      `${
        cases.map(([cv, n]) => `CV ${cv * 100}% with ${n} a side`).join(", ")
      }), the effects it calls 80%-detectable are kept ${pct1(lo)} to ` +
      `${pct1(hi)} of the time.`,
  );
}

// ---------------------------------------------------------------------------
// The summary of the README table

function summarySection(): string {
  const sizes = { nullComparisons: 10000, comparisons: 1000 };
  const nullCell = (mi: number, ri: number) => {
    const ei = EFFECTS.indexOf(0);
    return simulateCell(
      mulberry32(cellSeed(1, mi, ri, ei)),
      MODELS[mi]!,
      ri === 0 ? "stat" : "mean",
      0,
      sizes.nullComparisons,
    );
  };
  const stat = MODELS.map((_, mi) => nullCell(mi, 0));
  const mean = MODELS.map((_, mi) => nullCell(mi, 1));
  const mi5 = MODELS.indexOf(CV5);
  const gain = simulateCell(
    mulberry32(cellSeed(1, mi5, 0, EFFECTS.indexOf(0.1))),
    CV5,
    "stat",
    0.1,
    sizes.comparisons,
  );
  const rates = stat.map((c) => c.keepRate);
  const meanRates = mean.map((c) => c.keepRate);
  const maxNullTrials = Math.max(...stat.map((c) => c.meanTrials)) / 2;
  return wrapProse(
    `The README table comes from \`bench/_decision_sim.ts\` (seeded; a test ` +
      `fails when the README copy is stale). At the defaults \`stat\` keeps ` +
      `${pct1(Math.min(...rates))}–${
        pct1(Math.max(...rates))
      } of changes that do nothing under every noise model, including ` +
      `drift, outliers, heavy tails and bimodal noise, against ${
        pct1(Math.min(...meanRates))
      }–${pct1(Math.max(...meanRates))} for \`mean\`; it finds a 10% gain at ` +
      `CV 5% ${pct1(gain.keepRate)} of the time using ${
        (gain.meanTrials / 2).toFixed(1)
      } trials a side on average, and spends at most ${
        maxNullTrials.toFixed(1)
      } trials a side on average on changes that do nothing.`,
  );
}

// ---------------------------------------------------------------------------
// Guards

/** The guard of the bench: accuracy-like, higher is better, 2% tolerance. */
export const BENCH_GUARD: GuardSpec = {
  name: "accuracy",
  direction: "max",
  tolerance: 0.02,
};

/** The guard rules compared: ratchet's, the naive one, none. */
export type GuardRule =
  | "non-inferiority"
  | "no-significant-regression"
  | "none";

/** Noise of the guard, as a coefficient of variation. */
export const GUARD_CVS: readonly number[] = [0.005, 0.01, 0.02, 0.04];

/**
 * One comparison of a candidate whose metric truly gains 10% (CV 2%) and
 * whose guard truly changes by `guardEffect` (relative), under a guard rule.
 * `non-inferiority` is ratchet's ({@linkcode stepStatGuarded}); the naive
 * rule keeps unless a Welch test of "worse at all" is significant at the
 * look's level; `none` ignores the guard.
 */
export function simulateGuarded(
  rng: Rng,
  input: { guardCv: number; guardEffect: number; rule: GuardRule },
): { kept: boolean; perSide: number } {
  const params = statParams();
  const inc: number[] = [];
  const cand: number[] = [];
  const gInc: number[] = [];
  const gCand: number[] = [];
  const pair = () => {
    inc.push(BASE * (1 + 0.02 * rng.normal()));
    gInc.push(0.9 * (1 + input.guardCv * rng.normal()));
    cand.push(BASE * 1.1 * (1 + 0.02 * rng.normal()));
    gCand.push(
      0.9 * (1 + input.guardEffect) * (1 + input.guardCv * rng.normal()),
    );
  };
  for (let k = 0; k < params.startPerSide; k++) pair();
  for (;;) {
    const specs = input.rule === "non-inferiority" ? [BENCH_GUARD] : [];
    const { step } = stepStatGuarded(
      { incumbent: inc, candidate: cand },
      params,
      {
        specs,
        incumbent: { accuracy: gInc },
        candidate: { accuracy: gCand },
        deterministic: {},
      },
    );
    if (step.kind === "done") {
      let kept = step.decision === "improved";
      if (kept && input.rule === "no-significant-regression") {
        const level = planBoundary(
          params.confidence,
          params.startPerSide,
          params.maxPerSide,
        ).nominal[
          Math.min(inc.length, params.maxPerSide) - params.startPerSide
        ]!;
        kept = !(welch(gCand, gInc)!.pLess <= level);
      }
      return { kept, perSide: inc.length };
    }
    pair();
  }
}

function guardCell(
  s: DocSizes,
  ids: number[],
  input: { guardCv: number; guardEffect: number; rule: GuardRule },
): { keep: number; perSide: number } {
  const rng = mulberry32(cellSeed(14, ...ids));
  let kept = 0;
  let perSide = 0;
  for (let k = 0; k < s.guards; k++) {
    const out = simulateGuarded(rng, input);
    if (out.kept) kept++;
    perSide += out.perSide;
  }
  return { keep: kept / s.guards, perSide: perSide / s.guards };
}

/** The guard tables' numbers: false keeps at 2× the tolerance, and costs. */
export function guardTable(s: DocSizes) {
  return GUARD_CVS.map((cv, ci) => ({
    cv,
    ni: guardCell(s, [ci, 0], {
      guardCv: cv,
      guardEffect: -2 * BENCH_GUARD.tolerance,
      rule: "non-inferiority",
    }),
    naive: guardCell(s, [ci, 1], {
      guardCv: cv,
      guardEffect: -2 * BENCH_GUARD.tolerance,
      rule: "no-significant-regression",
    }),
    honest: guardCell(s, [ci, 2], {
      guardCv: cv,
      guardEffect: 0,
      rule: "non-inferiority",
    }),
    unguarded: guardCell(s, [ci, 3], {
      guardCv: cv,
      guardEffect: 0,
      rule: "none",
    }),
  }));
}

export function guardsSection(s: DocSizes = DOC_SIZES): string {
  const rows = guardTable(s);
  const plan = planStat(BENCH_CONFIG);
  return [
    wrapProse(
      `Simulated with seed ${SEED}, ${s.guards} comparisons per cell: the ` +
        `metric truly gains 10% (normal noise, CV 2%), \`stat\` at its ` +
        `defaults (${plan.startPerSide} to ${plan.maxPerSide} trials a ` +
        `side), one guard (higher is better) with tolerance ${
          BENCH_GUARD.tolerance * 100
        }% and normal noise of the CV in the first column. "false keeps" ` +
        `is the share kept when the guard truly got worse by ${
          2 * BENCH_GUARD.tolerance * 100
        }% (twice its tolerance): ratchet's non-inferiority test against ` +
        `"no significant regression" (keep unless a test of "worse at all" ` +
        `is significant at the look's level). "kept" and "trials" are for a ` +
        `guard that did not change at all, with the guard and without it ` +
        `(trials a side).`,
    ),
    markdownTable(
      [
        "guard noise",
        "false keeps (non-inferiority)",
        "false keeps (no significant regression)",
        "kept, guard unchanged",
        "trials, with guard",
        "trials, without",
      ],
      rows.map((r) => [
        `CV ${signedPct(r.cv).replace("+", "")}`,
        pctCell(r.ni.keep),
        pctCell(r.naive.keep),
        pctCell(r.honest.keep),
        r.honest.perSide.toFixed(1),
        r.unguarded.perSide.toFixed(1),
      ]),
      (i) => i >= 1,
    ),
  ].join("\n\n");
}

// ---------------------------------------------------------------------------
// The page

/** The generated sections of docs/decisions.md, by marker name. */
export function renderDocSections(
  s: DocSizes = DOC_SIZES,
): Record<string, string> {
  const methods = methodTable(s);
  return {
    order: orderSection(s),
    "outlier-k": outlierSection(s),
    levels: levelsSection(),
    methods: methodsSection(methods, s),
    futility: futilitySection(methods),
    calibrate: calibrateSection(s),
    summary: summarySection(),
    guards: guardsSection(s),
  };
}

const marker = (name: string, edge: "start" | "end") =>
  `<!-- decisions:${name}:${edge} -->`;

/** The text between a section's markers (trimmed), or null without them. */
export function docSection(doc: string, name: string): string | null {
  const a = doc.indexOf(marker(name, "start"));
  const b = doc.indexOf(marker(name, "end"));
  if (a < 0 || b < a) return null;
  return doc.slice(a + marker(name, "start").length, b).trim();
}

/**
 * The page with every section replaced; throws naming a section whose
 * markers are missing.
 */
export function replaceDocSections(
  doc: string,
  sections: Record<string, string>,
): string {
  let out = doc;
  for (const [name, text] of Object.entries(sections)) {
    const a = out.indexOf(marker(name, "start"));
    const b = out.indexOf(marker(name, "end"));
    if (a < 0 || b < a) {
      throw new Error(
        `docs/decisions.md lacks ${marker(name, "start")} … ${
          marker(name, "end")
        }`,
      );
    }
    out = out.slice(0, a + marker(name, "start").length) + "\n\n" + text +
      "\n\n" + out.slice(b);
  }
  return out;
}
