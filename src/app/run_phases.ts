/**
 * `current.json` and phase events before the loop: the prepare step
 * (`preparing`) and the baseline (`baseline`, trial k of n). Without them
 * `status` would say nothing while a ten-minute baseline runs.
 */
import type { EventSink } from "../core/events.ts";
import {
  type CurrentIteration,
  emptyTokens,
  SCHEMA_VERSION,
} from "../core/state.ts";
import type { RunFile, Store } from "../infra/store/store.ts";

/** Writes the run's phase before the loop. */
export interface PhaseWriter {
  /** The prepare step of iteration `iter` (0 for a new run) is starting. */
  preparing(iter: number): Promise<void>;
  /** Baseline trial `trial` of `of` is starting. */
  baselineTrial(trial: number, of: number): Promise<void>;
}

/** A PhaseWriter for `run` in `store`, telling `events` too. */
export function phaseWriter(
  store: Pick<Store, "readCurrent" | "writeCurrent">,
  events: EventSink,
  run: Pick<RunFile, "run_id" | "start_sha">,
  now: () => Date,
): PhaseWriter {
  const write = async (
    iter: number,
    phase: "preparing" | "baseline",
    counts: { trial: number; of: number } | null,
  ) => {
    // What an interrupted attempt at this iteration spent stays in the file:
    // resume carries it into the iteration's record.
    const old = await store.readCurrent().catch(() => null);
    const same = old !== null && old.run_id === run.run_id &&
      old.iter === iter;
    const current: CurrentIteration = {
      schema_version: SCHEMA_VERSION,
      run_id: run.run_id,
      iter,
      phase,
      incumbent_sha: same ? old.incumbent_sha : run.start_sha,
      candidate_tree: null,
      hypothesis: "",
      description: "",
      started_at: same ? old.started_at : now().toISOString(),
      tokens: same ? old.tokens : emptyTokens(),
      cost_usd: same ? old.cost_usd : 0,
      trial: counts?.trial ?? null,
      of: counts?.of ?? null,
    };
    await store.writeCurrent(current);
    events({
      event: "phase",
      iter,
      phase,
      ...(counts === null ? {} : counts),
    });
  };
  return {
    preparing: (iter) => write(iter, "preparing", null),
    baselineTrial: (trial, of) => write(0, "baseline", { trial, of }),
  };
}
