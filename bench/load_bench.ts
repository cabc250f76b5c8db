/**
 * `deno task bench:load`: ratchet under load, measured.
 *
 * 1. A long run (default 200 iterations) against the stateless fake
 *    Messages API with trivial trials (`--decision mean --trials 1`,
 *    busybox), sampling the ratchet process's RSS (VmRSS in
 *    /proc/<pid>/status) every 250 ms; reports the growth per iteration
 *    (least-squares slope, over the whole run and over its second half).
 * 2. `status`, `log` and `report` timed on a synthetic results.jsonl of
 *    10,000 records (a real run's .ratchet/ with its results replaced).
 *
 * Prints a table; with `--write` also writes bench/results/load.json (kept
 * in git), which tools/reliability_report.ts renders into
 * docs/reliability.md, so the page's load numbers are this bench's output,
 * never typed by hand.
 *
 * Usage: deno task bench:load [--iterations N] [--records N] [--skip-run] [--skip-readers] [--write | --out FILE]
 *   --skip-run / --skip-readers keep that part from the results file.
 */
import { parseArgs } from "node:util";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { makeRecord } from "../src/core/state.ts";
import { startFakeModel } from "../tests/reliability/fake_model.ts";
import {
  Lab,
  removeContainers,
  runArgs,
  spawnRatchet,
} from "../tests/reliability/harness.ts";
import type { LoadBench } from "../tools/reliability_report.ts";

/** The committed results, rendered into docs/reliability.md. */
export const LOAD_RESULTS = fileURLToPath(
  new URL("./results/load.json", import.meta.url),
);

function write(s: string): void {
  const bytes = new TextEncoder().encode(s + "\n");
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

function rssMiB(pid: number): number | null {
  try {
    const status = Deno.readTextFileSync(`/proc/${pid}/status`);
    const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
    return Number.isFinite(kb) ? kb / 1024 : null;
  } catch {
    return null;
  }
}

/** Least-squares slope of y over x. */
function slope(points: { x: number; y: number }[]): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, p) => a + p.x, 0) / n;
  const my = points.reduce((a, p) => a + p.y, 0) / n;
  let num = 0;
  let den = 0;
  for (const p of points) {
    num += (p.x - mx) * (p.y - my);
    den += (p.x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

const r1 = (x: number) => Math.round(x * 10) / 10;

async function longRun(iterations: number): Promise<LoadBench["run"]> {
  await using model = await startFakeModel();
  const lab = await Lab.create({
    id: "load",
    group: "load",
    title: "load",
    fault: "none",
    modelUrl: model.url,
  });
  try {
    let iter = 0;
    const samples: { t_s: number; iter: number; rss_mib: number }[] = [];
    const t0 = performance.now();
    const p = spawnRatchet(
      runArgs(iterations, "--max-cost-usd", "0"),
      lab.dir,
      { ANTHROPIC_API_KEY: "test", ANTHROPIC_BASE_URL: model.url },
      undefined,
      3_600_000,
    );
    const timer = setInterval(() => {
      const m = /"event":"iteration","record":\{[^\n]*?"iter":(\d+),/g;
      const out = p.stdout();
      let last: RegExpExecArray | null = null;
      for (let x = m.exec(out); x !== null; x = m.exec(out)) last = x;
      if (last) iter = Number(last[1]);
      const rss = rssMiB(p.pid);
      if (rss !== null) {
        samples.push({
          t_s: r1((performance.now() - t0) / 1000),
          iter,
          rss_mib: r1(rss),
        });
      }
    }, 250);
    const r = await p.done;
    clearInterval(timer);
    const seconds = r1((performance.now() - t0) / 1000);
    const records =
      (await Deno.readTextFile(join(lab.dir, ".ratchet/results.jsonl")).catch(
        () => "",
      ))
        .split("\n").filter((l) => l !== "").length;
    // From iteration 1 on: startup and the baseline are not growth.
    const steady = samples.filter((s) => s.iter >= 1);
    const pts = steady.map((s) => ({ x: s.iter, y: s.rss_mib * 1024 }));
    const late = pts.filter((p) => p.x >= iterations / 2);
    if (r.code !== 0) write(`run exited ${r.code}:\n${r.stderr.slice(-2000)}`);
    return {
      iterations,
      seconds,
      exit_code: r.code,
      records,
      rss_samples: samples.filter((_, i) => i % 4 === 0),
      rss_start_mib: steady[0]?.rss_mib ?? 0,
      rss_end_mib: steady.at(-1)?.rss_mib ?? 0,
      rss_max_mib: Math.max(0, ...samples.map((s) => s.rss_mib)),
      rss_slope_kib_per_iter: r1(slope(pts)),
      rss_slope_late_kib_per_iter: r1(slope(late)),
      // The last iteration ends the run before a sample can catch it.
      rss_at: [1, 25, 50, 100, 150, 200, 300, 400, 600, 800, 1000]
        .filter((k) => k < iterations)
        .map((k) => {
          const at = steady.filter((s) => s.iter === k).map((s) => s.rss_mib);
          return { iter: k, rss_mib: at.length > 0 ? Math.min(...at) : null };
        }),
    };
  } finally {
    const id = (await lab.runFile())?.run_id;
    if (id) await removeContainers([id]);
    await lab.close();
  }
}

async function readers(n: number): Promise<LoadBench["readers"]> {
  await using model = await startFakeModel();
  const lab = await Lab.create({
    id: "readers",
    group: "load",
    title: "readers",
    fault: "none",
    modelUrl: model.url,
  });
  try {
    const setup = await lab.ratchet("run", runArgs(1));
    if (setup.code !== 0) {
      throw new Error(`setup run failed: ${setup.stderrTail}`);
    }
    const run = (await lab.runFile())!;
    const results = join(lab.ratchetDir, "results.jsonl");
    const lines: string[] = [];
    const start = Date.parse("2026-01-01T00:00:00Z");
    let best = 100;
    for (let i = 0; i < n; i++) {
      const decision = i === 0
        ? "baseline"
        : i % 7 === 0
        ? "improved"
        : i % 5 === 0
        ? "crashed"
        : i % 3 === 0
        ? "regressed"
        : "no_change";
      const scores = decision === "crashed"
        ? [null, 101.5, null]
        : [best + (i % 11) / 10, best + (i % 13) / 10, best - (i % 7) / 10];
      if (decision === "improved") best -= 0.01;
      lines.push(JSON.stringify(makeRecord({
        run_id: run.run_id,
        iter: i,
        decision,
        kept: decision === "baseline" || decision === "improved",
        hypothesis: i === 0
          ? ""
          : `hypothesis ${i}: cache the parsed config to avoid repeated work`,
        description: i === 0
          ? ""
          : `iteration ${i}: a change to src/module_${i % 40}.ts`,
        trial_scores: scores,
        trial_outcomes: scores.map((s) => (s === null ? "crashed" : "ok")),
        baseline_scores: i === 0 ? [] : [best, best + 0.2, best - 0.1],
        sha: i === 0
          ? run.start_sha
          : decision === "improved"
          ? run.start_sha
          : null,
        p_value: i === 0 ? null : 0.04,
        effect: i === 0 ? null : -0.012,
        ci: i === 0 ? null : [-0.02, -0.004],
        reason: decision === "no_change"
          ? "within_noise"
          : decision === "crashed"
          ? "crashed_trials"
          : null,
        detail: decision === "crashed" ? "trial 1 exited 1" : "",
        tokens: {
          input: 12_000,
          output: 900,
          cache_write: 0,
          cache_read: 10_000,
        },
        cost_usd: 0.05,
        duration_s: 30 + (i % 17),
        diff_stat: { files: 1, insertions: 3, deletions: 1 },
        timestamp: new Date(start + i * 60_000).toISOString(),
      })));
    }
    await Deno.writeTextFile(results, lines.join("\n") + "\n");
    const fileMiB = r1((await Deno.stat(results)).size / 1024 ** 2);
    const commands: NonNullable<LoadBench["readers"]>["commands"] = [];
    for (
      const args of [
        ["status", "--json"],
        ["status"],
        ["log", "--json"],
        ["log"],
        ["report", "--out", join(lab.dir, "bench-report.html")],
      ]
    ) {
      const times: number[] = [];
      let code = 0;
      for (let k = 0; k < 3; k++) {
        const t0 = performance.now();
        const r = await spawnRatchet(args, lab.dir, {
          ANTHROPIC_API_KEY: "test",
        }).done;
        times.push(performance.now() - t0);
        code = r.code;
        if (r.code !== 0) {
          write(
            `ratchet ${args[0]} exited ${r.code}: ${
              r.stderr.trim().split("\n").slice(0, 2).join(" ")
            }`,
          );
          break;
        }
      }
      times.sort((a, b) => a - b);
      commands.push({
        command: args[0] === "report" ? "report --out F" : args.join(" "),
        exit_code: code,
        median_ms: Math.round(times[Math.floor(times.length / 2)]!),
        max_ms: Math.round(times.at(-1)!),
        runs: times.length,
      });
    }
    return { records: n, file_mib: fileMiB, commands };
  } finally {
    await lab.close();
  }
}

const { values } = parseArgs({
  args: Deno.args,
  options: {
    iterations: { type: "string", default: "200" },
    records: { type: "string", default: "10000" },
    "skip-run": { type: "boolean", default: false },
    "skip-readers": { type: "boolean", default: false },
    write: { type: "boolean", default: false },
    out: { type: "string" },
  },
});
const OUT = values.out ?? (values.write ? LOAD_RESULTS : null);

const previous = await Deno.readTextFile(OUT ?? LOAD_RESULTS).then(
  (t) => JSON.parse(t) as LoadBench,
  () => null,
);
const run = values["skip-run"]
  ? previous?.run ?? null
  : await longRun(Number(values.iterations));
const rd = values["skip-readers"]
  ? previous?.readers ?? null
  : await readers(Number(values.records));
const bench: LoadBench = {
  schema_version: 1,
  finished_at: new Date().toISOString(),
  environment: {
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    cpus: String(navigator.hardwareConcurrency),
  },
  run,
  readers: rd,
};
if (OUT !== null) {
  await Deno.mkdir(join(OUT, ".."), { recursive: true });
  await Deno.writeTextFile(OUT, JSON.stringify(bench, null, 2) + "\n");
}

if (run) {
  write("\nlong run");
  write(
    "| iterations | wall s | s/iter | exit | records | RSS start MiB | RSS end MiB | RSS max MiB | KiB/iter (all) | KiB/iter (2nd half) |",
  );
  write("|---|---|---|---|---|---|---|---|---|---|");
  write(
    `| ${run.iterations} | ${run.seconds} | ${
      (run.seconds / run.iterations).toFixed(2)
    } | ${run.exit_code} | ${run.records} | ${run.rss_start_mib} | ${run.rss_end_mib} | ${run.rss_max_mib} | ${run.rss_slope_kib_per_iter} | ${run.rss_slope_late_kib_per_iter} |`,
  );
  const at = run.rss_at ?? [];
  write(`\n| iteration | ${at.map((a) => a.iter).join(" | ")} |`);
  write(`|---|${at.map(() => "---").join("|")}|`);
  write(`| lowest RSS MiB | ${at.map((a) => a.rss_mib ?? "—").join(" | ")} |`);
}
if (rd) {
  write(`\nreaders on ${rd.records} records (${rd.file_mib} MiB)`);
  write("| command | exit | median ms | max ms | runs |");
  write("|---|---|---|---|---|");
  for (const c of rd.commands) {
    write(
      `| ratchet ${c.command} | ${c.exit_code} | ${c.median_ms} | ${c.max_ms} | ${c.runs} |`,
    );
  }
}
write(
  OUT === null
    ? "\nnot written (pass --write to update bench/results/load.json)"
    : `\nwrote ${OUT}`,
);
