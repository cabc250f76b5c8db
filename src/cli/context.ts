/**
 * What every command receives from main.ts: the outside world as values and
 * interfaces, so commands never read Deno.args/env or exit themselves.
 */
import type { AppContext } from "../app/context.ts";
import type { Output } from "../ui/output.ts";

/** Context passed to each command: a use case's context and the terminal. */
export interface CommandContext extends AppContext {
  output: Output;
}
