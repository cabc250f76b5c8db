/**
 * Archiving the previous run: its files move into `runs/<run_id>/` entry by
 * entry behind an intent file (`archive.json`), so an interruption loses
 * nothing and the next call finishes the job.
 */

import { join } from "node:path";
import { z } from "zod";
import { isRunId, makeRunId } from "../../core/run_id.ts";
import { SCHEMA_VERSION } from "../../core/state.ts";
import { EnvironmentError } from "../../errors.ts";
import { fsyncDir, writeFileAtomic } from "../atomic.ts";
import { exists, isEmptyDir } from "./_fs.ts";
import { damaged, readJsonFile } from "./_json.ts";
import type { StoreContext, StorePaths } from "./paths.ts";
import { readRunFile } from "./run_file.ts";

/** Archived entries, in order; config.json last so the run stays identifiable until the end. */
const ARCHIVED = [
  "results",
  "current",
  "notes",
  "reports",
  "diffs",
  "harness",
  "reportHtml",
  "confirmation",
  "config",
] as const satisfies readonly (keyof StorePaths)[];

/** A directory name under runs/: never `..` or a path. */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

const ARCHIVE_INTENT = z.looseObject({
  dest: z.string().regex(SAFE_NAME),
});

/**
 * Move the previous run's files (config.json, results.jsonl, current.json,
 * reports/, diffs/, notes.jsonl, harness/, report.html, confirmation.json)
 * into `runs/<run_id>/` (`runs/unknown-<time>/` when config.json names no
 * run). Returns that directory, or null when there was nothing to archive.
 *
 * Crash-safe: the destination is written to an intent file first, then
 * each entry moves by one atomic rename, config.json last. An interrupted
 * archive leaves every entry either in place or in the archive, and the
 * next call reads the intent and finishes. `worktree/`, `tmp/`, `lock` and
 * `runs/` are never touched. Fault points: `archive.intent-written`,
 * `archive.mid` (after each entry; use `archive.mid:N`),
 * `archive.before-finish`.
 */
export async function archiveRun(
  ctx: StoreContext,
  now: Date,
): Promise<string | null> {
  const { paths, fault } = ctx;
  let name = await readArchiveIntent(paths);
  if (name === null) {
    const present: string[] = [];
    for (const key of ARCHIVED) {
      if (await exists(paths[key])) present.push(key);
    }
    if (present.length === 0) return null;
    name = await freshArchiveName(paths, await archiveRunId(ctx, now));
    await Deno.mkdir(paths.runs, { recursive: true });
    await writeFileAtomic(
      paths.archiveIntent,
      JSON.stringify({ schema_version: SCHEMA_VERSION, dest: name }) + "\n",
    );
    fault("archive.intent-written");
  }
  const dest = join(paths.runs, name);
  await Deno.mkdir(dest, { recursive: true });
  for (const key of ARCHIVED) {
    const from = paths[key];
    if (!(await exists(from))) continue;
    const to = join(dest, from.slice(paths.root.length + 1));
    if (await exists(to)) {
      // After an interrupted archive moved reports/ or diffs/, init()
      // made them again, empty: nothing of the old run is in them.
      if (await isEmptyDir(from)) {
        await Deno.remove(from);
        continue;
      }
      throw new EnvironmentError(
        `Cannot archive ${from}: ${to} already exists`,
        { hint: `Move one of them aside, then run ratchet again.` },
      );
    }
    await Deno.rename(from, to);
    fault("archive.mid");
  }
  await fsyncDir(dest);
  await fsyncDir(paths.runs);
  await fsyncDir(paths.root);
  fault("archive.before-finish");
  await Deno.remove(paths.archiveIntent);
  await fsyncDir(paths.root);
  return dest;
}

/** The destination name of an interrupted archive, or null. */
async function readArchiveIntent(paths: StorePaths): Promise<string | null> {
  const path = paths.archiveIntent;
  const value = await readJsonFile(path);
  if (value === null) return null;
  const parsed = ARCHIVE_INTENT.safeParse(value);
  if (!parsed.success) {
    throw damaged(
      path,
      `"dest" is ${
        JSON.stringify(value.dest)
      }, not a directory name under runs/`,
      `It records an interrupted archive. Check ${paths.root} and ${paths.runs}, move files into place by hand, then delete it.`,
    );
  }
  return parsed.data.dest;
}

/** The previous run's id, or `unknown-<time>` when config.json does not give one. */
async function archiveRunId(ctx: StoreContext, now: Date): Promise<string> {
  try {
    const run = await readRunFile(ctx);
    if (run !== null && isRunId(run.run_id)) return run.run_id;
  } catch (error) {
    // A damaged config.json must not block a new run: it is archived
    // with the rest, under an unknown name.
    if (!(error instanceof EnvironmentError)) throw error;
  }
  return `unknown-${makeRunId(now, "0000").slice(0, 15)}`;
}

/** `base`, or `base-2`, `base-3`… if earlier archives took the name. */
async function freshArchiveName(
  paths: StorePaths,
  base: string,
): Promise<string> {
  let name = base;
  for (let n = 2; await exists(join(paths.runs, name)); n++) {
    name = `${base}-${n}`;
  }
  return name;
}
