/**
 * Guards end to end through the real CLI (issue 18): a project whose
 * benchmark prints a time and an accuracy. A candidate that halves the time
 * by skipping half the work (accuracy −10%) is `regressed` with
 * `guard_regressed`; an honest speed-up with accuracy unchanged is kept.
 * Once with a deterministic benchmark (exact comparisons), once with a
 * noisy time and an accuracy that wobbles inside its tolerance (the
 * sequential rule and the non-inferiority test). The run ends with the
 * end-of-run confirmation, and log, status, report and apply show it all.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type FakeAnthropic,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import { type TempRepo, tempRepo } from "../_helpers/git_repo.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  firstUserText,
  IMAGE,
  proposalStarts,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  runContainers,
  submit,
  turn,
} from "./_support.ts";

/**
 * The benchmark (harness): the time is the work done, n items at `cost`
 * each, skipping all but every `stride`-th; the accuracy falls by 10% per
 * extra stride. `noisy` adds up to 6% to the time and up to 0.4% (well
 * inside the 2% tolerance) to the accuracy, from /dev/urandom.
 */
function benchRepo(noisy: boolean): Promise<TempRepo> {
  const noise = noisy
    ? "r=$(od -An -N1 -tu1 /dev/urandom); q=$(od -An -N1 -tu1 /dev/urandom)"
    : "r=0; q=0";
  return tempRepo({
    "cost.txt": "10\n",
    "stride.txt": "1\n",
    "bench.sh": [
      noise,
      "s=$(cat stride.txt); c=$(cat cost.txt)",
      "t=$(( 100 * c / s ))",
      'echo "time: $(( t * (100 + r % 7) / 100 ))"',
      'echo "accuracy: 0.$(( 9000 - 900 * (s - 1) + q % 40 ))"',
      "",
    ].join("\n"),
    "README.md": "a k-NN benchmark\n",
  });
}

function runArgs(...extra: string[]): string[] {
  return [
    "run",
    "--run-command",
    "sh bench.sh",
    "--direction",
    "min",
    "--metric-name",
    "time",
    "--report-source",
    "stdout",
    "--guard",
    "accuracy:max",
    "--image",
    IMAGE,
    "--harness",
    "bench.sh",
    "--iterations",
    "2",
    ...extra,
  ];
}

/** Iteration 1 skips half the work; iteration 2 halves the cost honestly. */
function script(): Promise<FakeAnthropic> {
  return startFakeAnthropic([
    turn(
      replace("/work/stride.txt", "1", "2"),
      submit(
        "Processing every other item halves the time.",
        "stride 2 over the items",
      ),
    ),
    turn(
      replace("/work/cost.txt", "10", "5"),
      submit(
        "A cheaper per-item computation halves the time.",
        "cheaper distance per item",
      ),
    ),
  ]);
}

async function checkRun(repo: TempRepo, server: FakeAnthropic, noisy: boolean) {
  const run = await readRun(repo.dir);
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  const [base, skip, honest] = records;

  // The baseline carries the guard's values.
  assert.equal(base!.guards!.accuracy!.scores.length, 5);
  assert.ok(
    base!.guards!.accuracy!.avg! >= 0.9 && base!.guards!.accuracy!.avg! < 0.91,
  );

  // Halving the time by skipping half the work: the guard stops it.
  assert.equal(skip!.decision, "regressed", skip!.detail);
  assert.equal(skip!.reason, "guard_regressed");
  assert.equal(skip!.kept, false);
  assert.match(
    skip!.detail,
    /guard accuracy −(9\.[5-9]|10\.\d)% \(tolerance 2\.0%\): worse/,
  );
  assert.ok(skip!.effect! < -0.45, `time effect ${skip!.effect}`);
  const g = skip!.guards!.accuracy!;
  assert.ok(g.effect! < -0.09 && g.effect! > -0.11, `${g.effect}`);
  assert.equal(g.scores.length, skip!.trial_scores.length);
  assert.equal(g.baseline_scores.length, skip!.baseline_scores.length);

  // The honest speed-up with the accuracy unchanged: kept.
  assert.equal(honest!.decision, "improved", honest!.detail);
  assert.equal(honest!.kept, true);
  assert.match(
    honest!.detail,
    /guard accuracy [+−]0\.\d% \(tolerance 2\.0%\): not worse/,
  );
  assert.match(
    honest!.detail,
    noisy ? /^rule=stat\/(welch-t|mann-whitney)/ : /^rule=exact; /,
  );
  assert.ok(Math.abs(honest!.guards!.accuracy!.effect!) < 0.01);
  if (noisy) assert.ok(honest!.guards!.accuracy!.p_value! < 0.05);
  await assertBranchMatchesKept(repo, records, run.branch);

  // The model saw the guard in its objective, and which guard stopped
  // iteration 1 in the research log.
  const starts = proposalStarts(server);
  const system = String(server.requests[starts[0]!]!.body!.system ?? "");
  assert.match(
    JSON.stringify(server.requests[starts[0]!]!.body!.system),
    /`accuracy`: higher is better; at most 2% worse than the incumbent/,
    system.slice(0, 200),
  );
  assert.match(
    firstUserText(server, starts[1]!),
    /iter 1 \| regressed \(guard_regressed\) \| guard accuracy −(9\.[5-9]|10\.\d)% \(tolerance 2\.0%\): worse/,
  );

  // The end-of-run confirmation: start commit vs iteration 2, interleaved.
  const c = JSON.parse(
    await Deno.readTextFile(join(repo.dir, ".ratchet/confirmation.json")),
  );
  assert.equal(c.incumbent_iter, 2);
  assert.equal(c.per_side, noisy ? 4 : 1);
  assert.deepEqual(
    c.trials.map((t: { side: string }) => t.side),
    Array.from(
      { length: 2 * c.per_side },
      (_, i) => i % 2 === 0 ? "baseline" : "incumbent",
    ),
  );
  assert.ok(c.result.gain < -0.45 && c.result.gain > -0.55, `${c.result.gain}`);
  assert.ok(Math.abs(c.result.guards.accuracy.effect) < 0.01);
  const reports =
    (await Array.fromAsync(Deno.readDir(join(repo.dir, ".ratchet/reports"))))
      .map((e) => e.name).filter((n) => n.startsWith("confirm-trial-"));
  assert.equal(reports.length, 2 * c.per_side);
  const first = await Deno.readTextFile(
    join(repo.dir, ".ratchet/reports/confirm-trial-01.txt"),
  );
  assert.match(first, /end-of-run confirmation, trial 1 \(baseline\)/);
  assert.match(first, /\nguards: +accuracy=0\.9/);
  return { run, records, c };
}

for (const noisy of [false, true]) {
  dockerTest(
    `ratchet run with --guard${
      noisy ? " on a noisy metric" : ""
    }: skipping half the work is guard_regressed, an honest speed-up is kept, the claim is confirmed at the end`,
    async () => {
      await using repo = await benchRepo(noisy);
      await using server = await script();
      try {
        const r = await ratchet(
          runArgs(...(noisy ? ["--max-trials", "4"] : [])),
          repo.dir,
          server,
        );
        assert.deepEqual(server.violations, []);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stderr, /Claimed gain: -\d\d\.\d+% /);
        const { run } = await checkRun(repo, server, noisy);
        assert.equal(run.deterministic, !noisy);
        assert.deepEqual(await runContainers(run.run_id), []);

        // log: the rule and guards columns, the claimed gain.
        const log = await ratchet(["log"], repo.dir, null, {
          env: { COLUMNS: "200" },
        });
        assert.equal(log.code, 0, log.stderr);
        assert.match(log.stdout, /rule\s+guards/);
        assert.match(log.stdout, /regressed .*accuracy -(9\.[5-9]|10\.\d)%/);
        assert.match(log.stdout, /claimed gain -\d\d\.\d+% /);

        // status --json: the confirmation and the guards.
        const st = await ratchet(["status", "--json"], repo.dir, null);
        const status = JSON.parse(st.stdout);
        assert.equal(status.confirmation.state, "done");
        assert.ok(status.confirmation.result.gain < -0.45);
        assert.ok(
          Math.abs(
            status.guards.accuracy.best - status.guards.accuracy.baseline,
          ) < 0.01,
        );

        // The report: a chart for the guard, the claimed gain.
        const rep = await ratchet(["report"], repo.dir, null);
        assert.equal(rep.code, 0, rep.stderr);
        const html = await Deno.readTextFile(rep.stdout.trim());
        assert.match(html, /<svg class="guard-chart" data-guard="accuracy"/);
        assert.match(html, /<div class="k">claimed gain<\/div>/);

        // apply: the commit message states the confirmed gain and the guard.
        const applied = await ratchet(["apply"], repo.dir, null);
        assert.equal(applied.code, 0, applied.stderr);
        const message = await repo.git("log", "-1", "--format=%B");
        assert.match(
          message,
          /^ratchet: time \S+ → \S+ \(-\d\d\.\d%, confirmed\) in 1 change\(s\)/,
        );
        assert.match(
          message,
          /Claimed gain: -\d\d\.\d+% .*start commit and iter 2 measured interleaved/,
        );
        assert.match(message, /Guards: accuracy [+-]0\.\d+%/);
        assert.match(
          message,
          /- iter 2: cheaper distance per item \(effect -\d\d\.\d+%.*guards accuracy/,
        );
      } finally {
        await removeRunContainers(repo.dir);
      }
    },
  );
}

dockerTest(
  "ratchet run stops with exit 5 naming a guard the baseline's report lacks, before any API call",
  async () => {
    await using repo = await benchRepo(false);
    await using server = await startFakeAnthropic([]);
    try {
      const r = await ratchet(
        runArgs().map((a) => a === "accuracy:max" ? "recall:max" : a),
        repo.dir,
        server,
      );
      assert.equal(r.code, 5, r.stderr);
      assert.match(
        r.stderr,
        /guard "recall": metric "recall" not found in the report; tried:/,
      );
      assert.match(r.stderr, /a line like "recall: VALUE"/);
      assert.equal(server.requests.length, 0);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
