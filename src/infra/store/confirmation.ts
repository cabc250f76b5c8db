/** `.ratchet/confirmation.json`: the end-of-run confirmation, trial by trial. */

import { z } from "zod";
import type { Confirmation } from "../../core/confirm.ts";
import { writeFileAtomic } from "../atomic.ts";
import { checkShape, readJsonFile } from "./_json.ts";
import type { StoreContext } from "./paths.ts";

/** The keys ratchet relies on when it reads confirmation.json back. */
const CONFIRMATION = z.looseObject({
  run_id: z.string(),
  baseline_sha: z.string(),
  incumbent_sha: z.string(),
  incumbent_iter: z.number(),
  through_iter: z.number(),
  per_side: z.number(),
  trials: z.array(z.unknown()),
  result: z.record(z.string(), z.unknown()).nullable(),
  started_at: z.string(),
  finished_at: z.string().nullable(),
});

/**
 * Replace `confirmation.json` atomically (after every confirmation trial).
 * Fault point prefix: `confirmation.write`.
 */
export async function writeConfirmation(
  ctx: StoreContext,
  c: Confirmation,
): Promise<void> {
  await Deno.mkdir(ctx.paths.root, { recursive: true });
  await writeFileAtomic(
    ctx.paths.confirmation,
    JSON.stringify(c, null, 2) + "\n",
    { fault: ctx.fault, point: "confirmation.write" },
  );
}

/** The end-of-run confirmation, or null when none was started. */
export async function readConfirmation(
  ctx: StoreContext,
): Promise<Confirmation | null> {
  const path = ctx.paths.confirmation;
  const value = await readJsonFile(path);
  if (value === null) return null;
  return checkShape<Confirmation>(path, CONFIRMATION, value);
}
