/** `.ratchet/config.json`: the run's identity, configuration and state. */

import { z } from "zod";
import { STOP_REASONS, type StopReason } from "../../core/state.ts";
import { writeFileAtomic } from "../atomic.ts";
import { checkShape, readJsonFile } from "./_json.ts";
import type { StoreContext } from "./paths.ts";

/** `.ratchet/config.json`: the run's identity, configuration and state. */
export interface RunFile {
  schema_version: number;
  run_id: string;
  created_at: string;
  repo_root: string;
  start_sha: string;
  branch: string;
  /** The run's config in file form (kebab-case keys, as in `ratchet.jsonc`). */
  config: Record<string, unknown>;
  /**
   * The config file's path relative to the repository root when it lies in
   * the repository (protected from the model: spec section 6), null when it
   * lies outside; absent in runs started before it was recorded (read as
   * `ratchet.jsonc`).
   */
  config_file?: string | null;
  /** Whether the baseline showed a deterministic metric; null until measured. */
  deterministic: boolean | null;
  /** The image trials run in (after `--prepare-command`); null until known. */
  trial_image: string | null;
  /** Unit of the baseline's scores (null for plain numbers and times); every trial must match it. */
  unit: string | null;
  /**
   * The engine the run's trials use and whether it shares this machine's
   * files (written at start and at each resume; absent in older files).
   */
  engine?: { endpoint: string; shares_filesystem: boolean } | null;
  /**
   * Units of the baseline's guard values by guard name (`--guard`); every
   * trial must match them. Absent in runs from before guards, and null
   * until the baseline is measured.
   */
  guard_units?: Record<string, string | null> | null;
  state: "running" | "finished";
  stop_reason: StopReason | null;
  finished_at: string | null;
  /**
   * The last iteration recorded when `resume` last extended the finished
   * run (patience and crash counts start after it); absent until then.
   */
  extended_after?: number;
}

/** The keys ratchet relies on when it reads config.json back. */
const RUN_FILE = z.looseObject({
  run_id: z.string(),
  created_at: z.string(),
  repo_root: z.string(),
  start_sha: z.string(),
  branch: z.string(),
  config: z.record(z.string(), z.unknown()),
  deterministic: z.boolean().nullable(),
  trial_image: z.string().nullable(),
  unit: z.string().nullable(),
  state: z.enum(["running", "finished"]),
  stop_reason: z.enum(STOP_REASONS).nullable(),
  finished_at: z.string().nullable(),
});

/** Replace `config.json` atomically. Fault point prefix: `config.write`. */
export async function writeRunFile(
  ctx: StoreContext,
  run: RunFile,
): Promise<void> {
  await Deno.mkdir(ctx.paths.root, { recursive: true });
  await writeFileAtomic(
    ctx.paths.config,
    JSON.stringify(run, null, 2) + "\n",
    { fault: ctx.fault, point: "config.write" },
  );
}

/** The run in `config.json`, or null when there is none. */
export async function readRunFile(ctx: StoreContext): Promise<RunFile | null> {
  const path = ctx.paths.config;
  const value = await readJsonFile(path);
  if (value === null) return null;
  return checkShape<RunFile>(path, RUN_FILE, value);
}
