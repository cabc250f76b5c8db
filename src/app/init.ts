/**
 * `init`: a commented ratchet.jsonc guessed from the repository's files,
 * with guards suggested from the other numbers its benchmark prints.
 */
import { join } from "node:path";
import { CONFIG_FILE_NAME } from "../config/load.ts";
import {
  benchmarkFiles,
  type GuardSuggestion,
  suggestGuards,
} from "../core/init_guards.ts";
import {
  guessConfig,
  type InitGuess,
  renderInitConfig,
} from "../core/init_guess.ts";
import { UsageError } from "../errors.ts";
import { runGit } from "../infra/git/process.ts";
import { findRepoRoot } from "../infra/git/repo.ts";
import type { AppContext } from "./context.ts";

/** What `init` wrote, and from which guesses. */
export interface InitWritten {
  path: string;
  guess: InitGuess;
  guards: GuardSuggestion[];
}

/** A file's text when it is a regular file under 256 KiB, else null. */
async function readSmallText(path: string): Promise<string | null> {
  const info = await Deno.lstat(path).catch(() => null);
  if (info === null || !info.isFile || info.size > 256 * 1024) return null;
  return await Deno.readTextFile(path).catch(() => null);
}

/** Run `ratchet init`. */
export async function writeInitConfig(
  options: { force: boolean },
  ctx: AppContext,
): Promise<InitWritten> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const path = join(root, CONFIG_FILE_NAME);
  const exists = await Deno.stat(path).then(() => true, () => false);
  if (exists && !options.force) {
    throw new UsageError(`${path} already exists; not overwriting it`, {
      hint: "Edit it, or pass --force to replace it with a fresh guess.",
    });
  }
  const files = (await runGit(ctx.deps.git, root, ["ls-files", "-z"])).split(
    "\0",
  ).filter((
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
  return { path, guess, guards };
}
