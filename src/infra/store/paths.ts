/**
 * Where everything under `.ratchet/` lives (spec section 8), and what the
 * store's single-concern modules share: the paths and the fault hook.
 */

import { join } from "node:path";
import type { FaultHook } from "../fault.ts";

/** Absolute paths of everything under `.ratchet/` (spec section 8). */
export interface StorePaths {
  root: string;
  config: string;
  results: string;
  current: string;
  reports: string;
  diffs: string;
  notes: string;
  harness: string;
  worktree: string;
  tmp: string;
  lock: string;
  runs: string;
  /** Default output of `ratchet report`; archived with its run. */
  reportHtml: string;
  /** The end-of-run confirmation, trial by trial (see src/app/confirm.ts). */
  confirmation: string;
  /** Present only while an `archive()` is under way (or was interrupted). */
  archiveIntent: string;
  /**
   * Present only while a new run creates its branch and worktree, before its
   * config.json exists: what to clean up if it dies there.
   */
  startIntent: string;
}

/** The paths of the `.ratchet/` directory of the repository at `repoRoot`. */
export function storePaths(repoRoot: string): StorePaths {
  const root = join(repoRoot, ".ratchet");
  return {
    root,
    config: join(root, "config.json"),
    results: join(root, "results.jsonl"),
    current: join(root, "current.json"),
    reports: join(root, "reports"),
    diffs: join(root, "diffs"),
    notes: join(root, "notes.jsonl"),
    harness: join(root, "harness"),
    worktree: join(root, "worktree"),
    tmp: join(root, "tmp"),
    lock: join(root, "lock"),
    runs: join(root, "runs"),
    reportHtml: join(root, "report.html"),
    confirmation: join(root, "confirmation.json"),
    archiveIntent: join(root, "archive.json"),
    startIntent: join(root, "starting.json"),
  };
}

/** What every store module works with: the paths and the crash-test hook. */
export interface StoreContext {
  readonly paths: StorePaths;
  /** Called at every named write point (see `FAULT_POINTS` in fault.ts). */
  readonly fault: FaultHook;
}
