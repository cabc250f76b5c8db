/**
 * The statistical rule end to end, with a noisy metric: every trial adds
 * 0, 1 or 2 (from /dev/urandom) to the number in value.txt.
 */
import assert from "node:assert/strict";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  reportSide,
  reportsOf,
  runArgs,
  runContainers,
  scoringRepo,
  setValue,
  submit,
  turn,
} from "./_support.ts";

dockerTest(
  "ratchet run under --decision stat interleaves incumbent and candidate trials, keeps a large real improvement and does not keep an equal change",
  async () => {
    await using repo = await scoringRepo({
      "value.txt": "100\n",
      "score.sh":
        'echo "score: $(( $(sh prog.sh) + $(od -An -N1 -tu1 /dev/urandom) % 3 ))"\n',
    });
    await using server = await startFakeAnthropic([
      // 1: +100%: far beyond the noise
      setValue(100, 200, "value 200"),
      // 2: a change that cannot move the score
      turn(
        replace("/work/README.md", "a repo to optimise", "a repo to optimize"),
        submit("Spelling should not matter.", "fix the spelling"),
      ),
    ]);
    try {
      // --min-effect 0.03 is above anything the noise (at most 2 on ~200)
      // can produce, so the equal change can never be kept by luck.
      const r = await ratchet(
        runArgs(2, "--max-trials", "5", "--min-effect", "0.03"),
        repo.dir,
        server,
      );
      assert.deepEqual(server.violations, []);
      assert.equal(r.code, 0, r.stderr);
      const run = await readRun(repo.dir);
      assert.equal(run.deterministic, false, r.stderr);
      const records = await readRecords(repo.dir);
      assertRecordsWellFormed(records, run.run_id);
      const [base, big, same] = records;

      // Baseline: 5 trials, all within 100..102.
      assert.equal(base!.trial_scores.length, 5);
      for (const s of base!.trial_scores) assert.ok(s! >= 100 && s! <= 102);

      // The big change: kept, with the statistics recorded.
      assert.equal(big!.decision, "improved", big!.detail);
      assert.equal(big!.kept, true);
      assert.ok(big!.trial_scores.length >= 3);
      assert.ok(
        big!.baseline_scores.length >= 3,
        "the incumbent was re-measured",
      );
      for (const s of big!.baseline_scores) assert.ok(s >= 100 && s <= 102);
      for (const s of big!.trial_scores) assert.ok(s! >= 200 && s! <= 202);
      assert.equal(typeof big!.p_value, "number");
      assert.ok(big!.p_value! < 0.05, `p ${big!.p_value}`);
      assert.ok(big!.effect! > 0.9 && big!.effect! < 1.1, `${big!.effect}`);
      assert.ok(Array.isArray(big!.ci) && big!.ci[0] <= big!.effect!);
      assert.ok(big!.ci![1] >= big!.effect!);

      // The equal change: not kept, with its statistics.
      assert.notEqual(same!.decision, "improved", same!.detail);
      assert.equal(same!.kept, false);
      assert.equal(same!.sha, null);
      assert.ok(same!.trial_scores.length >= 3);
      assert.equal(same!.baseline_scores.length, same!.trial_scores.length);
      for (const s of same!.baseline_scores) assert.ok(s >= 200 && s <= 202);
      assert.ok(Math.abs(same!.effect!) < 0.03, `${same!.effect}`);
      assert.equal(typeof same!.p_value, "number");
      assert.ok(Array.isArray(same!.ci));
      assert.ok(
        ["no_change", "inconclusive", "regressed"].includes(same!.decision),
      );

      // A B A B …: the report files say which side each trial measured.
      for (const x of [big!, same!]) {
        const names = await reportsOf(repo.dir, x.iter);
        assert.equal(
          names.length,
          x.trial_scores.length + x.baseline_scores.length,
        );
        const sides = await Promise.all(
          names.map((n) => reportSide(repo.dir, n)),
        );
        sides.forEach((side, i) =>
          assert.equal(
            side,
            i % 2 === 0 ? "incumbent" : "candidate",
            `iter ${x.iter}: ${sides}`,
          )
        );
      }
      await assertBranchMatchesKept(repo, records, run.branch);
      assert.deepEqual(await runContainers(run.run_id), []);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
