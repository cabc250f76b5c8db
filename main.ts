/**
 * ratchet's entry point: read argv and the environment, build the real
 * dependencies, run one command, and map any error to an exit code. The only
 * module that reads Deno.args/Deno.env or calls Deno.exit.
 */
import { parseCommand } from "./src/cli/args.ts";
import { runCommand } from "./src/cli/dispatch.ts";
import type { CommandContext, StopSignal } from "./src/cli/context.ts";
import { exitCodeOf } from "./src/errors.ts";
import { formatError } from "./src/ui/errors.ts";
import { terminalOutput } from "./src/ui/output.ts";

async function main(): Promise<number> {
  const env = Deno.env.toObject();
  const output = terminalOutput({
    noColor: env.NO_COLOR !== undefined && env.NO_COLOR !== "",
  });
  const verbose = Deno.args.includes("--verbose") || Deno.args.includes("-v");
  const controller = new AbortController();
  const onSignal = (signal: StopSignal) => () => {
    if (controller.signal.aborted) {
      // A second Ctrl-C while cleaning up: leave at once; resume repairs.
      Deno.exit(signal === "SIGINT" ? 130 : 143);
    }
    controller.abort(signal);
  };
  const handlers = {
    SIGINT: onSignal("SIGINT"),
    SIGTERM: onSignal("SIGTERM"),
  };
  Deno.addSignalListener("SIGINT", handlers.SIGINT);
  Deno.addSignalListener("SIGTERM", handlers.SIGTERM);
  try {
    const command = parseCommand(Deno.args);
    const ctx: CommandContext = {
      cwd: Deno.cwd(),
      env,
      output,
      signal: controller.signal,
      faultSpec: env.RATCHET_FAULT_POINT,
      now: () => new Date(),
    };
    return await runCommand(command, ctx);
  } catch (error) {
    output.err(formatError(error, { verbose, color: output.color }));
    return exitCodeOf(error);
  } finally {
    Deno.removeSignalListener("SIGINT", handlers.SIGINT);
    Deno.removeSignalListener("SIGTERM", handlers.SIGTERM);
  }
}

main().then((code) => Deno.exit(code));
