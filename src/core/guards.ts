/**
 * Guard metrics (`--guard NAME:max|min[:TOL]`, spec sections 3, 7 and 8):
 * secondary metrics read from the same report as the primary one, which a
 * kept change must not make worse by more than a tolerance.
 *
 * This module holds what is pure about them besides the decision: parsing
 * and printing a guard's spec, and extracting every guard's value from a
 * report by the metric's own rules ({@linkcode extractMetric}: a JSON key or
 * dotted path, then the last `NAME: VALUE` line; time units become seconds).
 * `--metric-pattern` belongs to the primary metric alone and never applies
 * to a guard. The decision is in `guard_decide.ts`.
 */
import { extractMetric, type MetricResult, type MetricRule } from "./metric.ts";

/** One guard: a metric that must not get worse. */
export interface GuardSpec {
  /** The name (or dotted JSON path) of the guard in the report. */
  name: string;
  /** Which way is better for the guard: `max` (accuracy) or `min` (memory). */
  direction: "max" | "min";
  /**
   * Relative slack: the guard may be worse than the incumbent's by at most
   * `tolerance · |incumbent mean|` (0.02 = 2%). From 0 to 1.
   */
  tolerance: number;
}

/** Tolerance of a guard whose spec does not give one (spec section 3). */
export const DEFAULT_GUARD_TOLERANCE = 0.02;

/** How a guard is written on the command line and in the config. */
export const GUARD_FORMAT = "NAME:max|min[:TOL]";

/**
 * Parse `NAME:max|min[:TOL]`. The name may itself hold colons (the
 * direction is the last `:max`/`:min` that the optional tolerance follows).
 * Returns the guard, or a message saying what is wrong with the text.
 */
export function parseGuardSpec(
  text: string,
): { ok: true; guard: GuardSpec } | { ok: false; message: string } {
  const shown = JSON.stringify(text);
  const m = /^(.*):(max|min)(?::([^:]*))?$/.exec(text.trim());
  if (m === null) {
    return {
      ok: false,
      message: `${shown} is not ${GUARD_FORMAT}: it needs a name, then ` +
        `":max" (higher is better) or ":min" (lower is better), then ` +
        `optionally ":TOL", the relative slack (default ${DEFAULT_GUARD_TOLERANCE})`,
    };
  }
  const name = m[1]!.trim();
  if (name === "") {
    return {
      ok: false,
      message: `${shown} has no guard name before ":${m[2]}"`,
    };
  }
  let tolerance = DEFAULT_GUARD_TOLERANCE;
  if (m[3] !== undefined) {
    const raw = m[3].trim();
    tolerance = raw === "" ? NaN : Number(raw);
    if (!Number.isFinite(tolerance)) {
      return {
        ok: false,
        message: `${shown}: the tolerance ${
          JSON.stringify(m[3])
        } is not a number; write it as a fraction (0.02 = 2%)`,
      };
    }
    if (tolerance < 0 || tolerance > 1) {
      return {
        ok: false,
        message: `${shown}: the tolerance ${tolerance} is outside 0 to 1; ` +
          `it is relative (0.02 = 2% worse than the incumbent at most)`,
      };
    }
  }
  return {
    ok: true,
    guard: { name, direction: m[2] as "max" | "min", tolerance },
  };
}

/** The spec text of a guard (what `parseGuardSpec` reads back). */
export function formatGuardSpec(guard: GuardSpec): string {
  return `${guard.name}:${guard.direction}:${guard.tolerance}`;
}

/** Every guard's value in one report. */
export interface GuardExtraction {
  /** Value per guard name; null when that guard was not found. */
  values: Record<string, number | null>;
  /** Non-time unit per guard name (null for plain numbers and times). */
  units: Record<string, string | null>;
  /** Rule that matched per guard name (null when not found). */
  rules: Record<string, MetricRule | null>;
  /**
   * The first guard that has no valid value, with the extraction's message
   * (which rules were tried); null when every guard was found.
   */
  missing: { name: string; tried: MetricRule[]; message: string } | null;
}

/**
 * Extract every guard from the report texts, by the metric's rules. Each
 * guard is looked for in the texts in order and taken from the first that
 * holds it (for `--report-source wall` the texts are stdout then stderr;
 * otherwise the single report the metric is read from). With
 * `expectedUnits`, a guard whose unit differs from the baseline's counts as
 * missing, as the primary metric's does. Pure and total: never throws.
 */
export function extractGuards(
  texts: readonly string[],
  guards: readonly GuardSpec[],
  options: { expectedUnits?: Record<string, string | null> } = {},
): GuardExtraction {
  const out: GuardExtraction = {
    values: {},
    units: {},
    rules: {},
    missing: null,
  };
  for (const g of guards) {
    let found: MetricResult | null = null;
    let firstFailure: MetricResult | null = null;
    for (const text of texts) {
      const r = extractMetric(text, {
        metricName: g.name,
        metricPattern: null,
        source: "text",
      });
      if (r.ok) {
        found = r;
        break;
      }
      firstFailure ??= r;
    }
    if (found === null || !found.ok) {
      out.values[g.name] = null;
      out.units[g.name] = null;
      out.rules[g.name] = null;
      const failure = firstFailure !== null && !firstFailure.ok
        ? firstFailure
        : null;
      out.missing ??= {
        name: g.name,
        tried: failure?.tried ?? ["json", "line"],
        message: `guard ${JSON.stringify(g.name)}: ${
          failure?.message ?? "there is no report to read it from"
        }`,
      };
      continue;
    }
    const expected = options.expectedUnits?.[g.name];
    if (expected !== undefined && found.unit !== expected) {
      out.values[g.name] = null;
      out.units[g.name] = found.unit;
      out.rules[g.name] = found.rule;
      out.missing ??= {
        name: g.name,
        tried: [found.rule],
        message: `guard ${JSON.stringify(g.name)}: its unit ${
          found.unit === null ? "(none)" : `"${found.unit}"`
        } differs from the baseline's ${
          expected === null ? "(none)" : `"${expected}"`
        }`,
      };
      continue;
    }
    out.values[g.name] = found.value;
    out.units[g.name] = found.unit;
    out.rules[g.name] = found.rule;
  }
  return out;
}

/** Guard values of a trial that produced no report: every one null. */
export function noGuardValues(
  guards: readonly GuardSpec[],
): Record<string, number | null> {
  return Object.fromEntries(guards.map((g) => [g.name, null]));
}
