/**
 * Runs that stop before their end and continue with `ratchet resume`:
 * SIGINT, SIGTERM, SIGKILL (while proposing and while measuring), an API
 * outage; and `ratchet instruct` notes reaching a running run.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type FakeAnthropic,
  type FakeStep,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import type { TempRepo } from "../_helpers/git_repo.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  exists,
  firstUserText,
  giveUp,
  proposalStarts,
  ratchet,
  readCurrent,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  runArgs,
  runContainers,
  scoringRepo,
  setValue,
  slowTurn,
  spawnRatchet,
  submit,
  turn,
  waitFor,
} from "./_support.ts";

/** Fast runs: the original rule, one trial per candidate. */
const MEAN = ["--decision", "mean", "--trials", "1"];

async function worktreeState(repo: TempRepo) {
  const wt = join(repo.dir, ".ratchet/worktree");
  const git = (...args: string[]) =>
    new Deno.Command("git", { args, cwd: wt, stdin: "null" }).output().then(
      (o) => new TextDecoder().decode(o.stdout).trim(),
    );
  return {
    head: await git("rev-parse", "HEAD"),
    status: await git("status", "--porcelain"),
    value: (await Deno.readTextFile(join(wt, "value.txt"))).trim(),
    prog: (await Deno.readTextFile(join(wt, "prog.sh"))).trim(),
  };
}

/** The state a stopped-but-resumable run leaves. */
async function assertResumable(
  repo: TempRepo,
  reason: "interrupted" | "upstream",
  iters: number,
) {
  const run = await readRun(repo.dir);
  assert.equal(run.state, "running");
  assert.equal(run.stop_reason, reason);
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  assert.equal(records.length, iters);
  await assertBranchMatchesKept(repo, records, run.branch);
  // The candidate was reverted: the worktree is exactly the incumbent.
  const incumbent = records.filter((r) => r.kept).at(-1)!;
  const wt = await worktreeState(repo);
  assert.equal(wt.head, incumbent.sha);
  assert.equal(wt.status, "");
  // The iteration cut short stays in current.json with what it spent.
  const current = await readCurrent(repo.dir);
  if (current !== null) {
    assert.equal(current.run_id, run.run_id);
    assert.equal(current.iter, iters);
  }
  assert.deepEqual(await runContainers(run.run_id), []);
  assert.equal(await exists(join(repo.dir, ".ratchet/lock")), false);
  return { run, records, current };
}

/** The state a finished run leaves. */
async function assertFinished(repo: TempRepo, decisions: string[]) {
  const run = await readRun(repo.dir);
  assert.equal(run.state, "finished");
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  assert.deepEqual(records.map((r) => r.decision), decisions);
  await assertBranchMatchesKept(repo, records, run.branch);
  assert.equal(await exists(join(repo.dir, ".ratchet/worktree")), false);
  assert.deepEqual(await runContainers(run.run_id), []);
  return { run, records };
}

async function resume(
  repo: TempRepo,
  steps: FakeStep[],
  args: string[] = [],
): Promise<{ server: FakeAnthropic; stderr: string }> {
  const server = await startFakeAnthropic(steps);
  try {
    const r = await ratchet(["resume", ...args], repo.dir, server);
    assert.deepEqual(server.violations, []);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(server.remaining(), 0);
    return { server, stderr: r.stderr };
  } finally {
    await server.close();
  }
}

dockerTest(
  "ratchet run stops on SIGINT (exit 130) and SIGTERM (exit 143) with the state written, the candidate reverted and no container left; ratchet resume finishes the run",
  async () => {
    await using repo = await scoringRepo();
    // current.json's cost after each interruption of iteration 2.
    const spent: number[] = [];
    try {
      // SIGINT while the model is answering, with an edit already made.
      {
        await using server = await startFakeAnthropic([
          setValue(10, 20),
          turn(replace("/work/value.txt", "20", "25")),
          slowTurn(30_000, submit("never", "never")),
        ]);
        const p = spawnRatchet(runArgs(3, ...MEAN), repo.dir, server);
        await waitFor("the slow request", () => server.requests.length >= 3);
        p.kill("SIGINT");
        const r = await p.done;
        assert.equal(r.code, 130, r.stderr);
        assert.match(r.stderr, /continue with: ratchet resume/);
        const { records, current } = await assertResumable(
          repo,
          "interrupted",
          2,
        );
        assert.equal(records[1]!.decision, "improved");
        assert.equal((await worktreeState(repo)).value, "20");
        // The call answered before the interrupt is paid for: it is kept.
        assert.ok(current !== null && current.cost_usd > 0, `${current}`);
        spent.push(current.cost_usd);
      }
      // SIGTERM while a trial of the candidate runs (a slow program).
      {
        await using server = await startFakeAnthropic([
          turn(
            replace(
              "/work/prog.sh",
              "cat value.txt",
              "sleep 30; cat value.txt",
            ),
            submit("Sleeping first warms the cache.", "sleep"),
          ),
        ]);
        const p = spawnRatchet(["resume"], repo.dir, server);
        const run = await readRun(repo.dir);
        await waitFor(
          "the candidate's trial",
          async () =>
            (await readCurrent(repo.dir))?.phase === "measuring" &&
            (await runContainers(run.run_id)).length > 0,
        );
        p.kill("SIGTERM");
        const r = await p.done;
        assert.equal(r.code, 143, r.stderr);
        assert.deepEqual(server.violations, []);
        const { current } = await assertResumable(repo, "interrupted", 2);
        assert.equal((await worktreeState(repo)).prog, "cat value.txt");
        // The retry started from the first attempt's spend and added its own.
        assert.ok(current !== null && current.cost_usd > spent[0]!);
        spent.push(current.cost_usd);
      }
      // Resume to the end.
      const { stderr } = await resume(repo, [setValue(20, 30), ...giveUp()]);
      assert.match(stderr, /Resuming run/);
      assert.match(stderr, /Iteration 2 was cut short after spending \$/);
      const { records } = await assertFinished(repo, [
        "baseline",
        "improved",
        "improved",
        "no_change",
      ]);
      // Iteration 2's record pays for all three attempts at it.
      assert.ok(records[2]!.cost_usd > spent[1]!, `${records[2]!.cost_usd}`);
      assert.equal(await readCurrent(repo.dir), null);
      // Resuming a finished run is a no-op (exit 0).
      const again = await ratchet(["resume"], repo.dir, null);
      assert.equal(again.code, 0, again.stderr);
      assert.match(again.stderr, /already finished/);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "ratchet run stops with exit 4 when the API stays unavailable, and ratchet resume finishes the run",
  async () => {
    await using repo = await scoringRepo();
    try {
      // The first try and every retry fail (500, 529 overloaded).
      const outage: FakeStep[] = Array.from({ length: 7 }, (_, i) => ({
        type: "error" as const,
        status: i % 2 === 0 ? 529 : 500,
        error_type: i % 2 === 0 ? "overloaded_error" : "api_error",
        headers: { "retry-after-ms": "10" },
      }));
      await using server = await startFakeAnthropic([
        setValue(10, 20),
        ...outage,
      ]);
      const r = await ratchet(runArgs(3, ...MEAN), repo.dir, server);
      assert.deepEqual(server.violations, []);
      assert.equal(r.code, 4, r.stderr);
      assert.equal(server.remaining(), 0, "six retries after the first try");
      assert.match(r.stderr, /unavailable/);
      assert.match(r.stderr, /ratchet resume/);
      await assertResumable(repo, "upstream", 2);

      await resume(repo, [setValue(20, 30), ...giveUp()]);
      await assertFinished(repo, [
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

dockerTest(
  "ratchet instruct puts a note into exactly one later proposal of the running run, and exits 3 when no run is going",
  async () => {
    await using repo = await scoringRepo();
    try {
      const none = await ratchet(["instruct", "too early"], repo.dir, null);
      assert.equal(none.code, 3, none.stderr);
      assert.match(none.stderr, /No run is going/);
      const noResume = await ratchet(["resume"], repo.dir, null);
      assert.equal(noResume.code, 3, noResume.stderr);
      assert.match(noResume.stderr, /no run to resume/);

      const NOTE = "E2E-NOTE: try the value 40";
      await using server = await startFakeAnthropic([
        slowTurn(
          6000,
          replace("/work/value.txt", "10", "20"),
          submit("Setting the value to 20 raises the score.", "value 20"),
        ),
        setValue(20, 40),
        ...giveUp(),
      ]);
      const p = spawnRatchet(runArgs(3, ...MEAN), repo.dir, server);
      // Iteration 1 is waiting for the model: the note is for iteration 2.
      await waitFor("iteration 1's request", () => server.requests.length >= 1);
      const note = await ratchet(["instruct", NOTE], repo.dir, null);
      assert.equal(note.code, 0, note.stderr);
      assert.match(note.stderr, /Note 1 saved/);
      // One run per repo: a second one while this one lives is refused.
      const second = await ratchet(runArgs(3, ...MEAN), repo.dir, null);
      assert.equal(second.code, 3, second.stderr);
      assert.match(second.stderr, /Another ratchet run holds the lock/);
      const r = await p.done;
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(server.violations, []);

      const withNote = server.requests.flatMap((q, i) =>
        q.raw.includes(NOTE) ? [i] : []
      );
      const starts = proposalStarts(server);
      assert.deepEqual(starts, [0, 1, 2]);
      assert.deepEqual(withNote, [1], "only iteration 2's request has it");
      assert.match(firstUserText(server, 1), /Notes from the user/);
      await assertFinished(repo, [
        "baseline",
        "improved",
        "improved",
        "no_change",
      ]);
      const after = await ratchet(["instruct", "too late"], repo.dir, null);
      assert.equal(after.code, 3, after.stderr);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "after SIGKILL while proposing and while measuring, ratchet resume finishes with dense records, the branch equal to the kept commits, and no container left",
  async () => {
    await using repo = await scoringRepo();
    let killedSpend = 0;
    try {
      // kill -9 while the model answers, with an edit already in the sandbox.
      {
        await using server = await startFakeAnthropic([
          setValue(10, 20),
          turn(replace("/work/value.txt", "20", "25")),
          slowTurn(30_000, submit("never", "never")),
        ]);
        const p = spawnRatchet(runArgs(4, ...MEAN), repo.dir, server);
        await waitFor("the slow request", () => server.requests.length >= 3);
        p.kill("SIGKILL");
        assert.equal((await p.done).code, 137);
        const run = await readRun(repo.dir);
        assert.equal(run.state, "running");
        const records = await readRecords(repo.dir);
        assertRecordsWellFormed(records, run.run_id);
        assert.equal(records.length, 2);
        const current = await readCurrent(repo.dir);
        assert.equal(current?.phase, "proposing");
        // Written after the call that made the edit: kill -9 cannot lose it.
        assert.ok(current !== null && current.cost_usd > 0);
        killedSpend = current.cost_usd;
        // The edit lived in the sandbox container, which kill -9 took with
        // it: the worktree is still at the incumbent, and resume starts the
        // iteration again from there.
        assert.equal((await worktreeState(repo)).value, "20");
      }
      // kill -9 while the candidate's (slow) trial runs.
      {
        await using server = await startFakeAnthropic([
          turn(
            replace("/work/value.txt", "20", "25"),
            replace(
              "/work/prog.sh",
              "cat value.txt",
              "sleep 30; cat value.txt",
            ),
            submit("Slow but bigger.", "value 25, slowly"),
          ),
        ]);
        const p = spawnRatchet(["resume"], repo.dir, server);
        const run = await readRun(repo.dir);
        await waitFor(
          "the candidate's trial",
          async () =>
            (await readCurrent(repo.dir))?.phase === "measuring" &&
            (await runContainers(run.run_id)).length > 0,
        );
        p.kill("SIGKILL");
        assert.equal((await p.done).code, 137);
        assert.match(p.stderr(), /Took over a stale lock/);
        assert.ok((await runContainers(run.run_id)).length > 0);
        const records = await readRecords(repo.dir);
        assertRecordsWellFormed(records, run.run_id);
        assert.equal(records.length, 2);
      }
      const { stderr } = await resume(repo, [
        setValue(20, 30),
        ...giveUp(),
        setValue(30, 40),
      ]);
      assert.match(stderr, /Removed \d+ leftover container/);
      const { run, records } = await assertFinished(repo, [
        "baseline",
        "improved",
        "improved",
        "no_change",
        "improved",
      ]);
      assert.equal(new Set(records.map((r) => r.iter)).size, records.length);
      // The attempts killed at iteration 2 are paid for in its record.
      assert.ok(records[2]!.cost_usd > killedSpend, `${records[2]!.cost_usd}`);
      assert.equal(await repo.git("rev-parse", run.branch), records[4]!.sha);
      assert.equal(await repo.git("show", `${run.branch}:value.txt`), "40");
      assert.equal(
        await repo.git("show", `${run.branch}:prog.sh`),
        "cat value.txt",
      );
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "a run interrupted right after a crashed candidate still shows the crash to the next proposal after ratchet resume",
  async () => {
    await using repo = await scoringRepo();
    const marker = `crash-${crypto.randomUUID().slice(0, 8)}`;
    try {
      {
        await using server = await startFakeAnthropic([
          turn(
            replace(
              "/work/prog.sh",
              "cat value.txt",
              `echo "${marker}" >&2; exit 7`,
            ),
            submit("A faster program.", "rewrite prog.sh"),
          ),
          slowTurn(30_000, submit("never", "never")),
        ]);
        const p = spawnRatchet(runArgs(3, ...MEAN), repo.dir, server);
        await waitFor("the next proposal", () => server.requests.length >= 2);
        // The crash reached the proposal that was cut short.
        assert.ok(firstUserText(server, 1).includes(marker));
        p.kill("SIGINT");
        assert.equal((await p.done).code, 130);
        const { records } = await assertResumable(repo, "interrupted", 2);
        assert.equal(records[1]!.decision, "crashed");
      }
      const { server } = await resume(repo, [setValue(10, 20), ...giveUp()]);
      const retry = firstUserText(server, 0);
      assert.ok(retry.includes(marker), retry);
      assert.ok(retry.includes("# The last candidate crashed"));
      await assertFinished(repo, [
        "baseline",
        "crashed",
        "improved",
        "no_change",
      ]);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
