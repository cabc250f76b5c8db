import assert from "node:assert/strict";
import { runIteration } from "./loop.ts";
import { guardNote } from "./iteration_record.ts";
import type { RunState } from "./run_state.ts";
import { makeRecord } from "../core/state.ts";
import { policyOf } from "./run_state.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import { fakeLoop } from "../../tests/_fakes/loop_ports.ts";
import type { Config } from "../config/config.ts";
import { InterruptedError } from "../errors.ts";

function state(
  overrides: Partial<Config> = {},
  deterministic = false,
): RunState {
  const config = testConfig({ direction: "max", ...overrides });
  const baseline = makeRecord({
    run_id: "r",
    iter: 0,
    decision: "baseline",
    trial_scores: [10, 10, 10, 10, 10],
    sha: "sha-0",
    timestamp: "t",
  });
  return {
    runId: "r",
    config,
    policy: policyOf(config, "ratchet.jsonc"),
    deterministic,
    unit: null,
    baseline: { mean: 10, ci: null, scores: [10] },
    incumbent: {
      iter: 0,
      sha: "sha-0",
      tree: "tree-0",
      mean: 10,
      ci: null,
      scores: [10],
    },
    records: [baseline],
    costUsd: 0,
    crashTail: null,
  };
}

Deno.test("runIteration() keeps a better candidate as a commit under exact comparison", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side) => side === "candidate" ? 20 : 10,
  });
  const s = state({}, true);
  const out = await runIteration(f.ports, s, 1);
  assert.equal(out.kind, "recorded");
  assert.equal(f.records[0]!.decision, "improved");
  assert.equal(f.records[0]!.sha, "sha-1");
  assert.equal(f.commits.length, 1);
  assert.match(f.commits[0]!.message, /Decision: improved/);
  assert.equal(s.incumbent.sha, "sha-1");
  assert.deepEqual(f.resets, []);
  assert.deepEqual(f.trialsRun.map((t) => t.side), ["incumbent", "candidate"]);
});

Deno.test("runIteration() reverts a regression and records the re-measured incumbent", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side) => side === "candidate" ? 5 : 10,
  });
  const s = state({}, true);
  await runIteration(f.ports, s, 1);
  assert.equal(f.records[0]!.decision, "regressed");
  assert.equal(f.records[0]!.kept, false);
  assert.equal(f.records[0]!.sha, null);
  assert.deepEqual(f.records[0]!.baseline_scores, [10]);
  assert.deepEqual(f.resets, ["sha-0"]);
  assert.equal(f.commits.length, 0);
});

Deno.test("runIteration() interleaves incumbent and candidate trials under stat", async () => {
  const noise = [0.1, -0.2, 0.15, -0.05, 0.2, -0.1, 0.05, 0.0, -0.15, 0.1];
  const f = fakeLoop({
    proposals: [{}],
    trial: (side, n) =>
      (side === "candidate" ? 15 : 10) + noise[(n - 1) % noise.length]!,
  });
  await runIteration(f.ports, state({ trials: 3, maxTrials: 10 }), 1);
  const sides = f.trialsRun.map((t) => t.side);
  for (let i = 0; i < sides.length; i++) {
    assert.equal(sides[i], i % 2 === 0 ? "incumbent" : "candidate");
  }
  const r = f.records[0]!;
  assert.equal(r.decision, "improved");
  assert.ok(r.p_value !== null && r.p_value < 0.05);
  assert.ok(r.effect !== null && r.effect > 0.4);
  assert.equal(r.baseline_scores.length, r.trial_scores.length);
});

Deno.test("runIteration() rejects a change to a harness path without measuring it", async () => {
  const f = fakeLoop({
    proposals: [{
      changes: [{
        path: "tests/test_a.py",
        status: "M",
        newMode: "100644",
        symlinkTarget: null,
        size: 100,
      }],
    }],
    trial: () => 1,
  });
  await runIteration(f.ports, state({ harness: ["tests/**"] }), 1);
  assert.equal(f.records[0]!.decision, "rejected");
  assert.equal(f.records[0]!.reason, "protected_path");
  assert.equal(f.trialsRun.length, 0);
  assert.deepEqual(f.resets, ["sha-0"]);
});

Deno.test("runIteration() rejects a candidate with files over the size cap without measuring it", async () => {
  const f = fakeLoop({
    proposals: [{
      summary: {
        oversized: [
          { path: "data/big.bin", size: 30_000_000 },
          { path: "model.pt", size: 20_000_000 },
        ],
      },
    }],
    trial: () => 1,
    check: () => ({ passed: true, detail: "" }),
  });
  await runIteration(f.ports, state({ checkCommand: "make test" }), 1);
  const record = f.records[0]!;
  assert.equal(record.decision, "rejected");
  assert.equal(record.reason, "file_too_large");
  assert.equal(record.kept, false);
  assert.match(
    record.detail ?? "",
    /data\/big\.bin.*above the file-size cap.*model\.pt.*above the file-size cap/s,
  );
  // The diff is kept for the record, the worktree reset, nothing measured.
  assert.deepEqual(record.diff_stat, { files: 1, insertions: 1, deletions: 1 });
});

Deno.test("runIteration() rejects files found above the cap before git read them, without measuring", async () => {
  const f = fakeLoop({
    // The big file was left out, so the tree is the incumbent's: still not empty_diff.
    proposals: [{
      tree: "tree-0",
      oversized: [{ path: "big.bin", size: 4 * 1024 ** 3 }],
    }],
    trial: () => 1,
  });
  await runIteration(f.ports, state({ maxFileSize: 1024 ** 2 }), 1);
  assert.deepEqual(f.caps, [1024 ** 2]);
  const r = f.records[0]!;
  assert.equal(r.decision, "rejected");
  assert.equal(r.reason, "file_too_large");
  assert.match(
    r.detail,
    /^wrote big\.bin: 4\.0 GiB \(4294967296 bytes\), above the file-size cap of 1\.0 MiB/,
  );
  assert.equal(f.trialsRun.length, 0);
  assert.deepEqual(f.resets, ["sha-0"]);
});

Deno.test("runIteration() lets the trial images of every tree but the incumbent's go after each record", async () => {
  const f = fakeLoop({
    proposals: [{ tree: "tree-a" }, { tree: "tree-b" }, {
      summary: { kind: "no_submit" },
    }],
    trial: (side, n) => side === "candidate" ? (n === 1 ? 20 : 5) : 10,
  });
  const s = state({}, true);
  await runIteration(f.ports, s, 1);
  // Kept: the candidate's tree is the incumbent's now.
  assert.deepEqual(f.retained, [["tree-a"]]);
  await runIteration(f.ports, s, 2);
  // Reverted: the incumbent stays.
  assert.deepEqual(f.retained.at(-1), ["tree-a"]);
  await runIteration(f.ports, s, 3);
  assert.deepEqual(f.retained, [["tree-a"], ["tree-a"], ["tree-a"]]);
  // The proposer is told the incumbent's tree, where its sandbox starts.
  assert.deepEqual(f.proposals.map((p) => p.incumbent.tree), [
    "tree-0",
    "tree-a",
    "tree-a",
  ]);
});

Deno.test("runIteration() hands the check every symlink of both trees: a link through a link is rejected", async () => {
  const deep = "a/b/c";
  const f = fakeLoop({
    proposals: [{
      changes: [{
        path: "leak",
        status: "A",
        newMode: "120000",
        symlinkTarget: `${deep}/up/../../../etc/passwd`,
        size: 30,
      }],
      links: {
        before: new Map([[`${deep}/up`, "../../.."]]),
        after: new Map([
          [`${deep}/up`, "../../.."],
          ["leak", `${deep}/up/../../../etc/passwd`],
        ]),
      },
    }],
    trial: () => 1,
  });
  await runIteration(f.ports, state(), 1);
  assert.equal(f.records[0]!.decision, "rejected");
  assert.equal(f.records[0]!.reason, "symlink_outside");
  assert.match(
    f.records[0]!.detail,
    /then through a\/b\/c\/up -> \.\.\/\.\.\/\.\./,
  );
  assert.equal(f.trialsRun.length, 0);
});

Deno.test("runIteration() rejects a candidate whose check command fails", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: () => 1,
    check: () => ({ passed: false, detail: "tests failed" }),
  });
  await runIteration(f.ports, state({ checkCommand: "make test" }), 1);
  assert.equal(f.records[0]!.decision, "rejected");
  assert.equal(f.records[0]!.reason, "check_failed");
  assert.equal(f.trialsRun.length, 0);
});

Deno.test("runIteration() records an unchanged tree as no_change empty_diff", async () => {
  const f = fakeLoop({ proposals: [{ tree: "tree-0" }], trial: () => 1 });
  await runIteration(f.ports, state(), 1);
  assert.equal(f.records[0]!.decision, "no_change");
  assert.equal(f.records[0]!.reason, "empty_diff");
});

Deno.test("runIteration() records proposals without submit or over the tool cap", async () => {
  const f = fakeLoop({
    proposals: [{ summary: { kind: "no_submit" } }, {
      summary: { kind: "tool_cap" },
    }],
    trial: () => 1,
  });
  const s = state();
  await runIteration(f.ports, s, 1);
  await runIteration(f.ports, s, 2);
  assert.deepEqual(f.records.map((r) => r.reason), ["no_submit", "tool_cap"]);
  assert.ok(
    f.records.every((r) => r.decision === "no_change" && r.cost_usd === 0.01),
  );
});

Deno.test("runIteration() ends a crashed candidate at once and feeds its output to the next proposal", async () => {
  const f = fakeLoop({
    proposals: [{}, { summary: { kind: "no_submit" } }],
    trial: (side) =>
      side === "candidate"
        ? { outcome: "crashed", output: "Traceback: boom" }
        : 10,
  });
  const s = state({ trials: 3 });
  await runIteration(f.ports, s, 1);
  assert.equal(f.records[0]!.decision, "crashed");
  assert.equal(f.records[0]!.reason, "crashed_trials");
  assert.deepEqual(f.records[0]!.trial_outcomes, ["crashed"]);
  assert.equal(f.trialsRun.length, 2);
  await runIteration(f.ports, s, 2);
  assert.equal(f.proposals[1]!.crashTail, "Traceback: boom");
});

Deno.test("runIteration() writes the phase to current.json before each step", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side) => side === "candidate" ? 20 : 10,
  });
  await runIteration(f.ports, state({ checkCommand: "true" }, true), 1);
  assert.deepEqual(
    f.currents.map((c) => c.phase),
    ["proposing", "checking", "measuring", "deciding"],
  );
});

Deno.test("runIteration() stops without a record when the cost cap ends the proposal before any call", async () => {
  const f = fakeLoop({
    proposals: [{ summary: { kind: "cost_cap", costUsd: 0 } }],
    trial: () => 1,
  });
  const out = await runIteration(f.ports, state(), 1);
  assert.equal(out.kind, "cost_cap");
  assert.equal(f.records.length, 0);
});

Deno.test("runIteration() records what a proposal spent before the cost cap stopped it", async () => {
  const f = fakeLoop({
    proposals: [{
      summary: { kind: "cost_cap", costUsd: 4.8, detail: "cap reached" },
    }],
    trial: () => 1,
  });
  const s = state();
  const out = await runIteration(f.ports, s, 1);
  assert.equal(out.kind, "cost_cap");
  assert.equal(f.records.length, 1);
  assert.equal(f.records[0]!.decision, "no_change");
  assert.equal(f.records[0]!.reason, "no_submit");
  assert.equal(f.records[0]!.cost_usd, 4.8);
  assert.equal(f.records[0]!.detail, "cap reached");
  assert.equal(s.costUsd, 4.8);
  assert.equal(f.trialsRun.length, 0);
});

const tok = (input: number, output: number) => ({
  input,
  output,
  cache_write: 0,
  cache_read: 0,
});

Deno.test("runIteration() writes each model call's spend to current.json, so an interrupted proposal leaves it behind", async () => {
  const f = fakeLoop({
    proposals: [{
      calls: [
        { tokens: tok(100, 10), costUsd: 0.5 },
        { tokens: tok(200, 20), costUsd: 0.25 },
      ],
      throws: new InterruptedError("SIGINT"),
    }],
    trial: () => 1,
  });
  await assert.rejects(runIteration(f.ports, state(), 1), InterruptedError);
  const last = f.currents.at(-1)!;
  assert.equal(last.iter, 1);
  assert.equal(last.cost_usd, 0.75);
  assert.deepEqual(last.tokens, tok(300, 30));
  assert.equal(f.records.length, 0);
});

Deno.test("runIteration() adds an interrupted attempt's spend to the retry's record and the budget", async () => {
  const f = fakeLoop({
    proposals: [{
      calls: [{ tokens: tok(10, 5), costUsd: 0.01 }],
      summary: { tokens: tok(10, 5), costUsd: 0.01 },
    }],
    trial: (side) => side === "candidate" ? 20 : 10,
  });
  const s = state({}, true);
  s.carried = { tokens: tok(300, 30), costUsd: 0.75 };
  s.costUsd = 0.75;
  await runIteration(f.ports, s, 1);
  // The proposal was told what the run had spent, the interrupted part included.
  assert.equal(f.proposals[0]!.spentUsd, 0.75);
  // current.json started from the carried spend and added the new call.
  assert.equal(f.currents[0]!.cost_usd, 0.75);
  assert.equal(f.currents[1]!.cost_usd, 0.76);
  const r = f.records[0]!;
  assert.equal(r.cost_usd, 0.76);
  assert.deepEqual(r.tokens, tok(310, 35));
  assert.equal(s.costUsd, 0.76);
  assert.equal(s.carried, null);
});

Deno.test("runIteration() records a carried spend even when the cost cap stops the retry before any call", async () => {
  const f = fakeLoop({
    proposals: [{ summary: { kind: "cost_cap", costUsd: 0 } }],
    trial: () => 1,
  });
  const s = state();
  s.carried = { tokens: tok(300, 30), costUsd: 0.75 };
  s.costUsd = 0.75;
  const out = await runIteration(f.ports, s, 1);
  assert.equal(out.kind, "cost_cap");
  assert.equal(f.records.length, 1);
  assert.equal(f.records[0]!.cost_usd, 0.75);
  assert.equal(s.costUsd, 0.75);
});

// --- guards ------------------------------------------------------------------

const NOISE = [0.1, -0.2, 0.15, -0.05, 0.2, -0.1, 0.05, 0.0, -0.15, 0.1];

/** A run state with an `accuracy` guard whose baseline varied. */
function guardedState(
  overrides: Partial<Config> = {},
  deterministicGuard = false,
): RunState {
  const s = state({
    guard: [{ name: "accuracy", direction: "max", tolerance: 0.02 }],
    trials: 3,
    maxTrials: 10,
    ...overrides,
  });
  s.guards = {
    units: { accuracy: null },
    deterministic: { accuracy: deterministicGuard },
    incumbentMeans: { accuracy: 0.9 },
  };
  return s;
}

Deno.test("runIteration() calls a faster candidate that loses accuracy regressed (guard_regressed)", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side, n) => {
      const e = NOISE[(n - 1) % NOISE.length]!;
      return side === "candidate"
        ? { score: 20 + e, guards: { accuracy: 0.81 + e / 100 } }
        : { score: 10 + e, guards: { accuracy: 0.9 + e / 100 } };
    },
  });
  const s = guardedState();
  await runIteration(f.ports, s, 1);
  const r = f.records[0]!;
  assert.deepEqual([r.decision, r.reason, r.kept], [
    "regressed",
    "guard_regressed",
    false,
  ]);
  assert.match(
    r.detail,
    /^rule=stat\/welch-t; guard accuracy −10\.0% \(tolerance 2\.0%\): worse/,
  );
  assert.equal(f.commits.length, 0);
  // The metric's own numbers stay: it was faster.
  assert.ok(r.effect! > 0.9);
  const g = r.guards!.accuracy!;
  assert.equal(g.scores.length, r.trial_scores.length);
  assert.equal(g.baseline_scores.length, r.baseline_scores.length);
  assert.ok(Math.abs(g.effect! + 0.1) < 0.01, `${g.effect}`);
  assert.ok(g.p_value! > 0.5);
  assert.ok(g.ci !== null && g.ci[1] < -0.02);
  assert.ok(Math.abs(g.avg! - 0.81) < 0.01);
});

Deno.test("runIteration() keeps a faster candidate whose guard is shown not worse", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side, n) => {
      const e = NOISE[(n - 1) % NOISE.length]!;
      return {
        score: (side === "candidate" ? 20 : 10) + e,
        guards: { accuracy: 0.9 + e / 1000 },
      };
    },
  });
  const s = guardedState();
  await runIteration(f.ports, s, 1);
  const r = f.records[0]!;
  assert.equal(r.decision, "improved", r.detail);
  assert.match(
    r.detail,
    /guard accuracy \+0\.0% \(tolerance 2\.0%\): not worse/,
  );
  assert.ok(r.guards!.accuracy!.p_value! < 0.01);
  assert.equal(f.commits.length, 1);
  assert.match(f.commits[0]!.message, /Guard accuracy: /);
  // The new incumbent's recorded guard average.
  assert.ok(Math.abs(s.guards!.incumbentMeans.accuracy! - 0.9) < 0.001);
});

Deno.test("runIteration() adds pairs while a noisy guard is open, then is inconclusive", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side, n) => {
      const e = NOISE[(n - 1) % NOISE.length]!;
      // Accuracy noise of ±10%: 2% can never be shown in 10 trials.
      return {
        score: (side === "candidate" ? 20 : 10) + e,
        guards: { accuracy: 0.9 + e / 2 },
      };
    },
  });
  await runIteration(f.ports, guardedState(), 1);
  const r = f.records[0]!;
  assert.deepEqual([r.decision, r.reason], [
    "inconclusive",
    "trials_exhausted",
  ]);
  assert.match(
    r.detail,
    /guard accuracy \S+ \(tolerance 2\.0%\): open.* when the trials ran out/,
  );
  // The metric alone would have stopped at the first look (3 pairs).
  assert.equal(r.trial_scores.length, 10);
  assert.equal(f.trialsRun.length, 20);
});

Deno.test("runIteration() under a deterministic metric measures the pairs a noisy guard needs", async () => {
  const f = fakeLoop({
    proposals: [{}],
    trial: (side, n) => ({
      score: side === "candidate" ? 20 : 10,
      guards: { accuracy: 0.9 + NOISE[(n - 1) % NOISE.length]! / 1000 },
    }),
  });
  const s = guardedState();
  s.deterministic = true;
  await runIteration(f.ports, s, 1);
  const r = f.records[0]!;
  assert.equal(r.decision, "improved", r.detail);
  assert.match(r.detail, /^rule=exact; /);
  assert.ok(r.trial_scores.length >= 3);
  // With a deterministic guard too, one pair and an exact comparison.
  const g = fakeLoop({
    proposals: [{}],
    trial: (side) => ({
      score: side === "candidate" ? 20 : 10,
      guards: { accuracy: side === "candidate" ? 0.8 : 0.9 },
    }),
  });
  const d = guardedState({}, true);
  d.deterministic = true;
  await runIteration(g.ports, d, 1);
  assert.deepEqual([g.records[0]!.decision, g.records[0]!.reason], [
    "regressed",
    "guard_regressed",
  ]);
  assert.equal(g.trialsRun.length, 2);
  const ci = g.records[0]!.guards!.accuracy!.ci!;
  assert.ok(Math.abs(ci[0] + 1 / 9) < 1e-12 && ci[0] === ci[1], `${ci}`);
});

Deno.test("runIteration() under --decision mean compares the guard's average with the recorded one", async () => {
  const run = (acc: number) => {
    const f = fakeLoop({
      proposals: [{}],
      trial: () => ({ score: 20, guards: { accuracy: acc } }),
    });
    return runIteration(
      f.ports,
      guardedState({ decision: "mean", trials: 2 }),
      1,
    )
      .then(() => f.records[0]!);
  };
  const worse = await run(0.87);
  assert.deepEqual([worse.decision, worse.reason], [
    "regressed",
    "guard_regressed",
  ]);
  assert.match(
    worse.detail,
    /^rule=mean; guard accuracy −3\.3% \(tolerance 2\.0%\): worse/,
  );
  assert.equal(worse.guards!.accuracy!.p_value, null);
  const ok = await run(0.885);
  assert.equal(ok.decision, "improved");
});

Deno.test("runIteration() records guards on every record of a guarded run, and null without guards", async () => {
  const f = fakeLoop({
    proposals: [{ summary: { kind: "no_submit" } }],
    trial: () => 1,
  });
  await runIteration(f.ports, guardedState(), 1);
  assert.deepEqual(f.records[0]!.guards, {
    accuracy: {
      scores: [],
      baseline_scores: [],
      avg: null,
      effect: null,
      ci: null,
      p_value: null,
    },
  });
  const g = fakeLoop({
    proposals: [{ summary: { kind: "no_submit" } }],
    trial: () => 1,
  });
  await runIteration(g.ports, state(), 1);
  assert.equal(g.records[0]!.guards, null);
});

Deno.test("guardNote() names the guards that stopped or held back a change", () => {
  const r = makeRecord({
    run_id: "r",
    iter: 3,
    decision: "regressed",
    reason: "guard_regressed",
    detail:
      "rule=stat/welch-t; guard accuracy −10.0% (tolerance 2.0%): worse, non-inferiority p=1.00 vs level 0.005; metric: welch-t …",
    guards: {},
    timestamp: "t",
  });
  assert.equal(guardNote(r), "guard accuracy −10.0% (tolerance 2.0%): worse");
  assert.equal(guardNote({ ...r, guards: null }), null);
  assert.equal(guardNote({ ...r, decision: "improved" }), null);
  assert.equal(
    guardNote({
      ...r,
      decision: "inconclusive",
      detail:
        "rule=stat/welch-t; guard mem +3.0% (tolerance 5.0%): open, non-inferiority p=0.2 vs level 0.03 when the trials ran out; metric: …",
    }),
    "guard mem +3.0% (tolerance 5.0%): open",
  );
});
