/** `ratchet init`: write a commented ratchet.jsonc guessed from the repository. */
import { join } from "node:path";
import type { CommandContext } from "../context.ts";
import { runGit } from "../../infra/git/process.ts";
import { findRepoRoot } from "../../infra/git/repo.ts";
import { guessConfig, renderInitConfig } from "../../core/init_guess.ts";
import { CONFIG_FILE_NAME } from "../../config/load.ts";
import { UsageError } from "../../errors.ts";
import { benchmarkFiles, suggestGuards } from "../../core/init_guards.ts";

/** A file's text when it is a regular file under 256 KiB, else null. */
async function readSmallText(path: string): Promise<string | null> {
  const info = await Deno.lstat(path).catch(() => null);
  if (info === null || !info.isFile || info.size > 256 * 1024) return null;
  return await Deno.readTextFile(path).catch(() => null);
}

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
  // The benchmark's own files, for the numbers it prints besides the metric.
  const sources: { file: string; text: string }[] = [];
  for (const file of benchmarkFiles(guess.runCommand, files, packageJson)) {
    const text = await readSmallText(join(root, file));
    if (text !== null) sources.push({ file, text });
  }
  const guards = suggestGuards(sources, guess.metricName);
  await Deno.writeTextFile(path, renderInitConfig(guess, { guards }));
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
