/**
 * SIGTERM, SIGINT and SIGHUP (the terminal closed) at chosen moments of a
 * run (the baseline trial, a proposal, a trial, right after a record):
 * ratchet must exit 143 / 130 / 129 with
 * the run resumable — every line of results.jsonl complete, the worktree
 * reset to the incumbent commit, the run branch = the kept records, no
 * container of the run, the lock released — and `ratchet resume` must
 * finish it. A second Ctrl-C during the cleanup leaves at once; resume
 * repairs what that left.
 */
import assert from "node:assert/strict";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeModel } from "../reliability/fake_model.ts";
import {
  describeFailures,
  ITERATIONS,
  pool,
  runArgs,
  scenario,
} from "../reliability/harness.ts";
import { runGroup } from "../reliability/summary.ts";

const MOMENTS: { name: string; when: RegExp }[] = [
  { name: "during the baseline trial", when: /"event":"run_started"/ },
  {
    name: "during the proposal of iteration 1",
    when: /"iter":1,"phase":"proposing"/,
  },
  {
    name: "during the trial of iteration 1",
    when: /"iter":1,"phase":"measuring"/,
  },
  {
    name: "right after iteration 1 was recorded",
    when: /"event":"iteration","record":\{[^\n]*?"iter":1,/,
  },
];

const CODES: Record<string, number> = {
  SIGTERM: 143,
  SIGINT: 130,
  SIGHUP: 129,
};

dockerTest(
  "SIGTERM, SIGINT and SIGHUP at each moment of a run exit 143 / 130 / 129 leaving it resumable and consistent, and resume finishes it",
  async () => {
    await using model = await startFakeModel();
    const cases = (["SIGTERM", "SIGINT", "SIGHUP"] as const).flatMap((
      signal,
    ) => MOMENTS.map((m) => ({ signal, ...m })));
    const results = await runGroup("signals", {
      title: "SIGTERM / SIGINT / SIGHUP, then resume",
      about:
        "The signal is sent to `ratchet run` as soon as its `--json` events show the moment. ratchet must stop with 143 (SIGTERM), 130 (SIGINT) or 129 (SIGHUP, a closed terminal), leaving the run resumable and clean (state written, no sandbox or network holder container, the lock released); `ratchet resume` then finishes it. The last scenario sends SIGINT twice (a second Ctrl-C during the cleanup exits at once).",
      test: "tests/e2e/reliability_signals_test.ts",
    }, async (add) => {
      const tasks = cases.map((c) => () =>
        scenario({
          id: `${c.signal}@${c.name.replaceAll(" ", "-")}`,
          group: "signals",
          title: c.name,
          fault: `${c.signal} ${c.name}`,
          modelUrl: model.url,
        }, async (lab) => {
          const r = await lab.ratchet("run", runArgs(), {
            kill: { signal: c.signal, when: (out) => c.when.test(out) },
          });
          lab.check(
            "stop",
            `exit ${CODES[c.signal]} on ${c.signal}`,
            r.code === CODES[c.signal],
            `exit ${r.code}: ${r.stderrTail}`,
          );
          lab.check(
            "stop",
            "says how to continue",
            /ratchet resume/.test(r.stderr),
            r.stderrTail,
          );
          await lab.verifyClean(`after ${c.signal}`, { finished: false });
          lab.result.recovery = "resume";
          const again = await lab.ratchet("resume", ["resume", "--json"]);
          lab.check(
            "recovery",
            "resume finishes (exit 0)",
            again.code === 0,
            again.stderrTail,
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }).then(add)
      );
      tasks.push(() =>
        scenario({
          id: "SIGINT-twice@trial",
          group: "signals",
          title: "second Ctrl-C during the cleanup",
          fault: "SIGINT twice, 20 ms apart, during the trial of iteration 1",
          modelUrl: model.url,
        }, async (lab) => {
          let pid = 0;
          const p = lab.spawn(runArgs(), {
            kill: {
              signal: "SIGINT",
              when: (out) => /"iter":1,"phase":"measuring"/.test(out),
              action: async () => {
                Deno.kill(pid, "SIGINT");
                await new Promise((r) => setTimeout(r, 20));
                try {
                  Deno.kill(pid, "SIGINT");
                } catch { /* already gone */ }
              },
            },
          });
          pid = p.pid;
          const t0 = performance.now();
          const r = await p.done;
          lab.note({
            label: "run",
            args: runArgs(),
            code: r.code,
            seconds: Math.round((performance.now() - t0) / 100) / 10,
            stderrTail: r.stderr.trim().split("\n").slice(-4).join("\n"),
          });
          lab.check("stop", "exit 130", r.code === 130, `exit ${r.code}`);
          await lab.verifyAfterCrash("after 2×SIGINT");
          lab.result.recovery = "resume";
          const again = await lab.ratchet("resume", ["resume", "--json"]);
          lab.check(
            "recovery",
            "resume finishes (exit 0)",
            again.code === 0,
            again.stderrTail,
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }).then(add)
      );
      await pool(3, tasks);
    });
    assert.equal(describeFailures(results), "");
  },
);
