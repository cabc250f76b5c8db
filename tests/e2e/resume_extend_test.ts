/**
 * `ratchet resume` extends a finished run whatever stopped it (issue 16):
 * patience, threshold, consecutive crashes, cost and the iteration cap. The
 * condition that ended the run does not end the extension at once; a run
 * stopped at its cost cap goes on only with a higher cap, and says so.
 */
import assert from "node:assert/strict";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type FakeStep,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import type { TempRepo } from "../_helpers/git_repo.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  giveUp,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  runArgs,
  scoringRepo,
  setValue,
  submit,
  turn,
} from "./_support.ts";

const MEAN = ["--decision", "mean", "--trials", "1"];

/** `ratchet <args>` against a fresh fake serving `steps`; all must be used. */
async function step(
  repo: TempRepo,
  args: string[],
  steps: FakeStep[],
  code = 0,
): Promise<string> {
  await using server = await startFakeAnthropic(steps);
  const r = await ratchet(args, repo.dir, server);
  assert.deepEqual(server.violations, []);
  assert.equal(r.code, code, r.stderr);
  assert.equal(server.remaining(), 0, `unused steps: ${r.stderr}`);
  return r.stderr;
}

/** The run's stop reason and decisions, checked for consistency. */
async function state(repo: TempRepo) {
  const run = await readRun(repo.dir);
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  await assertBranchMatchesKept(repo, records, run.branch);
  return {
    state: run.state,
    stop: run.stop_reason,
    decisions: records.map((r) => r.decision),
    config: run.config as Record<string, unknown>,
  };
}

dockerTest(
  "resume --iterations N extends a run stopped for patience: the patience count starts again",
  async () => {
    await using repo = await scoringRepo();
    try {
      await step(repo, runArgs(10, ...MEAN, "--patience", "1"), giveUp());
      const first = await state(repo);
      assert.equal(first.state, "finished");
      assert.equal(first.stop, "patience");
      assert.deepEqual(first.decisions, ["baseline", "no_change"]);
      await step(repo, ["resume", "--iterations", "3"], [
        setValue(10, 20),
        ...giveUp(),
      ]);
      const s = await state(repo);
      assert.equal(s.stop, "patience");
      assert.deepEqual(s.decisions, [
        "baseline",
        "no_change",
        "improved",
        "no_change",
      ]);
      assert.equal(s.config.iterations, 3);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "resume --iterations N extends a run that reached its threshold (the goal is dropped, and said so) or stopped for crashes",
  async () => {
    await using repo = await scoringRepo();
    try {
      await step(
        repo,
        runArgs(
          5,
          ...MEAN,
          "--threshold",
          "15",
          "--max-consecutive-crashes",
          "1",
        ),
        [setValue(10, 20)],
      );
      let s = await state(repo);
      assert.equal(s.stop, "threshold");
      assert.deepEqual(s.decisions, ["baseline", "improved"]);
      // A threshold the run already reached is refused when asked for again.
      const again = await step(
        repo,
        ["resume", "--iterations", "3", "--threshold", "18"],
        [],
        2,
      );
      assert.match(again, /--threshold 18 is already reached/);
      const stderr = await step(repo, ["resume", "--iterations", "3"], [
        // Crashes (prog.sh exits 7): one is the cap.
        turn(
          replace("/work/prog.sh", "cat value.txt", "exit 7"),
          submit("A faster program.", "rewrite prog.sh"),
        ),
      ]);
      assert.match(
        stderr,
        /threshold 15 was reached; the extension runs without one/,
      );
      s = await state(repo);
      assert.equal(s.stop, "crashes");
      assert.equal(s.config.threshold, null);
      assert.deepEqual(s.decisions, ["baseline", "improved", "crashed"]);
      await step(repo, ["resume", "--iterations", "3"], [
        setValue(20, 30),
      ]);
      s = await state(repo);
      assert.equal(s.stop, "iterations");
      assert.deepEqual(s.decisions, [
        "baseline",
        "improved",
        "crashed",
        "improved",
      ]);
      // The iteration cap: only a higher --iterations extends it.
      const capped = await step(repo, ["resume", "--iterations", "3"], [], 2);
      assert.match(capped, /--iterations 3 does not extend the run/);
      assert.match(capped, /hint: Pass --iterations N with N above 3/);
      const finished = await step(repo, ["resume"], []);
      assert.match(finished, /already finished \(iterations\)/);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "a run stopped at its cost cap continues only with a higher --max-cost-usd",
  async () => {
    await using repo = await scoringRepo();
    try {
      // One call of 400k input tokens costs $1.20 at $3 per million: over $1.
      await step(repo, runArgs(3, ...MEAN, "--max-cost-usd", "1"), [
        {
          content: [
            replace("/work/value.txt", "10", "20"),
            submit("Setting the value to 20 raises the score.", "value 20"),
          ],
          usage: { input_tokens: 400_000 },
        },
      ]);
      let s = await state(repo);
      assert.equal(s.stop, "cost");
      assert.deepEqual(s.decisions, ["baseline", "improved"]);
      const refused = await step(repo, ["resume", "--iterations", "3"], [], 2);
      assert.match(refused, /has spent \$1\.20 of its --max-cost-usd \$1\.00/);
      assert.match(refused, /hint: Pass a higher cap, e\.g\. --max-cost-usd/);
      assert.equal((await readRun(repo.dir)).state, "finished");
      await step(repo, ["resume", "--max-cost-usd", "10"], [
        setValue(20, 30),
        ...giveUp(),
      ]);
      s = await state(repo);
      assert.equal(s.stop, "iterations");
      assert.equal(s.config["max-cost-usd"], 10);
      assert.deepEqual(s.decisions, [
        "baseline",
        "improved",
        "improved",
        "no_change",
      ]);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
