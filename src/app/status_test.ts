import assert from "node:assert/strict";
import { confidenceOf, readStatus, type StatusJson } from "./status.ts";
import { Store } from "../infra/store/store.ts";
import { EnvironmentError } from "../errors.ts";
import { SCHEMA_VERSION } from "../core/state.ts";
import { renderStatus } from "../ui/status_view.ts";
import { tempDir } from "../../tests/_helpers/git_repo.ts";
import {
  buildFixture,
  installFixture,
  manyRecords,
} from "../../tests/fixtures/records/generate.ts";

const DEAD = () => false;
const ALIVE = () => true;

async function mixedStore(dir: string): Promise<Store> {
  await installFixture("mixed", dir);
  return new Store(dir);
}

Deno.test("readStatus() says there is no run with exit 3 and how to start one", async () => {
  await using dir = await tempDir();
  await assert.rejects(readStatus(new Store(dir.dir)), (error) => {
    assert.ok(error instanceof EnvironmentError);
    assert.equal(error.exitCode, 3);
    assert.match(error.message, /no ratchet run/);
    assert.match(error.hint ?? "", /ratchet run/);
    return true;
  });
});

Deno.test("readStatus() reports a finished run: baseline, best, kept, cost, stop reason", async () => {
  await using dir = await tempDir();
  const store = await mixedStore(dir.dir);
  const status = await readStatus(store, { isAlive: DEAD });
  const { run } = buildFixture("mixed");
  assert.deepEqual(Object.keys(status), [
    "schema_version",
    "run_id",
    "state",
    "pid",
    "branch",
    "worktree",
    "iter",
    "phase",
    "trial",
    "of",
    "baseline",
    "best",
    "kept",
    "cost_usd",
    "stop_reason",
    "engine",
    "confirmation",
    "guards",
  ]);
  assert.equal(status.confirmation, null);
  assert.equal(status.guards, null);
  assert.equal(status.schema_version, SCHEMA_VERSION);
  assert.equal(status.run_id, run.run_id);
  assert.equal(status.state, "finished");
  assert.equal(status.pid, null);
  assert.equal(status.branch, `ratchet/${run.run_id}`);
  assert.equal(status.worktree, store.paths.worktree);
  assert.equal(status.iter, 13);
  assert.equal(status.phase, "finished");
  // Baseline: the mean of iteration 0's five trials with its 95% interval.
  assert.ok(Math.abs(status.baseline.mean! - 12.424) < 1e-9);
  const [lo, hi] = status.baseline.ci!;
  assert.ok(Math.abs(lo - 12.3452) < 1e-4 && Math.abs(hi - 12.5028) < 1e-4);
  // Best: iteration 12, valued at its latest re-measurement (iteration 13's
  // baseline_scores), not at the average that got it kept.
  assert.equal(status.best?.iter, 12);
  assert.equal(status.best?.sha, "bc".repeat(20));
  assert.ok(Math.abs(status.best!.mean - (8.84 + 8.8 + 8.86) / 3) < 1e-9);
  assert.ok(status.best!.ci !== null);
  assert.equal(status.kept, 3);
  assert.equal(status.cost_usd, 1.1447);
  assert.equal(status.stop_reason, "iterations");
});

Deno.test("readStatus() reports the claimed gain and the guards of a guarded run", async () => {
  await using dir = await tempDir();
  await installFixture("guarded", dir.dir);
  const store = new Store(dir.dir);
  const status = await readStatus(store, { isAlive: DEAD });
  const { confirmation } = buildFixture("guarded");
  assert.deepEqual(status.confirmation, {
    state: "done",
    incumbent_iter: 4,
    per_side: 4,
    trials: 8,
    result: confirmation!.result,
  });
  assert.ok(status.guards !== null);
  assert.ok(Math.abs(status.guards.accuracy!.baseline! - 0.91) < 1e-12);
  assert.ok(Math.abs(status.guards.accuracy!.best! - 0.91) < 1e-12);
  const text = renderStatus(status, { color: false, direction: "min" });
  assert.match(
    text,
    /^claimed\s+-99\.000% \[-99\.017%, -98\.983%\] \(start commit and iter 4 measured interleaved at the end, 4 vs 4 trials\)$/m,
  );
  assert.match(
    text,
    /^guards\s+accuracy 0\.91 → 0\.91 \(\+0\.0%\); confirmed \+0\.0%$/m,
  );
  // A confirmation of another incumbent (an extended run kept a change
  // since) is not this run's claim.
  const moved = { ...confirmation!, incumbent_sha: "ff".repeat(20) };
  await store.writeConfirmation(moved);
  assert.equal((await readStatus(store, { isAlive: DEAD })).confirmation, null);
  // While measuring: how far it got.
  await store.writeConfirmation({
    ...confirmation!,
    result: null,
    trials: confirmation!.trials.slice(0, 3),
  });
  const measuring = await readStatus(store, { isAlive: DEAD });
  assert.equal(measuring.confirmation?.state, "measuring");
  assert.match(
    renderStatus(measuring, { color: false }),
    /^claimed\s+confirming: start commit vs iter 4, trial 3 of 8$/m,
  );
});

Deno.test("readStatus() tells running from interrupted by the lock's PID", async () => {
  await using dir = await tempDir();
  const store = await mixedStore(dir.dir);
  const run = (await store.readRun())!;
  await store.writeRun({
    ...run,
    state: "running",
    stop_reason: null,
    finished_at: null,
  });
  const noLock = await readStatus(store, { isAlive: ALIVE });
  assert.equal(noLock.state, "interrupted");
  assert.equal(noLock.iter, 13);
  assert.equal(noLock.phase, null);

  await Deno.writeTextFile(store.paths.lock, "4242\n");
  await store.writeCurrent({
    schema_version: 1,
    run_id: run.run_id,
    iter: 14,
    phase: "measuring",
    incumbent_sha: "bc".repeat(20),
    candidate_tree: null,
    hypothesis: "h",
    description: "d",
    started_at: "2026-03-02T10:00:00.000Z",
    tokens: { input: 0, output: 0, cache_write: 0, cache_read: 0 },
    cost_usd: 0,
  });
  const running = await readStatus(store, {
    isAlive: (pid) => pid === 4242,
  });
  assert.equal(running.state, "running");
  assert.equal(running.pid, 4242);
  assert.equal(running.iter, 14);
  assert.equal(running.phase, "measuring");

  const dead = await readStatus(store, { isAlive: DEAD });
  assert.equal(dead.state, "interrupted");
  assert.equal(dead.pid, null);
  assert.equal(dead.phase, "measuring", "where it stopped");
});

Deno.test("readStatus() reads a run with no record yet and one with a torn last line", async () => {
  await using dir = await tempDir();
  const store = await mixedStore(dir.dir);
  const full = await Deno.readTextFile(store.paths.results);
  await Deno.writeTextFile(store.paths.results, "");
  const empty = await readStatus(store, { isAlive: DEAD });
  assert.deepEqual(empty.baseline, { mean: null, ci: null });
  assert.equal(empty.best, null);
  assert.equal(empty.kept, 0);
  assert.equal(empty.cost_usd, 0);
  assert.equal(empty.iter, null);

  // A run appending line 14 when status reads: the half line is left out.
  const lines = full.trimEnd().split("\n");
  await Deno.writeTextFile(
    store.paths.results,
    lines.slice(0, 13).join("\n") + "\n" + lines[13]!.slice(0, 60),
  );
  const torn = await readStatus(store, { isAlive: DEAD });
  assert.equal(torn.iter, 12);
  assert.equal(torn.best?.iter, 12);
});

// How long this takes is measured by `deno task bench:readers`
// (bench/readers_bench.ts), not asserted here: a wall-clock bound inside the
// parallel unit suite fails on a loaded machine.
Deno.test("readStatus() reads a 10,000-record results.jsonl", async () => {
  await using dir = await tempDir();
  const store = await mixedStore(dir.dir);
  const runId = (await store.readRun())!.run_id;
  const lines = manyRecords(10_000).map((r) =>
    JSON.stringify({ ...r, run_id: runId })
  );
  await Deno.writeTextFile(store.paths.results, lines.join("\n") + "\n");
  const status = await readStatus(store, { isAlive: DEAD });
  assert.equal(status.iter, 9_999);
  assert.ok(status.kept > 500);
});

Deno.test("confidenceOf() reads the run's confidence, 0.95 otherwise", () => {
  assert.equal(confidenceOf({ confidence: 0.9 }), 0.9);
  assert.equal(confidenceOf({}), 0.95);
  assert.equal(confidenceOf({ confidence: "high" }), 0.95);
  assert.equal(confidenceOf({ confidence: 1.5 }), 0.95);
});

function status(overrides: Partial<StatusJson> = {}): StatusJson {
  return {
    schema_version: 1,
    run_id: "20260302-090000-9c1e",
    state: "finished",
    pid: null,
    branch: "ratchet/20260302-090000-9c1e",
    worktree: "/repo/.ratchet/worktree",
    iter: 13,
    phase: "finished",
    engine: null,
    trial: null,
    of: null,
    baseline: { mean: 12.424, ci: [12.3452, 12.5028] },
    best: {
      iter: 12,
      sha: "bc".repeat(20),
      mean: 8.8333,
      ci: [8.7574, 8.9092],
    },
    kept: 3,
    cost_usd: 1.1447,
    stop_reason: "iterations",
    confirmation: null,
    guards: null,
    ...overrides,
  };
}

Deno.test("renderStatus() shows the gain and how to take a finished run", () => {
  const text = renderStatus(status(), { color: false, direction: "min" });
  assert.match(text, /^run\s+20260302-090000-9c1e$/m);
  assert.match(text, /^state\s+finished$/m);
  assert.match(text, /^iteration\s+13 \(finished\)$/m);
  assert.match(text, /^baseline\s+12\.424 \[12\.345, 12\.503\]$/m);
  assert.match(
    text,
    /^best\s+8\.833 \[8\.757, 8\.909\] at iter 12: -28\.9% vs baseline, better$/m,
  );
  assert.match(text, /^kept\s+3 change\(s\)$/m);
  assert.match(text, /^cost\s+\$1\.14$/m);
  assert.match(text, /^stopped\s+iterations: the iteration cap was reached$/m);
  assert.match(text, /ratchet apply/);
  assert.match(text, /git merge --squash ratchet\/20260302-090000-9c1e/);
  assert.match(
    renderStatus(status(), { color: false, direction: "max" }),
    /vs baseline, not better/,
  );
});

Deno.test("renderStatus() says what to do while running, when interrupted, or with nothing kept", () => {
  const running = renderStatus(
    status({
      state: "running",
      pid: 4242,
      phase: "measuring",
      stop_reason: null,
    }),
    { color: false },
  );
  assert.match(running, /^state\s+running \(pid 4242\)$/m);
  assert.match(running, /ratchet instruct/);
  assert.doesNotMatch(running, /ratchet apply|stopped/);

  const interrupted = renderStatus(
    status({ state: "interrupted", stop_reason: "interrupted", phase: null }),
    { color: false },
  );
  assert.match(interrupted, /ratchet resume/);
  assert.match(interrupted, /^stopped\s+interrupted/m);

  const nothing = renderStatus(
    status({
      kept: 0,
      best: { iter: 0, sha: "a0".repeat(20), mean: 12.424, ci: null },
    }),
    { color: false },
  );
  assert.match(nothing, /No change was kept/);
  assert.doesNotMatch(nothing, /vs baseline/);

  const fresh = renderStatus(
    status({
      state: "running",
      pid: 1,
      iter: null,
      phase: null,
      baseline: { mean: null, ci: null },
      best: null,
      kept: 0,
      cost_usd: 0,
      stop_reason: null,
    }),
    { color: false },
  );
  assert.match(fresh, /^baseline\s+—$/m);
  assert.match(fresh, /^best\s+—$/m);
  assert.match(fresh, /baseline not recorded yet/);
});
