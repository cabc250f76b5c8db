/**
 * What every command receives from main.ts: the outside world as values and
 * interfaces, so commands never read Deno.args/env or exit themselves.
 */
import type { Deps } from "../app/deps.ts";
import type { Output } from "../ui/output.ts";

/** Context passed to each command. */
export interface CommandContext {
  cwd: string;
  env: Readonly<Record<string, string | undefined>>;
  output: Output;
  /** Aborted on SIGINT, SIGTERM or SIGHUP; `signal.reason` is the StopSignal. */
  signal: AbortSignal;
  now: () => Date;
  /** Every adapter, built once by the composition root (src/app/deps.ts). */
  deps: Deps;
}
