/**
 * The end-of-run confirmation through the real CLI (issue 16, item 18):
 * killed in the middle of it, `resume` continues exactly where it stopped
 * (the trials measured stay, none is measured twice, the pair order holds)
 * and the run finishes with the claimed gain.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import {
  assertRecordsWellFormed,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  runArgs,
  runContainers,
  scoringRepo,
  setValue,
} from "./_support.ts";

interface ConfirmationFile {
  per_side: number;
  incumbent_iter: number;
  trials: { side: string; k: number; score: number | null }[];
  result: { gain: number; ci: [number, number] } | null;
}

async function confirmation(dir: string): Promise<ConfirmationFile> {
  return JSON.parse(
    await Deno.readTextFile(join(dir, ".ratchet/confirmation.json")),
  );
}

async function confirmReports(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(join(dir, ".ratchet/reports"))) {
    if (e.name.startsWith("confirm-trial-")) names.push(e.name);
  }
  return names.sort();
}

dockerTest(
  "a run killed during its end-of-run confirmation resumes it exactly and finishes with the claimed gain",
  async () => {
    await using repo = await scoringRepo({
      "value.txt": "100\n",
      "score.sh":
        'echo "score: $(( $(sh prog.sh) + $(od -An -N1 -tu1 /dev/urandom) % 3 ))"\n',
    });
    await using server = await startFakeAnthropic([
      setValue(100, 200, "value 200"),
    ]);
    try {
      const killed = await ratchet(
        runArgs(1, "--max-trials", "4"),
        repo.dir,
        server,
        { env: { RATCHET_FAULT_POINT: "confirm.trial-recorded:3" } },
      );
      assert.equal(killed.code, 137, killed.stderr);
      const run = await readRun(repo.dir);
      assert.equal(run.state, "running");
      const partial = await confirmation(repo.dir);
      assert.equal(partial.per_side, 4);
      assert.equal(partial.incumbent_iter, 1);
      assert.equal(partial.result, null);
      assert.deepEqual(partial.trials.map((t) => `${t.side}${t.k}`), [
        "baseline1",
        "incumbent1",
        "baseline2",
      ]);
      assert.deepEqual(await confirmReports(repo.dir), [
        "confirm-trial-01.txt",
        "confirm-trial-02.txt",
        "confirm-trial-03.txt",
      ]);
      // status shows how far it got.
      const st = JSON.parse(
        (await ratchet(["status", "--json"], repo.dir, null)).stdout,
      );
      assert.equal(st.confirmation.state, "measuring");
      assert.equal(st.confirmation.trials, 3);
      const calls = server.requests.length;

      const resumed = await ratchet(["resume"], repo.dir, server);
      assert.equal(resumed.code, 0, resumed.stderr);
      assert.equal(server.requests.length, calls, "no model call to confirm");
      assert.match(resumed.stderr, /Claimed gain: \+(9\d|10\d)\.\d+% /);
      const done = await confirmation(repo.dir);
      // The three trials measured before the kill are kept as they were;
      // the rest follow in the same order.
      assert.deepEqual(done.trials.slice(0, 3), partial.trials);
      assert.deepEqual(done.trials.map((t) => `${t.side}${t.k}`), [
        "baseline1",
        "incumbent1",
        "baseline2",
        "incumbent2",
        "baseline3",
        "incumbent3",
        "baseline4",
        "incumbent4",
      ]);
      for (const t of done.trials) {
        const [lo, hi] = t.side === "baseline" ? [100, 102] : [200, 202];
        assert.ok(t.score! >= lo && t.score! <= hi, JSON.stringify(t));
      }
      assert.ok(done.result !== null);
      assert.ok(done.result.gain > 0.95 && done.result.gain < 1.05);
      assert.ok(done.result.ci[0] <= done.result.gain);
      assert.equal((await confirmReports(repo.dir)).length, 8);

      const records = await readRecords(repo.dir);
      const after = await readRun(repo.dir);
      assertRecordsWellFormed(records, after.run_id);
      assert.equal(records.length, 2, "the confirmation adds no record");
      assert.equal(after.state, "finished");
      assert.equal(after.stop_reason, "iterations");
      assert.deepEqual(await runContainers(after.run_id), []);

      // A finished run is not confirmed again.
      const again = await ratchet(["resume"], repo.dir, server);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await confirmation(repo.dir)).trials.length, 8);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
