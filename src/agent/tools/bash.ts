/**
 * `bash`: Anthropic's bash tool (`bash_20250124`). One command per call, run
 * in the iteration's sandbox container (`/work` is the tree without `.git`,
 * harness paths read-only; for proposers all of `/work` is read-only). There
 * is no persistent shell, so `restart` is accepted and does nothing.
 */
import { RatchetError } from "../../errors.ts";
import { type AgentTool, fail, ok, optionalString } from "./_common.ts";

/** Bytes per stream the sandbox keeps before cutting. */
export const SANDBOX_OUTPUT_CAP_BYTES = 1024 * 1024;
/** Characters of output returned to the model: the head and, mostly, the tail. */
export const MAX_BASH_OUTPUT_CHARS = 30_000;
const HEAD_CHARS = 10_000;

/**
 * Keep the start and the end of long output (errors and summaries tend to be
 * at the end) and say how much was left out.
 */
export function clipOutput(text: string, max = MAX_BASH_OUTPUT_CHARS): string {
  if (text.length <= max) return text;
  const head = Math.min(HEAD_CHARS, Math.floor(max / 3));
  const tail = max - head;
  return `${text.slice(0, head)}\n[… ${
    text.length - max
  } characters omitted …]\n${text.slice(-tail)}`;
}

/** The bash tool. */
export const bashTool: AgentTool = {
  definition: { type: "bash_20250124", name: "bash" },
  async run(input, context) {
    const command = optionalString(input, "command");
    if (
      input.restart === true && (command === undefined || command.trim() === "")
    ) {
      return ok(
        "Nothing to restart: every command runs on its own. Run your next command.",
      );
    }
    if (command === undefined || command.trim() === "") {
      return fail('Missing parameter "command".');
    }
    const seconds = context.bashTimeoutSeconds;
    let result;
    try {
      result = await context.sandbox.exec(command, {
        timeoutMs: seconds * 1000,
        outputCapBytes: SANDBOX_OUTPUT_CAP_BYTES,
      });
    } catch (error) {
      // The engine dying is the run's problem, not the model's.
      if (error instanceof RatchetError) throw error;
      return fail(
        `The sandbox could not run the command: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
    const parts: string[] = [];
    if (result.stdout !== "") parts.push(result.stdout.replace(/\n$/, ""));
    if (result.stderr !== "") {
      parts.push(`[stderr]\n${result.stderr.replace(/\n$/, "")}`);
    }
    let text = clipOutput(parts.join("\n"));
    if (result.truncated) {
      text +=
        `\n[output exceeded ${SANDBOX_OUTPUT_CAP_BYTES} bytes and was cut; redirect to a file and read parts of it]`;
    }
    if (result.timedOut) {
      return fail(
        `${
          text === "" ? "" : `${text}\n`
        }[the command timed out after ${seconds} s (--bash-timeout-seconds) and was killed]`,
      );
    }
    if (result.exitCode !== 0) {
      return fail(
        `${text === "" ? "" : `${text}\n`}[exit code ${
          result.exitCode ?? "unknown"
        }]`,
      );
    }
    return ok(text === "" ? "(no output)" : text);
  },
};
