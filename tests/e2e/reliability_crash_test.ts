/**
 * Crash consistency: ratchet is killed with SIGKILL at every durable write
 * point (RATCHET_FAULT_POINT, src/infra/fault.ts) and at seeded random
 * moments of real runs, then `ratchet resume` (or, where no run was written
 * yet or for the archive, a new `ratchet run`) must finish the run with
 * nothing lost: results.jsonl parses, `iter` dense without duplicates, the
 * worktree removed (it equalled the incumbent while running), the kept
 * records' shas = the run branch's first-parent commits, no container of the
 * run left. Every scenario and check is written to
 * tests/artifacts/reliability.json for docs/reliability.md.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeModel } from "../reliability/fake_model.ts";
import {
  describeFailures,
  ITERATIONS,
  type Lab,
  parseResults,
  pool,
  runArgs,
  scenario,
  type ScenarioResult,
  seededRandom,
  spawnRatchet,
} from "../reliability/harness.ts";
import { runGroup } from "../reliability/summary.ts";
import { FAULT_POINTS } from "../../src/infra/fault.ts";

/** Scenarios run side by side (each has its own repo and run id). */
const PARALLEL = 3;

interface PointCase {
  point: string;
  /** Where in the run the point is. */
  where: string;
  setup?: (lab: Lab) => Promise<void>;
  /** Flags the killed run is started with besides the scenario's. */
  args?: string[];
}

/** A lock left by a process that is gone. */
async function staleLock(lab: Lab): Promise<void> {
  const dead = new Deno.Command("true").spawn();
  const { success } = await dead.status;
  assert.ok(success);
  await Deno.mkdir(lab.ratchetDir, { recursive: true });
  await Deno.writeTextFile(join(lab.ratchetDir, "lock"), `${dead.pid}\n`);
}

const POINT_CASES: PointCase[] = [
  { point: "lock.acquired", where: "preflight: lock taken" },
  {
    point: "lock.stale.moved-aside",
    where: "preflight: stale lock moved aside",
    setup: staleLock,
  },
  {
    point: "config.write.before-rename",
    where: "preflight: config.json temp written",
  },
  {
    point: "config.write.after-rename",
    where: "preflight: config.json in place",
  },
  {
    point: "run.worktree-created",
    where: "worktree created, harness not yet pinned",
  },
  { point: "run.harness-snapshotted", where: "harness snapshot written" },
  { point: "trial.before-start:1", where: "baseline trial about to start" },
  {
    point: "reports.write.before-rename",
    where: "baseline report temp written",
  },
  { point: "results.append.mid-line", where: "baseline record half written" },
  {
    point: "prepare.committed",
    where: "preflight: the prepared image committed, the run not told yet",
    args: [
      "--prepare-command",
      // Unique, so no prepared image an earlier run left on the engine can
      // stand in for this one and skip the fault point.
      `mkdir -p /opt/dep && echo ready > /opt/dep/ok # ${crypto.randomUUID()}`,
    ],
  },
  {
    point: "tree.image-built",
    where: "baseline: the start tree's image built, not measured",
  },
  { point: "run.baseline-recorded", where: "baseline recorded" },
  {
    point: "tree.image-built:2",
    where: "iteration 1: the candidate's tree image built",
  },
  {
    point: "current.write.before-rename",
    where: "iteration 1: current.json temp written",
  },
  {
    point: "current.write.after-rename:2",
    where: "iteration 1: phase checking",
  },
  {
    point: "diffs.write.before-rename",
    where: "iteration 1: diff temp written",
  },
  { point: "diffs.write.after-rename", where: "iteration 1: diff saved" },
  { point: "loop.diff-saved", where: "iteration 1: after the diff" },
  { point: "trial.before-start:2", where: "iteration 1: trial about to start" },
  {
    point: "reports.write.after-rename:2",
    where: "iteration 1: trial report saved",
  },
  {
    point: "current.write.after-rename:4",
    where: "iteration 1: phase deciding",
  },
  { point: "loop.committed", where: "iteration 1: committed, not recorded" },
  {
    point: "results.append.before-fsync:2",
    where: "iteration 1: record written, not fsynced",
  },
  {
    point: "results.append.after-fsync:2",
    where: "iteration 1: record fsynced",
  },
  { point: "loop.recorded", where: "iteration 1: recorded" },
  {
    point: "current.clear.before-remove",
    where: "iteration 1: before current.json removal",
  },
  { point: "trial.before-start:3", where: "iteration 2: trial about to start" },
  {
    point: "loop.reverted",
    where: "iteration 2: regression reverted, not recorded",
  },
  {
    point: "results.append.mid-line:3",
    where: "iteration 2: record half written",
  },
  {
    point: "images.removed",
    where: "iteration 2: the reverted candidate's image removed",
  },
  {
    point: "confirmation.write.before-rename",
    where: "end: confirmation file about to be written",
  },
  {
    point: "confirmation.write.after-rename:2",
    where: "end: confirmation, the start commit's trial saved",
  },
  {
    point: "confirm.trial-recorded:2",
    where: "end: confirmation, both trials saved, result not yet",
  },
  {
    point: "run.stop-recorded",
    where: "end: stop written, worktree not yet removed",
  },
];

/** A torn record, then a second kill while resume cuts it off. */
const TORN_POINTS = [
  "results.append.mid-line:2",
  "results.repair.before-truncate",
] as const;

/** Notes of `ratchet instruct`: the run killed, or instruct itself. */
const NOTE_CASES = [
  {
    point: "notes.mark-read.before-fsync",
    title: "note marked read, run killed before the proposal used it",
    runFault: true,
  },
  {
    point: "notes.append.before-fsync",
    title: "`ratchet instruct` killed while appending its note",
    runFault: false,
  },
];

/** The second run killed while it archives the first. */
const ARCHIVE_POINTS = [
  "archive.intent-written",
  "archive.mid",
  "archive.mid:4",
  "archive.before-finish",
];

/** `ratchet report` killed around the rename of report.html. */
const REPORT_POINTS = [
  "report.write.before-rename",
  "report.write.after-rename",
];

/**
 * The standard crash scenario: `run` dies at the fault, then the run is
 * recovered (`resume`, or `run` when no run was written yet) and checked.
 */
async function killAndRecover(
  lab: Lab,
  fault: {
    env?: Record<string, string>;
    kill?: { afterMs: number };
    args?: string[];
  },
): Promise<void> {
  const r1 = await lab.ratchet(
    "run",
    runArgs(undefined, ...(fault.args ?? [])),
    {
      ...(fault.env ? { env: fault.env } : {}),
      ...(fault.kill
        ? { kill: { signal: "SIGKILL", afterMs: fault.kill.afterMs } }
        : {}),
    },
  );
  if (fault.env) {
    lab.check(
      "crash",
      "killed at the fault point (SIGKILL, 137)",
      r1.code === 137,
      r1.stderrTail,
    );
  } else {
    lab.check(
      "crash",
      "killed (137) or finished first (0)",
      r1.code === 137 || r1.code === 0,
      r1.stderrTail,
    );
  }
  await lab.verifyAfterCrash("after SIGKILL");
  await recover(lab);
}

/** `resume` when a run was written, else check resume refuses (3) and `run` again. */
async function recover(lab: Lab): Promise<void> {
  if ((await lab.runFile()) === null) {
    const r = await lab.ratchet("resume", ["resume", "--json"]);
    lab.check(
      "recovery",
      "resume with no run written exits 3",
      r.code === 3 && /no run to resume/i.test(r.stderr),
      r.stderrTail,
    );
    lab.result.recovery = "run";
    const again = await lab.ratchet("run", runArgs());
    lab.check(
      "recovery",
      "a new run finishes (exit 0)",
      again.code === 0,
      again.stderrTail,
    );
  } else {
    lab.result.recovery = "resume";
    const r = await lab.ratchet("resume", ["resume", "--json"]);
    lab.check(
      "recovery",
      "resume finishes (exit 0)",
      r.code === 0,
      r.stderrTail,
    );
  }
  await lab.verifyClean("final", { finished: true, iterations: ITERATIONS });
}

dockerTest(
  "SIGKILL at every write point of a run, then resume: results parse, iters dense, branch = kept records, worktree gone, no container left, run finished",
  async () => {
    await using model = await startFakeModel();
    const results = await runGroup("crash", {
      title: "SIGKILL at each write point, then resume",
      about:
        "`RATCHET_FAULT_POINT=name[:N]` makes ratchet SIGKILL itself the N-th time it reaches a write point. Each scenario is a 2-iteration run (iteration 1 kept and committed, 2 reverted; one trial each) killed at one point, then recovered with `ratchet resume` (or `ratchet run` when the kill came before config.json existed, after checking that `resume` refuses with exit 3).",
      test: "tests/e2e/reliability_crash_test.ts",
    }, async (add) => {
      const tasks = POINT_CASES.map((c) => () =>
        scenario({
          id: `kill@${c.point}`,
          group: "crash",
          title: c.where,
          fault: `SIGKILL at ${c.point}`,
          modelUrl: model.url,
        }, async (lab) => {
          await c.setup?.(lab);
          await killAndRecover(lab, {
            env: { RATCHET_FAULT_POINT: c.point },
            ...(c.args === undefined ? {} : { args: c.args }),
          });
        }).then(add)
      );
      tasks.push(() =>
        scenario({
          id: "kill@repair",
          group: "crash",
          title: "torn record, then killed again while cutting it off",
          fault: `SIGKILL at ${TORN_POINTS[0]}, then at ${TORN_POINTS[1]}`,
          modelUrl: model.url,
        }, async (lab) => {
          const r1 = await lab.ratchet("run", runArgs(), {
            env: { RATCHET_FAULT_POINT: TORN_POINTS[0] },
          });
          lab.check(
            "crash",
            "killed mid-line (137)",
            r1.code === 137,
            r1.stderrTail,
          );
          const torn = await lab.results();
          lab.check(
            "crash",
            "a torn last line is on disk",
            torn.bad.length === 1 && torn.bad[0]!.last,
            JSON.stringify(torn.bad),
          );
          await lab.verifyAfterCrash("after SIGKILL 1");
          const r2 = await lab.ratchet("resume", ["resume", "--json"], {
            env: { RATCHET_FAULT_POINT: TORN_POINTS[1] },
          });
          lab.check(
            "crash",
            "killed before the truncate (137)",
            r2.code === 137,
            r2.stderrTail,
          );
          await lab.verifyAfterCrash("after SIGKILL 2");
          await recover(lab);
        }).then(add)
      );
      tasks.push(
        ...notesCases(model.url, model).map((t) => () => t().then(add)),
      );
      await pool(PARALLEL, tasks);
    });
    assert.equal(describeFailures(results), "");
    const covered = new Set(
      results.flatMap((r) =>
        [...r.fault.matchAll(/at ([a-z.-]+)/g)].map((m) => m[1]!)
      ),
    );
    assert.ok(covered.size >= 20, `only ${covered.size} distinct points`);
  },
);

/** `ratchet instruct` notes across crashes of the run and of instruct itself. */
function notesCases(
  modelUrl: string,
  model: { stats: { prompts: string[] } },
): (() => Promise<ScenarioResult>)[] {
  const withNote = (
    id: string,
    title: string,
    fault: string,
    runFault: string | null,
    instructFault: string | null,
  ) =>
  () =>
    scenario({ id, group: "crash", title, fault, modelUrl }, async (lab) => {
      const marker = `note-${crypto.randomUUID().slice(0, 8)}`;
      let instructCode = -1;
      let noted: Promise<void> = Promise.resolve();
      const r1 = await lab.ratchet("run", runArgs(), {
        ...(runFault ? { env: { RATCHET_FAULT_POINT: runFault } } : {}),
        kill: {
          signal: "SIGKILL",
          when: (out) => out.includes('"event":"run_started"'),
          action: () => {
            noted = (async () => {
              const p = spawnRatchet(["instruct", marker], lab.dir, {
                ...(instructFault
                  ? { RATCHET_FAULT_POINT: instructFault }
                  : {}),
              });
              instructCode = (await p.done).code;
            })();
          },
        },
      });
      await noted;
      lab.check(
        "instruct",
        instructFault
          ? "instruct killed at its fault (137)"
          : "instruct accepted (0)",
        instructCode === (instructFault ? 137 : 0),
        `exit ${instructCode}`,
      );
      if (runFault) {
        lab.check(
          "crash",
          "run killed at the fault (137)",
          r1.code === 137,
          r1.stderrTail,
        );
        await lab.verifyAfterCrash("after SIGKILL");
        await recover(lab);
      } else {
        lab.check("run", "run finishes (0)", r1.code === 0, r1.stderrTail);
        await lab.verifyClean("final", {
          finished: true,
          iterations: ITERATIONS,
        });
      }
      const seen = model.stats.prompts.filter((p) => p.includes(marker)).length;
      lab.check(
        "notes",
        "the note reached the model exactly once",
        seen === 1,
        `seen ${seen} time(s)`,
      );
    });
  return NOTE_CASES.map((c) =>
    withNote(
      `kill@${c.point}`,
      c.title,
      c.runFault
        ? `SIGKILL at ${c.point}`
        : `SIGKILL of instruct at ${c.point}`,
      c.runFault ? c.point : null,
      c.runFault ? null : c.point,
    )
  );
}

dockerTest(
  "a run killed at each step of archiving the previous run: the next run finishes the archive, loses none of the old run's records and runs to the end",
  async () => {
    await using model = await startFakeModel();
    const cases = ARCHIVE_POINTS;
    const results = await runGroup("archive", {
      title: "SIGKILL while archiving the previous run",
      about:
        "A finished 1-iteration run, then a second (1-iteration) `ratchet run` killed while it moves the first run's files to `.ratchet/runs/<run_id>/`, then a third `ratchet run`: it must finish the interrupted archive into the same directory (nothing lost, nothing duplicated), then run to the end.",
      test: "tests/e2e/reliability_crash_test.ts",
    }, async (add) => {
      await pool(
        PARALLEL,
        cases.map((point) => () =>
          scenario({
            id: `kill@${point}`,
            group: "archive",
            title: "second run archiving the first",
            fault: `SIGKILL at ${point}`,
            modelUrl: model.url,
          }, async (lab) => {
            const first = await lab.ratchet("run (first)", runArgs(1));
            lab.check(
              "setup",
              "first run finishes",
              first.code === 0,
              first.stderrTail,
            );
            const firstRun = (await lab.runFile())!;
            const firstRecords = await Deno.readTextFile(
              join(lab.ratchetDir, "results.jsonl"),
            );
            const r = await lab.ratchet("run (archiving)", runArgs(1), {
              env: { RATCHET_FAULT_POINT: point },
            });
            lab.check(
              "crash",
              "killed at the fault point (137)",
              r.code === 137,
              r.stderrTail,
            );
            lab.result.recovery = "run";
            const again = await lab.ratchet("run", runArgs(1));
            lab.check(
              "recovery",
              "the next run finishes (exit 0)",
              again.code === 0,
              again.stderrTail,
            );
            const archived = join(lab.ratchetDir, "runs", firstRun.run_id);
            const text = await Deno.readTextFile(
              join(archived, "results.jsonl"),
            ).catch(() => "");
            lab.check(
              "archive",
              "the first run's records are archived unchanged",
              text === firstRecords,
              `${parseResults(text).records.length} records archived`,
            );
            const cfg = await Deno.readTextFile(join(archived, "config.json"))
              .catch(() => "{}");
            lab.check(
              "archive",
              "the first run's config.json is archived",
              JSON.parse(cfg).run_id === firstRun.run_id,
            );
            const dirs = [];
            for await (const e of Deno.readDir(join(lab.ratchetDir, "runs"))) {
              dirs.push(e.name);
            }
            lab.check(
              "archive",
              "one archive directory, no duplicate",
              dirs.length === 1 && dirs[0] === firstRun.run_id,
              dirs.join(", "),
            );
            const intent = await Deno.lstat(
              join(lab.ratchetDir, "archive.json"),
            ).then(() => true, () => false);
            lab.check("archive", "no archive intent left", !intent);
            await lab.verifyClean("final", { finished: true, iterations: 1 });
            const third = await lab.ratchet("run (next)", runArgs(1));
            lab.check(
              "archive",
              "a later run archives again (exit 0)",
              third.code === 0,
              third.stderrTail,
            );
          }).then(add)
        ),
      );
    });
    assert.equal(describeFailures(results), "");
  },
);

dockerTest(
  "kill -9 at seeded random moments of real runs, then resume: the same invariants hold every time",
  async () => {
    await using model = await startFakeModel();
    const SEED = 20_261_128;
    const random = seededRandom(SEED);
    const [MIN_MS, MAX_MS, KILLS] = [300, 5000, 8];
    const delays = Array.from(
      { length: KILLS },
      () => Math.round(MIN_MS + random() * (MAX_MS - MIN_MS)),
    );
    const results = await runGroup("random", {
      title: "kill -9 at random moments",
      about:
        `\`kill -9\` of \`ratchet run\` after a delay drawn from a PRNG with the fixed seed ${SEED} (${KILLS} kills, uniform ${
          MIN_MS / 1000
        }–${
          MAX_MS / 1000
        } s; a 2-iteration run takes about 4 s alone), then \`ratchet resume\` (or \`ratchet run\` when nothing was written yet).`,
      test: "tests/e2e/reliability_crash_test.ts",
    }, async (add) => {
      await pool(
        PARALLEL,
        delays.map((ms) => () =>
          scenario({
            id: `kill-9@${ms}ms`,
            group: "random",
            title: `kill -9 after ${ms} ms`,
            fault: `SIGKILL after ${ms} ms`,
            modelUrl: model.url,
          }, (lab) => killAndRecover(lab, { kill: { afterMs: ms } })).then(
            (r) => {
              r.timed = true;
              return add(r);
            },
          )
        ),
      );
    });
    assert.equal(describeFailures(results), "");
  },
);

dockerTest(
  "ratchet report killed while writing report.html leaves the old report or the new one, never a torn file",
  async () => {
    await using model = await startFakeModel();
    const results = await runGroup("report", {
      title: "SIGKILL while writing the HTML report",
      about:
        "After a finished 1-iteration run and a first `ratchet report`, `ratchet report` is killed just before and just after the atomic rename of `.ratchet/report.html`; the file must be the old report or the new one, complete, and the next `ratchet report` must work.",
      test: "tests/e2e/reliability_crash_test.ts",
    }, async (add) => {
      add(
        await scenario({
          id: "kill@report.write",
          group: "report",
          title: "report.html rewritten under SIGKILL",
          fault: REPORT_POINTS.map((p) => `SIGKILL at ${p}`).join(", "),
          modelUrl: model.url,
        }, async (lab) => {
          const html = join(lab.ratchetDir, "report.html");
          const r = await lab.ratchet("run", runArgs(1));
          lab.check("setup", "run finishes", r.code === 0, r.stderrTail);
          const first = await lab.ratchet("report", ["report"]);
          lab.check(
            "setup",
            "report writes report.html",
            first.code === 0,
            first.stderrTail,
          );
          const old = await Deno.readTextFile(html).catch(() => "");
          for (const point of REPORT_POINTS) {
            const k = await lab.ratchet("report", ["report"], {
              env: { RATCHET_FAULT_POINT: point },
            });
            lab.check(
              point,
              "killed at the fault point (137)",
              k.code === 137,
              k.stderrTail,
            );
            const now = await Deno.readTextFile(html).catch(() => "");
            const complete = /<\/html>\s*$/i.test(now);
            lab.check(
              point,
              point.endsWith("before-rename")
                ? "report.html is the old report, unchanged"
                : "report.html is a complete report",
              point.endsWith("before-rename") ? now === old : complete,
              `${now.length} bytes`,
            );
          }
          const again = await lab.ratchet("report", ["report"]);
          lab.check(
            "recovery",
            "the next report works (exit 0)",
            again.code === 0,
            again.stderrTail,
          );
          lab.result.recovery = "report";
          await lab.verifyClean("final", { finished: true, iterations: 1 });
        }),
      );
    });
    assert.equal(describeFailures(results), "");
  },
);

Deno.test("every fault point is exercised by a reliability scenario", () => {
  // The points the scenarios above are built from, not a second list.
  const used = new Set(
    [
      ...POINT_CASES.map((c) => c.point),
      ...TORN_POINTS,
      ...NOTE_CASES.map((c) => c.point),
      ...ARCHIVE_POINTS,
      ...REPORT_POINTS,
    ].map((p) => p.split(":")[0]!),
  );
  assert.deepEqual(FAULT_POINTS.filter((p) => !used.has(p)), []);
  assert.deepEqual([...used].filter((p) => !FAULT_POINTS.includes(p)), []);
});
