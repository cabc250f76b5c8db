/**
 * `ratchet init`'s guard suggestion (issue 18): when the benchmark prints
 * more numbers than the metric (an accuracy beside a time, a peak memory
 * beside a throughput), suggest keeping them from getting worse with
 * `--guard`. Pure: init reads the benchmark's files, this looks at their
 * text for the names of printed numbers.
 *
 * The benchmark is not run (init needs no Docker): the names come from the
 * program's print statements, `NAME: {…}` / `NAME=$x` / `"NAME": value`
 * inside a printing line. A name is suggested only when its direction can
 * be told from it (accuracy, score → max; loss, memory, size → min): a guard
 * pointing the wrong way would keep the loop from ever improving.
 */
import type { GuardSpec } from "./guards.ts";
import { DEFAULT_GUARD_TOLERANCE } from "./guards.ts";
import { isTimeLikeName } from "./metric.ts";

/** A suggested guard and why. */
export interface GuardSuggestion {
  guard: GuardSpec;
  /** The file that prints it. */
  file: string;
}

/**
 * The repository files the benchmark runs: tokens of the run command (and,
 * for `npm run X`, of the package's `scripts.X`) that are tracked files.
 */
export function benchmarkFiles(
  runCommand: string,
  files: readonly string[],
  packageJson: string | null,
): string[] {
  const tracked = new Set(files);
  let command = runCommand;
  const npm = /\bnpm\s+(?:run(?:-script)?\s+)?(?:-s\s+|--silent\s+)?([\w:-]+)/
    .exec(runCommand);
  if (npm !== null && packageJson !== null) {
    try {
      const script = JSON.parse(packageJson)?.scripts?.[npm[1]!];
      if (typeof script === "string") command += ` ${script}`;
    } catch {
      // A broken package.json names no files.
    }
  }
  const out: string[] = [];
  for (const token of command.split(/[\s;&|()<>"'=]+/)) {
    const path = token.replace(/^\.\//, "");
    if (tracked.has(path) && !out.includes(path)) out.push(path);
  }
  return out;
}

/** Words in a printing line: where a program writes its output. */
const PRINTING =
  /\b(print|printf|println|echo|puts|console\.(log|info)|write|writeln|dumps|stringify|Print|Printf|Println|fmt\.|say|log)\b/;

/** Names of the numbers a program's source prints, in order of appearance. */
export function printedNames(source: string): string[] {
  const names: string[] = [];
  const add = (name: string) => {
    if (/^[A-Za-z_][\w.]{0,40}$/.test(name) && !names.includes(name)) {
      names.push(name);
    }
  };
  for (const line of source.split("\n")) {
    if (!PRINTING.test(line)) continue;
    for (const m of line.matchAll(/"([^"\n]*)"|'([^'\n]*)'|`([^`\n]*)`/g)) {
      const literal = m[1] ?? m[2] ?? m[3] ?? "";
      // "NAME: {x}", "NAME=$x", "NAME: %d", or "NAME:" with the value after.
      for (
        const n of literal.matchAll(
          /(?:^|[\s,;{(\[])([A-Za-z_][\w.]*)\s*[:=]\s*(?=[{$%]|$)/g,
        )
      ) add(n[1]!);
      // "NAME": value (a JSON object being printed).
      const after = line.slice((m.index ?? 0) + m[0].length);
      if (/^\s*:/.test(after) && /^[A-Za-z_][\w.]*$/.test(literal)) {
        add(literal);
      }
    }
  }
  return names;
}

const MAX_WORDS =
  /acc|accuracy|score|f1|precision|recall|auc|throughput|ops|qps|rps|hits?|bleu|rouge|ndcg|speedup|pass(ed)?|correct|success/i;
const MIN_WORDS =
  /loss|err|error|mem|memory|rss|heap|size|bytes|kb|mb|latency|perplexity|ppl|wer|cer|fail(ed|ures)?|miss(es)?/i;

/** The direction a guard's name implies, or null when it does not say. */
export function guessDirection(name: string): "max" | "min" | null {
  const max = MAX_WORDS.test(name);
  const min = MIN_WORDS.test(name) || isTimeLikeName(name);
  if (max === min) return null;
  return max ? "max" : "min";
}

/**
 * Guards to suggest from the benchmark's sources: every printed number
 * other than the metric whose direction its name tells (a time beside a
 * time metric is left out: it is the same measurement).
 */
export function suggestGuards(
  sources: readonly { file: string; text: string }[],
  metricName: string,
): GuardSuggestion[] {
  const out: GuardSuggestion[] = [];
  const timeMetric = isTimeLikeName(metricName) || metricName === "seconds";
  for (const { file, text } of sources) {
    for (const name of printedNames(text)) {
      if (name.toLowerCase() === metricName.toLowerCase()) continue;
      if (timeMetric && isTimeLikeName(name)) continue;
      if (out.some((s) => s.guard.name === name)) continue;
      const direction = guessDirection(name);
      if (direction === null) continue;
      out.push({
        guard: { name, direction, tolerance: DEFAULT_GUARD_TOLERANCE },
        file,
      });
    }
  }
  return out;
}
