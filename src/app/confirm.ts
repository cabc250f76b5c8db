/**
 * The end-of-run confirmation (issue 16, item 18), run over the loop's
 * `TrialPort`: when the loop stops for a reason other than an interruption
 * or an upstream failure, the start commit and the final incumbent are
 * measured interleaved (baseline, incumbent, baseline, …), as many trials a
 * side as a decision may use, and that comparison is the run's claimed gain
 * (`status`, `log`, the report, `apply`'s commit message).
 *
 * Persistence, so that `resume` after a kill is exact: the confirmation
 * lives in `.ratchet/confirmation.json`, rewritten atomically after every
 * trial with the trials measured so far. Its records stay out of
 * `results.jsonl` (spec section 8's records are iterations). A resumed run
 * that stops again with the same two commits and the same plan continues
 * from the next trial of the file (same pair order, nothing measured twice)
 * and reuses a finished result; any other commits start it afresh. Its trial
 * reports are `reports/confirm-trial-NN.txt`.
 */
import type { Config } from "../config/config.ts";
import {
  type Confirmation,
  CONFIRMATION_SCHEMA_VERSION,
  confirmationPerSide,
  nextTrial,
  summarizeConfirmation,
} from "../core/confirm.ts";
import type { EventSink } from "../core/events.ts";
import {
  type CurrentIteration,
  emptyTokens,
  type IterationRecord,
  SCHEMA_VERSION,
} from "../core/state.ts";
import type { TrialPort } from "./ports.ts";
import { type RunState, signalName } from "./run_state.ts";
import { InterruptedError } from "../errors.ts";
import { CONFIRMATION_ITER } from "../infra/store/store.ts";

/** Where the confirmation is kept between trials. */
export interface ConfirmStore {
  readConfirmation(): Promise<Confirmation | null>;
  writeConfirmation(c: Confirmation): Promise<void>;
  writeCurrent(c: CurrentIteration): Promise<void>;
  clearCurrent(): Promise<void>;
}

/** What the confirmation needs from the outside. */
export interface ConfirmDeps {
  trials: TrialPort;
  store: ConfirmStore;
  events: EventSink;
  signal: AbortSignal;
  now: () => Date;
  fault: (point: string) => void;
}

/** The run as the loop left it. */
export interface ConfirmInput {
  runId: string;
  config: Config;
  /** The start commit and its tree (iteration 0's commit). */
  startSha: string;
  startTree: string;
  /** The loop's state when it stopped: incumbent, records, units, guards. */
  state: Pick<
    RunState,
    "incumbent" | "records" | "deterministic" | "unit" | "guards"
  >;
}

/** Whether a stop reason ends the run with a confirmation. */
export function confirmsAt(reason: string): boolean {
  return reason !== "interrupted" && reason !== "upstream";
}

function fresh(
  input: ConfirmInput,
  perSide: number,
  now: Date,
): Confirmation {
  const last = input.state.records.at(-1) as IterationRecord;
  return {
    schema_version: CONFIRMATION_SCHEMA_VERSION,
    run_id: input.runId,
    baseline_sha: input.startSha,
    incumbent_sha: input.state.incumbent.sha,
    incumbent_iter: input.state.incumbent.iter,
    through_iter: last.iter,
    per_side: perSide,
    trials: [],
    result: null,
    started_at: now.toISOString(),
    finished_at: null,
  };
}

/**
 * Measure the start commit and the final incumbent interleaved and return
 * the finished confirmation (also in `.ratchet/confirmation.json`), or null
 * when nothing was kept (the branch equals the start commit: there is no
 * gain to claim). Throws InterruptedError on a signal (the file keeps the
 * trials so far) and lets infrastructure errors through, like the loop.
 */
export async function confirmRun(
  deps: ConfirmDeps,
  input: ConfirmInput,
): Promise<Confirmation | null> {
  const { config, state } = input;
  if (state.incumbent.sha === input.startSha) return null;
  const perSide = confirmationPerSide(
    config,
    state.deterministic,
    state.guards?.deterministic ?? {},
  );
  const previous = await deps.store.readConfirmation().catch(() => null);
  const c = previous !== null && previous.run_id === input.runId &&
      previous.baseline_sha === input.startSha &&
      previous.incumbent_sha === state.incumbent.sha &&
      previous.per_side === perSide
    ? previous
    : fresh(input, perSide, deps.now());
  if (c.result !== null) {
    deps.events({ event: "confirmed", confirmation: c });
    return c;
  }
  const lastIter = state.records.at(-1)?.iter ?? 0;
  const current: CurrentIteration = {
    schema_version: SCHEMA_VERSION,
    run_id: input.runId,
    iter: lastIter,
    phase: "confirming",
    incumbent_sha: state.incumbent.sha,
    candidate_tree: null,
    hypothesis: "",
    description: "",
    started_at: deps.now().toISOString(),
    tokens: emptyTokens(),
    cost_usd: 0,
  };
  await deps.store.writeCurrent(current);
  deps.events({ event: "phase", iter: lastIter, phase: "confirming" });
  if (c.trials.length === 0) await deps.store.writeConfirmation(c);
  for (let next = nextTrial(c); next !== null; next = nextTrial(c)) {
    if (deps.signal.aborted) {
      throw new InterruptedError(signalName(deps.signal));
    }
    const t = await deps.trials.trial({
      iter: CONFIRMATION_ITER,
      trial: c.trials.length + 1,
      tree: next.side === "baseline" ? input.startTree : state.incumbent.tree,
      side: next.side,
      expectedUnit: state.unit,
      ...(state.guards === undefined
        ? {}
        : { expectedGuardUnits: state.guards.units }),
    });
    deps.events({
      event: "trial",
      iter: lastIter,
      side: next.side,
      k: next.k,
      n: c.per_side,
      outcome: t.outcome,
      score: t.score,
      wall_s: t.wallSeconds,
    });
    c.trials.push({
      side: next.side,
      k: next.k,
      score: t.outcome === "ok" ? t.score : null,
      outcome: t.outcome,
      guards: t.guards,
    });
    await deps.store.writeConfirmation(c);
    deps.fault("confirm.trial-recorded");
  }
  c.result = summarizeConfirmation(c.trials, {
    direction: config.direction,
    confidence: config.confidence,
    guards: config.guard,
    deterministic: state.deterministic,
  });
  c.finished_at = deps.now().toISOString();
  await deps.store.writeConfirmation(c);
  await deps.store.clearCurrent();
  deps.events({ event: "confirmed", confirmation: c });
  return c;
}
