/**
 * Which rule decided a record, in a fixed form at the start of its
 * `detail` (issue 16, item 16): `rule=LABEL; …`, where LABEL is one of
 * {@linkcode RULE_LABELS}. `log` and the report read it back with
 * {@linkcode ruleOfDetail}; a reader of `results.jsonl` can too, with the
 * regular expression `^rule=([a-z/-]+)(;|$)`.
 */

/** Every label, with what it means. */
export const RULE_LABELS = {
  "mean": "--decision mean: the candidate's average against the recorded one",
  "exact": "deterministic metric: one trial a side, compared exactly",
  "stat/welch-t": "--decision stat: Welch's t-test, sequential",
  "stat/mann-whitney-exact": "--decision stat: Mann–Whitney U, exact p-values",
  "stat/mann-whitney-normal":
    "--decision stat: Mann–Whitney U, normal approximation",
  "none": "nothing was compared (a crashed candidate, failed incumbent trials)",
} as const;

/** A rule label of a record's detail. */
export type RuleLabel = keyof typeof RULE_LABELS;

/** The label of a verdict's rule (`welch-t`, `exact`, `mean`, …). */
export function ruleLabel(rule: string): RuleLabel {
  switch (rule) {
    case "mean":
    case "exact":
      return rule;
    case "welch-t":
    case "mann-whitney-exact":
    case "mann-whitney-normal":
      return `stat/${rule}`;
    default:
      return "none";
  }
}

/** `detail` in the fixed form: `rule=LABEL; text`. */
export function withRuleLabel(rule: string, text: string): string {
  const label = ruleLabel(rule);
  return text === "" ? `rule=${label}` : `rule=${label}; ${text}`;
}

const PATTERN = /^rule=([a-z/-]+)(?:;|$)/;

/** The rule label a detail starts with, or null (records without one). */
export function ruleOfDetail(detail: string): RuleLabel | null {
  const m = PATTERN.exec(detail);
  if (m === null) return null;
  return Object.hasOwn(RULE_LABELS, m[1]!) ? m[1] as RuleLabel : null;
}

/** The detail without its `rule=…;` prefix. */
export function detailText(detail: string): string {
  const m = PATTERN.exec(detail);
  return m === null ? detail : detail.slice(m[0].length).trimStart();
}
