/**
 * Render docs/reliability.md from what the reliability tests and the load
 * bench actually measured: tests/artifacts/reliability.json (written by
 * tests/e2e/reliability_*_test.ts) and bench/results/load.json (written by
 * `deno task bench:load --write`, kept in git). Nothing in the page is typed
 * by hand except the fixed explanations in this template.
 *
 * Usage: deno run -A tools/reliability_report.ts [--check]
 *   --check  exit 1, naming the lines, when docs/reliability.md differs from
 *            what this run renders in anything but timings and versions
 */
import { fileURLToPath } from "node:url";
import { FAULT_POINTS } from "../src/infra/fault.ts";
import type { ScenarioResult } from "../tests/reliability/harness.ts";
import {
  type Group,
  readSummary,
  type Summary,
  SUMMARY_PATH,
} from "../tests/reliability/summary.ts";
import { comparePages, formatDifferences } from "./_page_check.ts";
import { formatMarkdown, stableText, tableCell } from "./_markdown.ts";

const ROOT = new URL("../", import.meta.url);
const DOC = fileURLToPath(new URL("docs/reliability.md", ROOT));
/** What `deno task bench:load --write` measured (kept in git). */
const BENCH = fileURLToPath(new URL("bench/results/load.json", ROOT));

/** What bench/load_bench.ts writes. */
export interface LoadBench {
  schema_version: 1;
  finished_at: string;
  environment: Record<string, string>;
  run: {
    iterations: number;
    seconds: number;
    exit_code: number;
    records: number;
    rss_samples: { t_s: number; iter: number; rss_mib: number }[];
    rss_start_mib: number;
    rss_end_mib: number;
    rss_max_mib: number;
    /** Least-squares slope of RSS over iterations, KiB per iteration. */
    rss_slope_kib_per_iter: number;
    /** Slope over the second half only (after warm-up). */
    rss_slope_late_kib_per_iter: number;
    /** Lowest RSS sampled during chosen iterations. */
    rss_at?: { iter: number; rss_mib: number | null }[];
  } | null;
  readers: {
    records: number;
    file_mib: number;
    commands: {
      command: string;
      exit_code: number;
      median_ms: number;
      max_ms: number;
      runs: number;
    }[];
  } | null;
}

/** Order of the groups on the page. */
const ORDER = [
  "crash",
  "archive",
  "report",
  "random",
  "signals",
  "api",
  "docker",
  "disk",
  "concurrency",
];

/** A cell of free text from a test: volatile ids masked, table-safe. */
function cell(text: string): string {
  return tableCell(stableText(text));
}

/** Marks a value that depends on where a timed kill landed. */
const TIMED = " †";

function codes(s: ScenarioResult): string {
  return s.steps.map((st) => `\`${st.label}\` → ${st.code}`).join(", ") +
    (s.timed ? TIMED : "");
}

function held(s: ScenarioResult): string {
  const ok = s.checks.filter((c) => c.ok).length;
  const mark = s.ok ? "✅" : "❌";
  return `${mark} ${ok}/${s.checks.length}${s.timed ? TIMED : ""}`;
}

function groupSection(key: string, g: Group): string {
  const lines = [
    `## ${g.title}`,
    "",
    g.about,
    "",
    `${g.scenarios.length} scenario(s), ${
      g.scenarios.filter((s) => s.ok).length
    } held, in ${g.seconds} s (\`${g.test}\`, ${
      g.finished_at.slice(0, 16).replace("T", " ")
    } UTC).`,
    "",
    "| scenario | fault | recovery | exit codes | checks held | s |",
    "|---|---|---|---|---|---|",
  ];
  for (const s of g.scenarios) {
    lines.push(
      `| ${cell(s.title)} | ${cell(s.fault)} | ${s.recovery}${
        s.timed ? TIMED : ""
      } | ${cell(codes(s))} | ${held(s)} | ${s.seconds} |`,
    );
  }
  if (g.scenarios.some((s) => s.timed)) {
    lines.push(
      "",
      "† Where a timed kill lands decides what is on disk when it does, so the recovery, the exit codes and which checks apply vary from run to run.",
    );
  }
  const failed = g.scenarios.filter((s) => !s.ok);
  if (failed.length > 0) {
    lines.push("", "What did not hold:", "");
    for (const s of failed) {
      lines.push(
        `- **${cell(s.title)}** (${cell(s.fault)})${
          s.error ? `: ${cell(s.error)}` : ""
        }`,
      );
      for (const c of s.checks.filter((c) => !c.ok)) {
        lines.push(`  - [${c.stage}] ${cell(c.name)}: ${cell(c.detail)}`);
      }
    }
  }
  void key;
  return lines.join("\n");
}

/** A check made at least this often is listed on its own. */
const COMMON_CHECK_MIN = 7;

function invariantsSection(all: ScenarioResult[]): string {
  const byName = new Map<string, { ok: number; total: number }>();
  // The timed kills make a varying set of checks: counted on their own row.
  const timed = all.filter((s) => s.timed).flatMap((s) => s.checks);
  for (const s of all.filter((s) => !s.timed)) {
    for (const c of s.checks) {
      const e = byName.get(c.name) ?? { ok: 0, total: 0 };
      e.total++;
      if (c.ok) e.ok++;
      byName.set(c.name, e);
    }
  }
  const sorted = [...byName.entries()].sort((a, b) => b[1].total - a[1].total);
  // The invariants every scenario checks; the scenario-specific checks are
  // counted in each group's table.
  const rows = sorted.filter(([, e]) => e.total >= COMMON_CHECK_MIN);
  const rest = sorted.filter(([, e]) => e.total < COMMON_CHECK_MIN);
  const restFailed = rest.reduce((a, [, e]) => a + e.total - e.ok, 0);
  const restMade = rest.reduce((a, [, e]) => a + e.total, 0);
  return [
    "## Invariants",
    "",
    "The checks made across the scenarios, with how often each was made and held (the common ones are made after each stop and again after the recovery).",
    "",
    "| check | held / made |",
    "|---|---|",
    ...rows.map(([name, e]) => `| ${cell(name)} | ${e.ok} / ${e.total} |`),
    `| ${rest.length} scenario-specific checks (see the groups) | ${
      restMade - restFailed
    } / ${restMade} |`,
    ...(timed.length === 0 ? [] : [
      `| the checks of the timed kills | ${
        timed.filter((c) => c.ok).length
      } / ${timed.length}${TIMED} |`,
    ]),
  ].join("\n");
}

function pointsSection(all: ScenarioResult[]): string {
  const uses = new Map<string, string[]>();
  for (const s of all) {
    for (const m of s.fault.matchAll(/at ([a-z][a-z.-]+)(?::(\d+))?/g)) {
      const list = uses.get(m[1]!) ?? [];
      list.push(`${m[2] ? `:${m[2]}` : ""}${s.ok ? "" : " ❌"}`);
      uses.set(m[1]!, list);
    }
  }
  const covered = FAULT_POINTS.filter((p) => uses.has(p)).length;
  return [
    "## Fault points",
    "",
    `${covered} of the ${FAULT_POINTS.length} fault points in \`FAULT_POINTS\` (src/infra/fault.ts) were fired by a scenario.`,
    "",
    "| fault point | fired (hit counts) |",
    "|---|---|",
    ...FAULT_POINTS.map((p) => {
      const u = uses.get(p);
      return `| \`${p}\` | ${
        u === undefined ? "—" : u.map((x) => x === "" ? "1st" : x).join(", ")
      } |`;
    }),
  ].join("\n");
}

function benchSection(b: LoadBench | null): string {
  const lines = ["## Load", ""];
  if (b === null) {
    lines.push(
      "No load bench results yet: run `deno task bench:load --write`, then this tool again.",
    );
    return lines.join("\n");
  }
  lines.push(
    `From \`deno task bench:load --write\` (bench/load_bench.ts, results in bench/results/load.json), ${
      b.finished_at.slice(0, 16).replace("T", " ")
    } UTC.`,
    "",
  );
  if (b.run) {
    const r = b.run;
    lines.push(
      `A ${r.iterations}-iteration run against the fake API (\`--decision mean --trials 1\`, busybox), RSS of the ratchet process sampled from /proc/<pid>/status:`,
      "",
      "| iterations | wall s | s / iteration | exit | records | RSS start MiB | RSS end MiB | RSS max MiB | growth KiB / iteration (all) | growth KiB / iteration (2nd half) |",
      "|---|---|---|---|---|---|---|---|---|---|",
      `| ${r.iterations} | ${r.seconds} | ${
        (r.seconds / r.iterations).toFixed(2)
      } | ${r.exit_code} | ${r.records} | ${r.rss_start_mib} | ${r.rss_end_mib} | ${r.rss_max_mib} | ${r.rss_slope_kib_per_iter} | ${r.rss_slope_late_kib_per_iter} |`,
      "",
    );
    const at = r.rss_at ?? [];
    if (at.length > 0) {
      lines.push(
        "Lowest RSS sampled during a given iteration (the garbage collector makes single samples jump):",
        "",
        `| iteration | ${at.map((a) => a.iter).join(" | ")} |`,
        `|---|${at.map(() => "---").join("|")}|`,
        `| RSS MiB | ${at.map((a) => a.rss_mib ?? "—").join(" | ")} |`,
        "",
      );
    }
  }
  if (b.readers) {
    const rd = b.readers;
    lines.push(
      `Read-only commands on a synthetic results.jsonl of ${rd.records} records (${rd.file_mib} MiB):`,
      "",
      "| command | exit | median ms | max ms | runs |",
      "|---|---|---|---|---|",
      ...rd.commands.map((c) =>
        `| \`ratchet ${c.command}\` | ${c.exit_code} | ${c.median_ms} | ${c.max_ms} | ${c.runs} |`
      ),
    );
  }
  return lines.join("\n");
}

/** The page for `summary` and `bench`. */
export function render(summary: Summary, bench: LoadBench | null): string {
  const keys = [
    ...ORDER.filter((k) => k in summary.groups),
    ...Object.keys(summary.groups).filter((k) => !ORDER.includes(k)).sort(),
  ];
  const all = keys.flatMap((k) => summary.groups[k]!.scenarios);
  const ok = all.filter((s) => s.ok).length;
  const fixedChecks = all.filter((s) => !s.timed).reduce(
    (a, s) => a + s.checks.length,
    0,
  );
  const timed = all.filter((s) => s.timed);
  const timedChecks = timed.reduce((a, s) => a + s.checks.length, 0);
  const seconds = keys.reduce((a, k) => a + summary.groups[k]!.seconds, 0);
  const env = Object.entries(summary.environment).map(([k, v]) => `${k} ${v}`)
    .join(", ");
  return [
    "# Reliability under faults",
    "",
    "<!-- Generated by tools/reliability_report.ts from tests/artifacts/reliability.json",
    "     (tests/e2e/reliability_*_test.ts) and bench/results/load.json",
    "     (deno task bench:load --write). Do not edit: run the tests, then the tool.",
    "     CI checks that this page is what its own run renders. -->",
    "",
    "ratchet is meant to be left running overnight, so it must survive being killed at any moment, the API and the Docker daemon failing under it, and the disk filling up, without losing or duplicating an iteration. This page is generated from the last run of the reliability tests: every scenario below was actually run, and every check is shown as it came out.",
    "",
    `**${ok} of ${all.length} scenarios held** (${fixedChecks} checks${
      timed.length === 0
        ? ""
        : `, and ${timedChecks}${TIMED} in the ${timed.length} timed kills`
    }), in ${Math.round(seconds)} s of test time${env ? ` on ${env}` : ""}.`,
    "",
    "How to run them again:",
    "",
    "```sh",
    "deno test -A tests/e2e/reliability_crash_test.ts tests/e2e/reliability_signals_test.ts \\",
    "  tests/e2e/reliability_upstream_test.ts tests/e2e/reliability_concurrency_test.ts",
    "deno task bench:load --write   # optional: the load numbers",
    "deno task reliability:report   # re-renders this page",
    "```",
    "",
    "Each scenario runs the real CLI (`deno run -A main.ts`) in a fresh git repository whose score is the number in `value.txt`, against a fake Anthropic Messages API that streams real SSE (iteration 1 raises the number and is kept; iteration 2 lowers it and is reverted), with real Docker trials in `busybox`. Test-only knobs: `RATCHET_FAULT_POINT=name[:N]` (SIGKILL at the N-th arrival at a write point) and the client timing overrides `RATCHET_API_TIMEOUT_MS`, `RATCHET_API_IDLE_TIMEOUT_MS`, `RATCHET_API_MAX_RETRIES` (also usable behind slow proxies).",
    "",
    "Exit codes: 0 finished, 3 environment not ready (lock held, key rejected, no run to resume), 4 upstream failure (API, Docker, disk) — resumable, 130 SIGINT, 137 killed by SIGKILL, 143 SIGTERM.",
    "",
    invariantsSection(all),
    "",
    ...keys.flatMap((k) => [groupSection(k, summary.groups[k]!), ""]),
    pointsSection(all),
    "",
    benchSection(bench),
    "",
  ].join("\n");
}

async function main(args: string[]): Promise<number> {
  const summary = await readSummary(SUMMARY_PATH);
  if (Object.keys(summary.groups).length === 0) {
    Deno.stderr.writeSync(
      new TextEncoder().encode(
        `No results in ${SUMMARY_PATH}: run the reliability tests first (tests/e2e/reliability_*_test.ts).\n`,
      ),
    );
    return 1;
  }
  const bench = await Deno.readTextFile(BENCH).then(
    (t) => JSON.parse(t) as LoadBench,
    () => null,
  );
  const page = await formatMarkdown(render(summary, bench));
  if (args.includes("--check")) {
    const current = await Deno.readTextFile(DOC).catch(() => "");
    const differences = comparePages(current, page);
    const say = (s: string) =>
      Deno.stderr.writeSync(new TextEncoder().encode(s + "\n"));
    if (differences.length > 0) {
      say(
        `docs/reliability.md differs from what this run renders (timings and versions aside); ` +
          `run the reliability tests, then tools/reliability_report.ts:\n${
            formatDifferences("docs/reliability.md", differences)
          }`,
      );
      return 1;
    }
    say("docs/reliability.md matches this run");
    return 0;
  }
  await Deno.writeTextFile(DOC, page);
  Deno.stdout.writeSync(new TextEncoder().encode(`wrote ${DOC}\n`));
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
