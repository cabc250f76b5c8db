import assert from "node:assert/strict";
import { confirmRun, confirmsAt, type ConfirmStore } from "./confirm.ts";
import type { Confirmation } from "../core/confirm.ts";
import type { CurrentIteration } from "../core/state.ts";
import { makeRecord } from "../core/state.ts";
import type { RunEvent } from "../core/events.ts";
import type { TrialPort } from "./ports.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import { InterruptedError } from "../errors.ts";
import { CONFIRMATION_ITER } from "../infra/store/store.ts";

/** An in-memory confirmation store recording every write. */
function memoryStore(initial: Confirmation | null = null) {
  const s = {
    file: initial === null ? null : structuredClone(initial),
    writes: [] as Confirmation[],
    currents: [] as CurrentIteration[],
    cleared: 0,
  };
  const store: ConfirmStore = {
    readConfirmation: () =>
      Promise.resolve(s.file === null ? null : structuredClone(s.file)),
    writeConfirmation: (c) => {
      s.file = structuredClone(c);
      s.writes.push(structuredClone(c));
      return Promise.resolve();
    },
    writeCurrent: (c) => {
      s.currents.push(structuredClone(c));
      return Promise.resolve();
    },
    clearCurrent: () => {
      s.cleared++;
      return Promise.resolve();
    },
  };
  return { s, store };
}

/** Trials: the start tree scores 10, the incumbent's 8 (+ small noise). */
function port(onTrial?: (n: number) => void) {
  const seen: { iter: number; trial: number; tree: string; side: string }[] =
    [];
  const trials: TrialPort = {
    trial(input) {
      seen.push({
        iter: input.iter,
        trial: input.trial,
        tree: input.tree,
        side: input.side,
      });
      onTrial?.(seen.length);
      const base = input.tree === "start-tree" ? 10 : 8;
      return Promise.resolve({
        outcome: "ok",
        score: base + 0.01 * (seen.length % 3),
        unit: null,
        wallSeconds: 0.1,
        detail: "",
        outputTail: "",
        guards: {},
        guardUnits: {},
      });
    },
    check: () => Promise.resolve(null),
    retain: () =>
      Promise.reject(new Error("the confirmation retains no trees")),
  };
  return { trials, seen };
}

const config = testConfig({ direction: "min", trials: 1, maxTrials: 4 });
const records = [
  makeRecord({
    run_id: "r",
    iter: 0,
    decision: "baseline",
    sha: "start",
    timestamp: "t",
  }),
  makeRecord({
    run_id: "r",
    iter: 1,
    decision: "improved",
    sha: "kept",
    timestamp: "t",
  }),
  makeRecord({ run_id: "r", iter: 2, decision: "no_change", timestamp: "t" }),
];
const input = {
  runId: "r",
  config,
  startSha: "start",
  startTree: "start-tree",
  state: {
    incumbent: {
      iter: 1,
      sha: "kept",
      tree: "kept-tree",
      mean: 8,
      ci: null,
      scores: [8],
    },
    records,
    deterministic: false,
    unit: null,
  },
};

function deps(
  store: ConfirmStore,
  trials: TrialPort,
  signal = new AbortController().signal,
) {
  const events: RunEvent[] = [];
  return {
    events,
    deps: {
      trials,
      store,
      events: (e: RunEvent) => events.push(e),
      signal,
      now: () => new Date(0),
      fault: () => {},
    },
  };
}

Deno.test("confirmsAt() confirms every stop but an interruption or an outage", () => {
  for (const r of ["iterations", "threshold", "patience", "crashes", "cost"]) {
    assert.ok(confirmsAt(r), r);
  }
  assert.ok(!confirmsAt("interrupted"));
  assert.ok(!confirmsAt("upstream"));
});

Deno.test("confirmRun() measures start commit and final incumbent interleaved, saving after every trial", async () => {
  const { s, store } = memoryStore();
  const { trials, seen } = port();
  const d = deps(store, trials);
  const c = await confirmRun(d.deps, input);
  assert.ok(c !== null && c.result !== null);
  assert.deepEqual(seen.map((t) => t.side), [
    "baseline",
    "incumbent",
    "baseline",
    "incumbent",
    "baseline",
    "incumbent",
    "baseline",
    "incumbent",
  ]);
  assert.deepEqual(seen.map((t) => t.tree).slice(0, 2), [
    "start-tree",
    "kept-tree",
  ]);
  assert.ok(seen.every((t) => t.iter === CONFIRMATION_ITER));
  assert.deepEqual(seen.map((t) => t.trial), [1, 2, 3, 4, 5, 6, 7, 8]);
  // The empty file, one write per trial, and the result.
  assert.equal(s.writes.length, 1 + 8 + 1);
  assert.equal(s.writes[3]!.trials.length, 3);
  assert.equal(c.per_side, 4);
  assert.equal(c.incumbent_iter, 1);
  assert.equal(c.through_iter, 2);
  assert.ok(c.result.gain! < -0.19 && c.result.gain! > -0.21);
  assert.equal(s.currents[0]!.phase, "confirming");
  assert.equal(s.cleared, 1);
  assert.equal(d.events.at(-1)!.event, "confirmed");
});

Deno.test("confirmRun() claims nothing when nothing was kept", async () => {
  const { s, store } = memoryStore();
  const { trials, seen } = port();
  const same = {
    ...input,
    state: {
      ...input.state,
      incumbent: { ...input.state.incumbent, sha: "start" },
    },
  };
  assert.equal(await confirmRun(deps(store, trials).deps, same), null);
  assert.equal(seen.length, 0);
  assert.equal(s.writes.length, 0);
});

Deno.test("confirmRun() after an interruption continues with the next trial and measures nothing twice", async () => {
  const { s, store } = memoryStore();
  const ac = new AbortController();
  const first = port((n) => {
    if (n === 3) ac.abort("SIGINT");
  });
  await assert.rejects(
    confirmRun(deps(store, first.trials, ac.signal).deps, input),
    InterruptedError,
  );
  assert.equal(s.file!.trials.length, 3);
  assert.equal(s.file!.result, null);
  const again = port();
  const c = await confirmRun(deps(store, again.trials).deps, input);
  // The 4th trial is the incumbent's half of pair 2.
  assert.deepEqual(again.seen.map((t) => `${t.side}:${t.trial}`), [
    "incumbent:4",
    "baseline:5",
    "incumbent:6",
    "baseline:7",
    "incumbent:8",
  ]);
  assert.equal(c!.trials.length, 8);
  assert.equal(c!.result!.final.n, 4);
});

Deno.test("confirmRun() reuses a finished confirmation and replaces a stale one", async () => {
  const { s, store } = memoryStore();
  await confirmRun(deps(store, port().trials).deps, input);
  const done = s.file!;
  const reuse = port();
  const d = deps(store, reuse.trials);
  assert.deepEqual(await confirmRun(d.deps, input), done);
  assert.equal(reuse.seen.length, 0);
  assert.equal(d.events.at(-1)!.event, "confirmed");
  // Another incumbent (an extended run kept a change): measured afresh.
  const moved = {
    ...input,
    state: {
      ...input.state,
      incumbent: { ...input.state.incumbent, iter: 5, sha: "newer" },
    },
  };
  const fresh = port();
  const c = await confirmRun(deps(store, fresh.trials).deps, moved);
  assert.equal(fresh.seen.length, 8);
  assert.equal(c!.incumbent_sha, "newer");
});
