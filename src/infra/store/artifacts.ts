/**
 * `reports/` and `diffs/`: each trial's captured report and each
 * candidate's diff, one file each under the spec's zero-padded names.
 */

import { join } from "node:path";
import { ExitCode, RatchetError } from "../../errors.ts";
import { writeFileAtomic } from "../atomic.ts";
import type { StoreContext } from "./paths.ts";

/**
 * The `iter` a trial of the end-of-run confirmation is run and saved under:
 * it belongs to no iteration (its reports are `confirm-trial-NN.txt`).
 */
export const CONFIRMATION_ITER = -1;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function checkIndex(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RatchetError(
      `${what} must be a non-negative integer, got ${n}`,
      ExitCode.internal,
    );
  }
}

/**
 * Save a trial's captured report as `reports/iter-NNNN-trial-NN.txt`
 * (`reports/confirm-trial-NN.txt` for the end-of-run confirmation,
 * {@linkcode CONFIRMATION_ITER}); returns its path. Fault point prefix:
 * `reports.write`.
 */
export async function saveReport(
  ctx: StoreContext,
  iter: number,
  trial: number,
  text: string,
): Promise<string> {
  if (iter !== CONFIRMATION_ITER) checkIndex("iter", iter);
  checkIndex("trial", trial);
  const path = join(
    ctx.paths.reports,
    iter === CONFIRMATION_ITER
      ? `confirm-trial-${pad(trial, 2)}.txt`
      : `iter-${pad(iter, 4)}-trial-${pad(trial, 2)}.txt`,
  );
  await Deno.mkdir(ctx.paths.reports, { recursive: true });
  await writeFileAtomic(path, text, {
    fault: ctx.fault,
    point: "reports.write",
  });
  return path;
}

/** The saved reports of iteration `iter`, in trial order (none when missing). */
export async function readReports(
  ctx: StoreContext,
  iter: number,
): Promise<string[]> {
  checkIndex("iter", iter);
  const prefix = `iter-${pad(iter, 4)}-trial-`;
  const names = (await Array.fromAsync(Deno.readDir(ctx.paths.reports))
    .catch(() => []))
    .map((e) => e.name)
    .filter((n) => n.startsWith(prefix) && n.endsWith(".txt"))
    .sort();
  const texts: string[] = [];
  for (const name of names) {
    const text = await Deno.readTextFile(join(ctx.paths.reports, name))
      .catch(() => null);
    if (text !== null) texts.push(text);
  }
  return texts;
}

/** The saved diff of iteration `iter`, or null when there is none. */
export async function readDiff(
  ctx: StoreContext,
  iter: number,
): Promise<string | null> {
  checkIndex("iter", iter);
  const path = join(ctx.paths.diffs, `iter-${pad(iter, 4)}.patch`);
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/**
 * Save a candidate's diff as `diffs/iter-NNNN.patch`; returns its path.
 * Fault point prefix: `diffs.write`.
 */
export async function saveDiff(
  ctx: StoreContext,
  iter: number,
  patch: string | Uint8Array,
): Promise<string> {
  checkIndex("iter", iter);
  const path = join(ctx.paths.diffs, `iter-${pad(iter, 4)}.patch`);
  await Deno.mkdir(ctx.paths.diffs, { recursive: true });
  await writeFileAtomic(path, patch, {
    fault: ctx.fault,
    point: "diffs.write",
  });
  return path;
}
