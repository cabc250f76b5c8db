/**
 * A run's start and its first iterations through the real CLI, Docker and
 * the scripted fake API (issue 16): `--no-NAME` resetting what ratchet.jsonc
 * set, the baseline shown as a phase with trial k of n, a wrong `--model`
 * found before anything starts (run and resume), and the diff of a proposal
 * that edited files without submitting kept in `.ratchet/diffs/`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import { runCliInTerminal, spawnCli } from "../_helpers/cli.ts";
import {
  apiEnv,
  exists,
  giveUp,
  ratchet,
  readCurrent,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  runArgs,
  say,
  scoringRepo,
  setValue,
  turn,
  waitFor,
} from "./_support.ts";

const MEAN = ["--decision", "mean", "--trials", "1"];
/** The model the runs use, and one the API does not know (priced by family). */
const MODEL = "claude-sonnet-4-5";
const UNKNOWN = "claude-sonnet-4-5-20990101";

dockerTest(
  "--no-critic, --no-threshold, --no-trial-timeout-seconds and --no-gpus reset what ratchet.jsonc set",
  async () => {
    // Each of these from the file would change or stop the run: critic
    // mode, a threshold the baseline already reaches, a timeout every trial
    // hits, GPUs this machine does not have.
    await using repo = await scoringRepo({
      "ratchet.jsonc":
        '{ "critic": true, "threshold": 5, "trial-timeout-seconds": 0.001, "gpus": "all" }\n',
    });
    await using server = await startFakeAnthropic([
      { ...setValue(10, 20), expect_role: "implementer" },
    ]);
    try {
      const r = await ratchet(
        runArgs(
          1,
          ...MEAN,
          "--trust-config",
          "--no-critic",
          "--no-threshold",
          "--no-trial-timeout-seconds",
          "--no-gpus",
        ),
        repo.dir,
        server,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(server.violations, []);
      const run = await readRun(repo.dir);
      assert.equal(run.stop_reason, "iterations");
      const config = run.config as Record<string, unknown>;
      assert.equal(config.critic, false);
      assert.equal(config.threshold, null);
      assert.equal(config["trial-timeout-seconds"], null);
      assert.equal(config.gpus, null);
      const records = await readRecords(repo.dir);
      assert.deepEqual(records.map((x) => x.decision), [
        "baseline",
        "improved",
      ]);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "the baseline writes current.json and phase events: status --json shows phase baseline with trial k of n",
  async () => {
    await using repo = await scoringRepo({
      "prog.sh": "sleep 1; cat value.txt\n",
    });
    await using server = await startFakeAnthropic([]);
    try {
      const p = spawnCli(
        runArgs(0, "--decision", "stat", "--trials", "3", "--json"),
        { cwd: repo.dir, env: apiEnv(server) },
      );
      const seen: { trial: number; of: number }[] = [];
      await waitFor("status to show baseline trial 3", async () => {
        const s = await ratchet(["status", "--json"], repo.dir, null);
        if (s.code !== 0) return false;
        const st = JSON.parse(s.stdout);
        if (st.phase === "baseline") seen.push({ trial: st.trial, of: st.of });
        return st.phase === "baseline" && st.trial >= 3;
      }, 60_000);
      const r = await p.done;
      assert.equal(r.code, 0, r.stderr);
      assert.ok(seen.length > 0);
      for (const s of seen) {
        assert.equal(s.of, 5, "max(trials, 5) baseline trials under stat");
        assert.ok(s.trial >= 1 && s.trial <= 5);
      }
      for (let k = 1; k <= 5; k++) {
        assert.match(
          r.stdout,
          new RegExp(
            `"event":"phase","iter":0,"phase":"baseline","trial":${k},"of":5`,
          ),
        );
      }
      // Recorded and finished: nothing is in progress any more.
      assert.equal(await readCurrent(repo.dir), null);
      const st = JSON.parse(
        (await ratchet(["status", "--json"], repo.dir, null)).stdout,
      );
      assert.equal(st.phase, "finished");
      assert.equal(st.trial, null);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "on a terminal the live line shows the baseline phase with trial k of n",
  async () => {
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([]);
    try {
      const r = await runCliInTerminal(
        runArgs(0, "--decision", "stat", "--trials", "3"),
        { cwd: repo.dir, env: apiEnv(server) },
      );
      assert.equal(r.code, 0, r.terminal);
      // Without the colour codes (the terminal gets them).
      const plain = r.terminal.replace(
        new RegExp(`${"\x1b"}\\[[0-9;]*[A-Za-z]`, "g"),
        "",
      );
      for (let k = 1; k <= 5; k++) {
        assert.ok(
          plain.includes(`iter 0 baseline trial ${k}/5`),
          `no live line for trial ${k}/5: ${JSON.stringify(plain)}`,
        );
      }
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "a model the API does not know stops run (and resume --model) with exit 2 before anything starts",
  async () => {
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([setValue(10, 20)], {
      knownModels: [MODEL],
    });
    try {
      const bad = await ratchet(
        runArgs(1, ...MEAN, "--model", UNKNOWN),
        repo.dir,
        server,
      );
      assert.equal(bad.code, 2, bad.stderr);
      assert.match(
        bad.stderr,
        new RegExp(`error: The Anthropic API does not know model "${UNKNOWN}"`),
      );
      assert.match(bad.stderr, /hint: Check --model/);
      // Nothing started: no run, no baseline trial, no Messages request.
      assert.equal(await exists(join(repo.dir, ".ratchet/config.json")), false);
      assert.equal(await exists(join(repo.dir, ".ratchet/reports")), false);
      assert.equal(await repo.git("branch", "--list", "ratchet/*"), "");
      assert.equal(server.requests.length, 0);
      assert.deepEqual(server.modelLookups, [UNKNOWN]);

      // A good model runs; resume --model is checked the same way.
      const ok = await ratchet(
        runArgs(0, ...MEAN, "--model", MODEL),
        repo.dir,
        server,
      );
      assert.equal(ok.code, 0, ok.stderr);
      const before = await Deno.readTextFile(
        join(repo.dir, ".ratchet/config.json"),
      );
      const resumed = await ratchet(
        ["resume", "--iterations", "1", "--model", UNKNOWN],
        repo.dir,
        server,
      );
      assert.equal(resumed.code, 2, resumed.stderr);
      assert.match(resumed.stderr, new RegExp(`model "${UNKNOWN}"`));
      assert.equal(
        await Deno.readTextFile(join(repo.dir, ".ratchet/config.json")),
        before,
      );
      assert.equal(server.requests.length, 0);
      const good = await ratchet(
        ["resume", "--iterations", "1", "--model", MODEL],
        repo.dir,
        server,
      );
      assert.equal(good.code, 0, good.stderr);
      assert.deepEqual(server.violations, []);
      assert.equal(
        (await readRecords(repo.dir)).map((r) => r.decision).join(),
        "baseline,improved",
      );
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "a proposal that edited files but never submitted (or hit the tool cap) keeps its diff in .ratchet/diffs/",
  async () => {
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([
      // Iteration 1: edits, then stops without submit_change (reminded once).
      turn(replace("/work/value.txt", "10", "15")),
      ...giveUp(),
      // Iteration 2: two edits in one turn; the second is past the cap of 1.
      turn(
        replace("/work/value.txt", "10", "12"),
        replace("/work/prog.sh", "cat value.txt", "cat value.txt # x"),
      ),
      // Iteration 3: says nothing and changes nothing.
      turn(say("Nothing to do.")),
      turn(say("Really nothing.")),
    ]);
    try {
      const r = await ratchet(
        runArgs(3, ...MEAN, "--max-tool-calls", "1"),
        repo.dir,
        server,
      );
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(server.violations, []);
      const records = await readRecords(repo.dir);
      assert.deepEqual(
        records.slice(1).map((x) => [x.decision, x.reason]),
        [["no_change", "no_submit"], ["no_change", "tool_cap"], [
          "no_change",
          "no_submit",
        ]],
      );
      const diff1 = await Deno.readTextFile(
        join(repo.dir, ".ratchet/diffs/iter-0001.patch"),
      );
      assert.match(diff1, /-10\n\+15/);
      assert.deepEqual(records[1]!.diff_stat, {
        files: 1,
        insertions: 1,
        deletions: 1,
      });
      const diff2 = await Deno.readTextFile(
        join(repo.dir, ".ratchet/diffs/iter-0002.patch"),
      );
      assert.match(diff2, /\+12/);
      // Nothing changed, nothing saved.
      assert.equal(
        await exists(join(repo.dir, ".ratchet/diffs/iter-0003.patch")),
        false,
      );
      // Not kept: the branch holds no commit of them.
      const run = await readRun(repo.dir);
      assert.equal(
        await repo.git("rev-parse", run.branch),
        records[0]!.sha,
      );
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
