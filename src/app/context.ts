/**
 * What a use case receives: the outside world as values and adapters, with
 * no terminal. Commands hand in their context (which adds the output).
 */
import type { Deps } from "./deps.ts";

/** The context of one use case. */
export interface AppContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  /** Aborted on SIGINT, SIGTERM or SIGHUP; `signal.reason` is the StopSignal. */
  signal: AbortSignal;
  now: () => Date;
  /** Every adapter, built once by the composition root (src/app/deps.ts). */
  deps: Deps;
}
