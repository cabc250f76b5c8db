/**
 * Guard decisions (spec section 7): a candidate the rule would call
 * `improved` is kept only if no guard is worse than the incumbent's by
 * more than its tolerance.
 *
 * Under `stat` each guard gets a one-sided **non-inferiority** test on the
 * same interleaved trials as the metric. With `c` the guard's bound as a
 * multiple of the incumbent's mean (1 − TOL for a `max` guard of a
 * positive metric, 1 + TOL for a `min` one), the null hypothesis is "the
 * candidate is worse than c × the incumbent", and a guard is shown
 * **not worse** only when Welch's test of mean(candidate) − c·mean(incumbent)
 * rejects it. That contrast is Fieller's: the incumbent's mean is estimated,
 * not treated as known, so its noise counts. A guard is shown **worse** when
 * the same contrast is significant the other way (worse than the bound);
 * otherwise it is **open**. Both tests run at the look's nominal level of the
 * metric's group-sequential boundary, so repeated looks do not inflate
 * either error.
 *
 * Why not "no significant regression": with 3 trials a side almost no
 * regression is significant, so a test of "worse?" passes nearly every
 * candidate that does less work; non-inferiority puts the burden of proof
 * on the candidate (docs/decisions.md has the numbers).
 *
 * A deterministic guard (every baseline trial gave the same value) is
 * compared exactly. Under `mean` a guard's average must not be worse than
 * the incumbent's recorded average by more than its tolerance.
 */
import {
  lookAt,
  type LookPosition,
  type StatEstimate,
  type StatParams,
  type StatState,
  type StatStep,
  stepStat,
} from "./rule_stat.ts";
import type { GuardSpec } from "./guards.ts";
import { effectInterval, mean, welch } from "./stats.ts";

/** Where a guard stands after a look. */
export type GuardState = "not_worse" | "worse" | "open";

/** One guard at one look. */
export interface GuardLook {
  name: string;
  /** The guard's relative tolerance. */
  tolerance: number;
  state: GuardState;
  /** (candidate − incumbent) / |incumbent| from the means; null when undefined. */
  effect: number | null;
  /** Interval of `effect` (ratio scale, at the look's level); null where not computed. */
  ci: [number, number] | null;
  /**
   * One-sided p-value of the non-inferiority test (small: shown not worse
   * by more than the tolerance); null for exact and `mean` comparisons.
   */
  p_value: number | null;
  /** One line: the guard, its effect, the tolerance and the state. */
  detail: string;
}

/** The trials of one guard measured so far in an iteration. */
export interface GuardSample {
  incumbent: readonly number[];
  candidate: readonly number[];
}

function pct(x: number | null): string {
  if (x === null) return "n/a";
  const sign = x < 0 ? "\u2212" : "+";
  return `${sign}${(Math.abs(x) * 100).toFixed(1)}%`;
}

function tolText(g: GuardSpec): string {
  return `tolerance ${
    (g.tolerance * 100).toFixed(g.tolerance < 0.01 ? 2 : 1)
  }%`;
}

/**
 * The guard's bound as a multiple of the incumbent's mean: the candidate
 * may be as bad as c × incumbent and still pass. For a negative mean a
 * `max` guard's bound lies further from zero, hence the sign.
 */
export function guardBoundFactor(g: GuardSpec, incumbentMean: number): number {
  const s = Math.sign(incumbentMean);
  return g.direction === "max" ? 1 - g.tolerance * s : 1 + g.tolerance * s;
}

function relative(c: number, i: number): number | null {
  return i === 0 ? null : (c - i) / Math.abs(i);
}

const STATE_TEXT: Record<GuardState, string> = {
  not_worse: "not worse",
  worse: "worse",
  open: "open",
};

function describe(
  g: GuardSpec,
  effect: number | null,
  state: GuardState,
  extra = "",
): string {
  return `guard ${g.name} ${pct(effect)} (${tolText(g)}): ${
    STATE_TEXT[state]
  }${extra}`;
}

/**
 * Exact comparison of means against the bound: worse when the candidate's
 * mean is beyond it, else not worse. For deterministic guards and `mean`.
 */
export function exactGuard(
  g: GuardSpec,
  candidateMean: number,
  incumbentMean: number,
  ci: "point" | "none",
): GuardLook {
  const c = guardBoundFactor(g, incumbentMean);
  const sign = g.direction === "max" ? 1 : -1;
  const state: GuardState = sign * (candidateMean - c * incumbentMean) < 0
    ? "worse"
    : "not_worse";
  const effect = relative(candidateMean, incumbentMean);
  return {
    name: g.name,
    tolerance: g.tolerance,
    state,
    effect,
    ci: ci === "point" && effect !== null ? [effect, effect] : null,
    p_value: null,
    detail: describe(g, effect, state),
  };
}

/**
 * One look at a guard under `stat`: the non-inferiority test and its
 * mirror at one-sided level `level` (the look's α_k). `deterministic`
 * compares the means exactly.
 */
export function lookGuard(
  g: GuardSpec,
  sample: GuardSample,
  options: { level: number; deterministic: boolean },
): GuardLook {
  const { incumbent, candidate } = sample;
  if (incumbent.length === 0 || candidate.length === 0) {
    return {
      name: g.name,
      tolerance: g.tolerance,
      state: "open",
      effect: null,
      ci: null,
      p_value: null,
      detail: `guard ${g.name}: no value on one side yet`,
    };
  }
  const mI = mean(incumbent);
  const mC = mean(candidate);
  if (options.deterministic) return exactGuard(g, mC, mI, "point");
  const effect = relative(mC, mI);
  if (incumbent.length < 2 || candidate.length < 2) {
    return {
      name: g.name,
      tolerance: g.tolerance,
      state: "open",
      effect,
      ci: null,
      p_value: null,
      detail: describe(g, effect, "open", ", too few trials"),
    };
  }
  const c = guardBoundFactor(g, mI);
  const w = welch(candidate, incumbent.map((v) => c * v));
  if (w === null) {
    // Neither side varies: the comparison with the bound is exact.
    return exactGuard(g, mC, mI, "point");
  }
  const pNotWorse = g.direction === "max" ? w.pGreater : w.pLess;
  const pWorse = g.direction === "max" ? w.pLess : w.pGreater;
  const state: GuardState = pNotWorse <= options.level
    ? "not_worse"
    : pWorse <= options.level
    ? "worse"
    : "open";
  return {
    name: g.name,
    tolerance: g.tolerance,
    state,
    effect,
    ci: effectInterval(candidate, incumbent, 1 - options.level),
    p_value: Math.min(1, pNotWorse),
    detail: describe(
      g,
      effect,
      state,
      `, non-inferiority p=${pNotWorse.toPrecision(3)} vs level ${
        options.level.toPrecision(3)
      }`,
    ),
  };
}

/**
 * The metric's step combined with its guards' looks at the same trials:
 *
 * - the rule did not call the candidate better (`no_change`, `regressed`,
 *   `inconclusive`, `crashed`): its verdict stands;
 * - a guard is shown worse: `regressed` (`guard_regressed`), naming it,
 *   even while the metric is still open (the candidate can no longer be
 *   kept, so measuring on would be waste);
 * - the rule calls it `improved` and every guard is shown not worse:
 *   `improved`;
 * - some guard still open: another pair while the plan allows
 *   (`final` false), else `inconclusive` (`trials_exhausted`), naming it.
 */
export function combineGuards(
  step: StatStep,
  looks: readonly GuardLook[],
  at: { position: LookPosition; nIncumbent: number; nCandidate: number },
): StatStep {
  if (looks.length === 0) return step;
  if (step.kind === "done" && step.decision !== "improved") return step;
  const worse = looks.filter((l) => l.state === "worse");
  if (worse.length > 0) {
    const primary: StatEstimate | null = step.kind === "done"
      ? step
      : step.estimate ?? null;
    return {
      kind: "done",
      decision: "regressed",
      reason: "guard_regressed",
      detail: `${
        worse.map((l) => l.detail).join("; ")
      }; metric: ${step.detail}`,
      p_value: primary?.p_value ?? null,
      effect: primary?.effect ?? null,
      ci: primary?.ci ?? null,
      n_incumbent: at.nIncumbent,
      n_candidate: at.nCandidate,
      rule: primary?.rule ?? "none",
    };
  }
  if (step.kind === "continue") return step;
  const open = looks.filter((l) => l.state === "open");
  if (open.length === 0) {
    return {
      ...step,
      detail: `${step.detail}; ${looks.map((l) => l.detail).join("; ")}`,
    };
  }
  if (!at.position.final) {
    return {
      kind: "continue",
      look: at.position.look,
      looks: at.position.looks,
      detail: `the metric is better; ${open.map((l) => l.detail).join("; ")}`,
      estimate: step,
    };
  }
  return {
    ...step,
    decision: "inconclusive",
    reason: "trials_exhausted",
    detail: `${
      open.map((l) => l.detail).join("; ")
    } when the trials ran out; metric: ${step.detail}`,
  };
}

/** Every guard's values measured so far in one comparison (ok trials only). */
export interface GuardValues {
  specs: readonly GuardSpec[];
  incumbent: Record<string, readonly number[]>;
  candidate: Record<string, readonly number[]>;
  /** Guards whose baseline trials were all identical: compared exactly. */
  deterministic: Record<string, boolean>;
}

/**
 * One look of `--decision stat` with guards: the metric's
 * {@linkcode stepStat}, each guard's {@linkcode lookGuard} at the same
 * look's level, and {@linkcode combineGuards}. What `judge` (judge.ts)
 * and the decision bench both run.
 */
export function stepStatGuarded(
  state: StatState,
  params: StatParams,
  guards: GuardValues,
): { step: StatStep; looks: GuardLook[] } {
  const step = stepStat(state, params);
  if (guards.specs.length === 0) return { step, looks: [] };
  const pairs = Math.max(state.incumbent.length, state.candidate.length);
  const position = lookAt(pairs, params);
  const looks = guards.specs.map((g) =>
    lookGuard(g, {
      incumbent: guards.incumbent[g.name] ?? [],
      candidate: guards.candidate[g.name] ?? [],
    }, {
      level: position.level,
      deterministic: guards.deterministic[g.name] ?? false,
    })
  );
  return {
    step: combineGuards(step, looks, {
      position,
      nIncumbent: state.incumbent.length,
      nCandidate: state.candidate.length,
    }),
    looks,
  };
}
