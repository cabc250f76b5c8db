/** Route a parsed Command to its implementation. */
import type { Command } from "./args.ts";
import type { CommandContext } from "./context.ts";
import { commandHelp, mainHelp } from "./help.ts";
import { VERSION } from "../version.ts";
import { runResume, runRun } from "./commands/run.ts";
import { initCommand } from "./commands/init.ts";
import { instructCommand } from "./commands/instruct.ts";
import { applyCommand } from "./commands/apply.ts";
import { statusCommand } from "./commands/status.ts";
import { logCommand } from "./commands/log.ts";
import { reportCommand } from "./commands/report.ts";
import { calibrateCommand, measureCommand } from "./commands/measure.ts";
import { InterruptedError, signalExitCode, stopSignalOf } from "../errors.ts";

/**
 * Run `command`; returns the exit code. A signal ends every command the same
 * way (spec section 9): whatever the command was doing when `ctx.signal`
 * fired (a trial, an image build, a git call) surfaces as InterruptedError,
 * exit 130 / 143 / 129, once the command has cleaned up after itself.
 */
export async function runCommand(
  command: Command,
  ctx: CommandContext,
): Promise<number> {
  let code: number;
  try {
    code = await dispatch(command, ctx);
  } catch (error) {
    if (!ctx.signal.aborted || error instanceof InterruptedError) throw error;
    // An abort surfaces as whatever the operation in flight threw (the
    // signal's reason, an AbortError, a build request cut off): it is the
    // signal.
    throw new InterruptedError(stopSignalOf(ctx.signal), { cause: error });
  }
  // A signal that arrived while the command was finishing still ends it
  // with the signal's code.
  if (code === 0 && ctx.signal.aborted) {
    return signalExitCode(stopSignalOf(ctx.signal));
  }
  return code;
}

function dispatch(command: Command, ctx: CommandContext): Promise<number> {
  switch (command.name) {
    case "help":
      ctx.output.out(command.topic ? commandHelp(command.topic) : mainHelp());
      return Promise.resolve(0);
    case "version":
      ctx.output.out(`ratchet ${VERSION}`);
      return Promise.resolve(0);
    case "run":
      return runRun(command, ctx);
    case "resume":
      return runResume(command, ctx);
    case "init":
      return initCommand(command, ctx);
    case "instruct":
      return instructCommand(command, ctx);
    case "apply":
      return applyCommand(ctx);
    case "status":
      return statusCommand(command, ctx);
    case "log":
      return logCommand(command, ctx);
    case "report":
      return reportCommand(command, ctx);
    case "measure":
      return measureCommand(command, ctx);
    case "calibrate":
      return calibrateCommand(command, ctx);
  }
}
