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

/** Run `command`; returns the exit code. */
export async function runCommand(
  command: Command,
  ctx: CommandContext,
): Promise<number> {
  switch (command.name) {
    case "help":
      ctx.output.out(command.topic ? commandHelp(command.topic) : mainHelp());
      return 0;
    case "version":
      ctx.output.out(`ratchet ${VERSION}`);
      return 0;
    case "run":
      return await runRun(command, ctx);
    case "resume":
      return await runResume(command, ctx);
    case "init":
      return await initCommand(command, ctx);
    case "instruct":
      return await instructCommand(command, ctx);
    case "apply":
      return await applyCommand(ctx);
    case "status":
      return await statusCommand(command, ctx);
    case "log":
      return await logCommand(command, ctx);
    case "report":
      return await reportCommand(command, ctx);
    case "measure":
      return await measureCommand(command, ctx);
    case "calibrate":
      return await calibrateCommand(command, ctx);
  }
}
