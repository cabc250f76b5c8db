/**
 * Concurrency around the run lock: a second `run` (or `resume`) in the same
 * repo while a run is going exits 3 naming the live PID and leaves the
 * running run alone; a stale lock (dead PID) is taken over with a message; a
 * lock file that holds no PID is refused with exit 3 naming the file; the
 * read-only commands `status`, `log` and `report` answer while a run is
 * going.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeModel } from "../reliability/fake_model.ts";
import {
  describeFailures,
  ITERATIONS,
  type Lab,
  runArgs,
  scenario,
  spawnRatchet,
} from "../reliability/harness.ts";
import { runGroup } from "../reliability/summary.ts";

/** Run `ratchet <args>` beside a running run and record the step. */
async function beside(lab: Lab, label: string, args: string[]) {
  const t0 = performance.now();
  const r = await spawnRatchet(args, lab.dir, { ANTHROPIC_API_KEY: "test" })
    .done;
  lab.note({
    label,
    args,
    code: r.code,
    seconds: Math.round((performance.now() - t0) / 100) / 10,
    stderrTail: r.stderr.trim().split("\n").slice(-3).join("\n"),
  });
  return r;
}

/** Wait until `predicate` holds (polling every 50 ms) or `ms` pass. */
async function until(predicate: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

dockerTest(
  "a second run or resume while a run is going exits 3 naming its PID; a stale lock is taken over; status, log and report answer during a run",
  async () => {
    await using model = await startFakeModel();
    const results = await runGroup("concurrency", {
      title: "Concurrency and the run lock",
      about:
        "Commands started beside a running `ratchet run` in the same repository (the run is held at the proposal of iteration 1 by a slow model answer, so the commands land while it is going).",
      test: "tests/e2e/reliability_concurrency_test.ts",
    }, async (add) => {
      add(
        await scenario({
          id: "second-run",
          group: "concurrency",
          title: "second `run` and a `resume` while a run is going",
          fault: "a live run holds the lock",
          modelUrl: model.url,
        }, async (lab) => {
          // Hold the first proposal for 4 s so the commands land mid-run.
          model.inject({ kind: "slow", delayMs: 4000 });
          const a = lab.spawn(runArgs());
          const reached = await until(
            () => /"iter":1,"phase":"proposing"/.test(a.stdout()),
            60_000,
          );
          lab.check("setup", "the first run is going", reached, a.stderr());
          for (
            const [label, args] of [["run", runArgs()], ["resume", [
              "resume",
            ]]] as const
          ) {
            const r = await beside(lab, `${label} (second)`, [...args]);
            lab.check(
              label,
              `second ${label} exits 3 naming PID ${a.pid}`,
              r.code === 3 && r.stderr.includes(`PID ${a.pid}`),
              `exit ${r.code}: ${r.stderr.trim().slice(-300)}`,
            );
          }
          const r = await a.done;
          lab.note({
            label: "run (first)",
            args: runArgs(),
            code: r.code,
            seconds: 0,
            stderrTail: r.stderr.trim().split("\n").slice(-2).join("\n"),
          });
          lab.check(
            "run",
            "the first run finishes undisturbed (exit 0)",
            r.code === 0,
            r.stderr.slice(-300),
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }),
      );
      add(
        await scenario({
          id: "stale-lock",
          group: "concurrency",
          title: "a lock left by a dead process",
          fault: "lock file naming a dead PID",
          modelUrl: model.url,
        }, async (lab) => {
          const dead = new Deno.Command("true").spawn();
          await dead.status;
          await Deno.mkdir(lab.ratchetDir, { recursive: true });
          await Deno.writeTextFile(
            join(lab.ratchetDir, "lock"),
            `${dead.pid}\n`,
          );
          const r = await lab.ratchet("run", runArgs());
          lab.check(
            "run",
            "run takes the lock over and finishes (exit 0)",
            r.code === 0,
            r.stderrTail,
          );
          lab.check(
            "run",
            `says it took over the lock of process ${dead.pid}`,
            r.stdout.includes(`stale lock left by process ${dead.pid}`),
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }),
      );
      add(
        await scenario({
          id: "garbage-lock",
          group: "concurrency",
          title: "a lock file that holds no PID",
          fault: "lock file with garbage",
          modelUrl: model.url,
        }, async (lab) => {
          await Deno.mkdir(lab.ratchetDir, { recursive: true });
          const lock = join(lab.ratchetDir, "lock");
          await Deno.writeTextFile(lock, "not a pid\n");
          const r = await lab.ratchet("run", runArgs());
          lab.check(
            "run",
            "run refuses with exit 3 naming the lock file and what to do",
            r.code === 3 && r.stderr.includes(lock) && /delete/i.test(r.stderr),
            r.stderrTail,
          );
          await Deno.remove(lock);
          const again = await lab.ratchet("run", runArgs());
          lab.check(
            "run",
            "with the file removed, run finishes (exit 0)",
            again.code === 0,
            again.stderrTail,
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }),
      );
      add(
        await scenario({
          id: "readers-during-run",
          group: "concurrency",
          title: "`status`, `log` and `report` while a run is going",
          fault: "read-only commands beside a live run",
          modelUrl: model.url,
        }, async (lab) => {
          model.inject({ kind: "slow", delayMs: 5000 });
          const a = lab.spawn(runArgs());
          const reached = await until(
            () => /"iter":1,"phase":"proposing"/.test(a.stdout()),
            60_000,
          );
          lab.check("setup", "the run is going", reached, a.stderr());
          const runId = (await lab.runFile())?.run_id ?? "?";
          const status = await beside(lab, "status --json", [
            "status",
            "--json",
          ]);
          let parsed: Record<string, unknown> = {};
          try {
            parsed = JSON.parse(status.stdout);
          } catch { /* checked below */ }
          lab.check(
            "status",
            "status --json answers: running, this run, this PID",
            status.code === 0 && parsed.run_id === runId &&
              parsed.state === "running" && parsed.pid === a.pid,
            `exit ${status.code}: ${status.stdout.slice(0, 300)} ${
              status.stderr.slice(-200)
            }`,
          );
          const log = await beside(lab, "log --json", ["log", "--json"]);
          const text = log.stdout.trim();
          let n = -1;
          try {
            const v = JSON.parse(text);
            n = Array.isArray(v) ? v.length : 1;
          } catch {
            try {
              n = text.split("\n").filter((l) =>
                l.trim() !== ""
              ).map((l) => JSON.parse(l)).length;
            } catch { /* n stays -1 */ }
          }
          lab.check(
            "log",
            "log --json answers with the records so far",
            log.code === 0 && n >= 1,
            `exit ${log.code}, ${n} record(s): ${log.stderr.slice(-200)}`,
          );
          const out = join(lab.dir, "mid-run-report.html");
          const report = await beside(lab, "report --out", [
            "report",
            "--out",
            out,
          ]);
          const html = await Deno.readTextFile(out).catch(() => "");
          lab.check(
            "report",
            "report writes a self-contained HTML file",
            report.code === 0 && /<html/i.test(html) && html.includes(runId),
            `exit ${report.code}, ${html.length} bytes: ${
              report.stderr.slice(-200)
            }`,
          );
          const r = await a.done;
          lab.check(
            "run",
            "the run finishes undisturbed (exit 0)",
            r.code === 0,
            r.stderr.slice(-300),
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }),
      );
    });
    assert.equal(describeFailures(results), "");
  },
);
