/**
 * ratchet's entry point: read argv, the environment and signals, build the
 * real dependencies (src/app/deps.ts, the composition root), run one
 * command, and map any error to an exit code. The only module that reads
 * Deno.args/Deno.env or calls Deno.exit.
 */
import { createDeps } from "./src/app/deps.ts";
import { parseCommand } from "./src/cli/args.ts";
import { runCommand } from "./src/cli/dispatch.ts";
import type { CommandContext } from "./src/cli/context.ts";
import { exitCodeOf, signalExitCode, type StopSignal } from "./src/errors.ts";
import { formatError } from "./src/ui/errors.ts";
import { terminalOutput } from "./src/ui/output.ts";

/** The signals every command handles the same way (spec section 9). */
const SIGNALS: readonly StopSignal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  const output = terminalOutput({
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== "",
  });
  const verbose = Deno.args.includes("--verbose") || Deno.args.includes("-v");
  const controller = new AbortController();
  // The first signal aborts the command, which writes its state, removes its
  // containers and images, and returns the signal's exit code.
  const handlers = SIGNALS.map((signal) => {
    const handler = () => {
      if (controller.signal.aborted) {
        // A second signal while cleaning up: leave at once; resume repairs.
        Deno.exit(signalExitCode(signal));
      }
      controller.abort(signal);
    };
    Deno.addSignalListener(signal, handler);
    return [signal, handler] as const;
  });
  try {
    const command = parseCommand(Deno.args);
    const now = () => new Date();
    const ctx: CommandContext = {
      cwd: Deno.cwd(),
      env,
      output,
      signal: controller.signal,
      now,
      deps: createDeps({ env, now, pid: Deno.pid }),
    };
    return await runCommand(command, ctx);
  } catch (error) {
    output.err(formatError(error, { verbose, color: output.colorErr }));
    return exitCodeOf(error);
  } finally {
    for (const [signal, handler] of handlers) {
      Deno.removeSignalListener(signal, handler);
    }
  }
}

main().then((code) => Deno.exit(code));
