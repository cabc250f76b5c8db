/**
 * The results of `deno task bench:trial`, kept in git
 * (bench/results/trial.json) and rendered into the README between
 * `<!-- trial-bench:start -->` and `<!-- trial-bench:end -->`, so the
 * README's numbers are the bench's output and a test
 * (bench/_trial_results_test.ts) fails when the two disagree.
 *
 * The rendering knows nothing about what was measured: any list of rows
 * renders, so a new measurement is one more row from the bench.
 */
import { fileURLToPath } from "node:url";
import { tableCell } from "../tools/_markdown.ts";

/** One measured (or derived) figure. */
export interface TrialBenchRow {
  /** What was timed or measured, as the table shows it. */
  what: string;
  /** The median of the samples (the value itself for a single figure). */
  median: number;
  /** The smallest sample; null for a derived figure or a single value. */
  min: number | null;
  unit: "ms" | "MB";
  /** Samples behind the median; 0 for a figure derived from other rows. */
  samples: number;
  /** How it compares (ratios, goals met), or its parts. */
  note: string;
}

/** What bench/results/trial.json holds. */
export interface TrialBenchResults {
  schema_version: 1;
  /** ISO time the bench finished. */
  measured_at: string;
  /** The command that wrote the file. */
  command: string;
  /** The machine and engine: deno, os, cpus, engine, runtime, cgroup, load. */
  environment: Record<string, string>;
  rows: TrialBenchRow[];
}

/** The committed results. */
export const TRIAL_RESULTS: string = fileURLToPath(
  new URL("./results/trial.json", import.meta.url),
);

/** The README's markers around the rendered block. */
export const TRIAL_MARKERS = {
  start: "<!-- trial-bench:start -->",
  end: "<!-- trial-bench:end -->",
} as const;

/** Read and check the shape of a results file. */
export function parseTrialResults(text: string): TrialBenchResults {
  const value = JSON.parse(text) as TrialBenchResults;
  if (value.schema_version !== 1 || !Array.isArray(value.rows)) {
    throw new Error("not a trial bench results file (schema_version 1, rows)");
  }
  return value;
}

function amount(value: number, unit: TrialBenchRow["unit"]): string {
  return `${value.toFixed(1)} ${unit}`;
}

/** The README block for `results` (Markdown, before `deno fmt`). */
export function renderTrialBlock(results: TrialBenchResults): string {
  const env = Object.entries(results.environment).map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return [
    `Measured by \`${results.command}\` on ${
      results.measured_at.slice(0, 16).replace("T", " ")
    } UTC (${env}); the numbers are bench/results/trial.json.`,
    "",
    "| measured | median | min | samples | note |",
    "|---|--:|--:|--:|---|",
    ...results.rows.map((r) =>
      `| ${tableCell(r.what)} | ${amount(r.median, r.unit)} | ${
        r.min === null ? "—" : amount(r.min, r.unit)
      } | ${r.samples === 0 ? "derived" : r.samples} | ${tableCell(r.note)} |`
    ),
  ].join("\n");
}

/** The text between the markers (trimmed), or null without markers. */
export function readmeBlock(readme: string): string | null {
  const start = readme.indexOf(TRIAL_MARKERS.start);
  const end = readme.indexOf(TRIAL_MARKERS.end);
  if (start === -1 || end < start) return null;
  return readme.slice(start + TRIAL_MARKERS.start.length, end).trim();
}

/** `readme` with the text between the markers replaced, or null without markers. */
export function replaceReadmeBlock(
  readme: string,
  block: string,
): string | null {
  const start = readme.indexOf(TRIAL_MARKERS.start);
  const end = readme.indexOf(TRIAL_MARKERS.end);
  if (start === -1 || end < start) return null;
  return `${
    readme.slice(0, start + TRIAL_MARKERS.start.length)
  }\n\n${block.trim()}\n\n${readme.slice(end)}`;
}
