/** How an error is shown to the user (message, hint, and with --verbose the causes). */
import { RatchetError } from "../errors.ts";
import { styles } from "./output.ts";

/** Render an error for stderr. */
export function formatError(
  error: unknown,
  options: { verbose: boolean; color: boolean },
): string {
  const s = styles(options.color);
  const lines: string[] = [];
  if (error instanceof RatchetError) {
    lines.push(`${s.red(s.bold("error"))}: ${error.message}`);
    if (error.hint) lines.push(`${s.dim("hint")}: ${error.hint}`);
  } else {
    const message = error instanceof Error ? error.message : String(error);
    lines.push(`${s.red(s.bold("internal error"))}: ${message}`);
    lines.push(
      `${
        s.dim("hint")
      }: this is a bug in ratchet; rerun with --verbose and report the output.`,
    );
  }
  if (options.verbose) {
    let current: unknown = error;
    let depth = 0;
    while (current !== undefined && depth < 10) {
      if (current instanceof Error) {
        lines.push(
          s.dim(current.stack ?? `${current.name}: ${current.message}`),
        );
        current = current.cause;
        if (current !== undefined) lines.push(s.dim("caused by:"));
      } else {
        lines.push(s.dim(String(current)));
        current = undefined;
      }
      depth++;
    }
  }
  return lines.join("\n");
}
