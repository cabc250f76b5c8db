/** `ratchet init`: write a commented ratchet.jsonc guessed from the repository. */
import { join } from "node:path";
import type { CommandContext } from "../context.ts";
import { findRepoRoot, runGit } from "../../infra/git.ts";
import { guessConfig, renderInitConfig } from "../../core/init_guess.ts";
import { CONFIG_FILE_NAME } from "../../config/load.ts";
import { UsageError } from "../../errors.ts";

/** Run `ratchet init`. */
export async function initCommand(
  options: { force: boolean },
  ctx: CommandContext,
): Promise<number> {
  const root = await findRepoRoot(ctx.cwd);
  const path = join(root, CONFIG_FILE_NAME);
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (exists && !options.force) {
    throw new UsageError(`${path} already exists; not overwriting it`, {
      hint: "Edit it, or pass --force to replace it with a fresh guess.",
    });
  }
  const files = (await runGit(root, ["ls-files", "-z"])).split("\0").filter((
    f,
  ) => f !== "");
  const packageJson = await Deno.readTextFile(join(root, "package.json"))
    .catch(() => null);
  const makefile = await Deno.readTextFile(join(root, "Makefile"))
    .catch(() => null);
  const guess = guessConfig({ files, packageJson, makefile });
  await Deno.writeTextFile(path, renderInitConfig(guess));
  ctx.output.err(
    `Wrote ${path} (${guess.kind}: ${guess.why}).\nCheck it, then try: ratchet measure`,
  );
  return 0;
}
