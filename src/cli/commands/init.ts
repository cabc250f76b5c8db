/** `ratchet init`: write a commented ratchet.jsonc guessed from the repository. */
import type { CommandContext } from "../context.ts";
import { writeInitConfig } from "../../app/init.ts";

/** Run `ratchet init`; exit 2 when the file exists and --force is not given. */
export async function initCommand(
  options: { force: boolean },
  ctx: CommandContext,
): Promise<number> {
  const { path, guess, guards } = await writeInitConfig(options, ctx);
  ctx.output.err(
    `Wrote ${path} (${guess.kind}: ${guess.why}).${
      guards.length > 0
        ? `\nThe benchmark also prints ${
          guards.map((g) => g.guard.name).join(", ")
        }: suggested as guard(s), check their directions.`
        : ""
    }\nCheck it, then try: ratchet measure`,
  );
  return 0;
}
