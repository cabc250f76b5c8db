/**
 * The `.ratchet/` state store (spec section 8). Every file operation on
 * `.ratchet/` goes through this facade, crash-safely:
 *
 * - whole files (`config.json`, `current.json`, reports, diffs) are replaced
 *   atomically (temp file, fsync, rename, fsync directory: see ../atomic.ts);
 * - `results.jsonl` and `notes.jsonl` grow by fsynced line appends; a reader
 *   ignores a torn last line, and a torn line in the middle is an error
 *   (jsonl.ts);
 * - removals fsync the directory that held the entry;
 * - `archive()` moves the previous run into `runs/<run_id>/` entry by entry
 *   behind an intent file, so an interruption loses nothing and the next
 *   call finishes the job (archive.ts).
 *
 * Every write point calls the fault hook with a named point (see
 * `FAULT_POINTS` in ../fault.ts) so crash tests can kill the process there.
 * Each file's format lives in its own module beside this one.
 */

import type { Confirmation } from "../../core/confirm.ts";
import type { CurrentIteration, IterationRecord } from "../../core/state.ts";
import { removeStaleTemps, writeFileAtomic } from "../atomic.ts";
import { type FaultHook, noFault } from "../fault.ts";
import { isPidAlive } from "../lock.ts";
import { exists, removeDurably } from "./_fs.ts";
import { archiveRun } from "./archive.ts";
import { readDiff, readReports, saveDiff, saveReport } from "./artifacts.ts";
import { readConfirmation, writeConfirmation } from "./confirmation.ts";
import { clearCurrent, readCurrent, writeCurrent } from "./current.ts";
import {
  appendNote,
  markNotesRead,
  type Note,
  peekUnreadNotes,
  takeUnreadNotes,
} from "./notes.ts";
import { type StoreContext, type StorePaths, storePaths } from "./paths.ts";
import { ResultsLog } from "./results.ts";
import { readRunFile, type RunFile, writeRunFile } from "./run_file.ts";
import {
  clearStartIntent,
  readStartIntent,
  type StartIntent,
  writeStartIntent,
} from "./start_intent.ts";

// The store's vocabulary, so its users import from the facade alone.
export { CONFIRMATION_ITER } from "./artifacts.ts";
export type { Note, RunFile, StartIntent, StorePaths };

/** Options of the store. */
export interface StoreOptions {
  fault?: FaultHook;
  /** PID liveness, for cleaning up temp files of dead writers; default `isPidAlive`. */
  isAlive?: (pid: number) => boolean;
}

/** The `.ratchet/` directory of one repository. */
export class Store {
  readonly paths: StorePaths;
  readonly #ctx: StoreContext;
  readonly #isAlive: (pid: number) => boolean;
  readonly #results: ResultsLog;

  constructor(repoRoot: string, options: StoreOptions = {}) {
    this.paths = storePaths(repoRoot);
    this.#ctx = { paths: this.paths, fault: options.fault ?? noFault };
    this.#isAlive = options.isAlive ?? isPidAlive;
    this.#results = new ResultsLog(this.#ctx);
  }

  /**
   * Create `.ratchet/` with `reports/`, `diffs/` and `tmp/`, and remove temp
   * files that crashed writers left behind.
   */
  async init(): Promise<void> {
    for (const dir of [this.paths.reports, this.paths.diffs, this.paths.tmp]) {
      await Deno.mkdir(dir, { recursive: true });
    }
    for (const dir of [this.paths.root, this.paths.reports, this.paths.diffs]) {
      await removeStaleTemps(dir, this.#isAlive);
    }
  }

  // ---- config.json (run_file.ts) -------------------------------------------

  /** Replace `config.json` atomically. */
  writeRun(run: RunFile): Promise<void> {
    return writeRunFile(this.#ctx, run);
  }

  /** The run in `config.json`, or null when there is none. */
  readRun(): Promise<RunFile | null> {
    return readRunFile(this.#ctx);
  }

  /**
   * Remove `config.json` (no error when absent), durably: a run that never
   * started leaves no run behind.
   */
  async removeRunFile(): Promise<void> {
    if (!(await exists(this.paths.config))) return;
    await removeDurably(this.paths.config, this.paths.root);
  }

  // ---- results.jsonl (results.ts) ------------------------------------------

  /**
   * Append one record and fsync. Refuses (internal error) a record whose
   * `iter` is not the next dense iteration or whose `run_id` differs from the
   * records before it. The first call reads the file once (and cuts a torn
   * last line, see `repairTornTail`); later calls are O(1).
   */
  appendRecord(r: IterationRecord): Promise<void> {
    return this.#results.append(r);
  }

  /**
   * Every finalized record, in order. A torn last line is ignored; a damaged
   * line elsewhere, a missing key or a gap in `iter` is an EnvironmentError
   * naming the line.
   */
  readRecords(): Promise<IterationRecord[]> {
    return this.#results.read();
  }

  /**
   * Cut a torn last line off `results.jsonl` so the next append starts on a
   * fresh line. Returns the discarded text, or null when there was none.
   * `resume` calls it before appending (and `appendRecord` does on its first
   * call). Fault point: `results.repair.before-truncate`.
   */
  repairTornTail(): Promise<string | null> {
    return this.#results.repairTornTail();
  }

  // ---- current.json (current.ts) -------------------------------------------

  /** Replace `current.json` atomically. */
  writeCurrent(c: CurrentIteration): Promise<void> {
    return writeCurrent(this.#ctx, c);
  }

  /** The in-progress iteration, or null when none is recorded. */
  readCurrent(): Promise<CurrentIteration | null> {
    return readCurrent(this.#ctx);
  }

  /** Remove `current.json` (no error when absent). Fault point: `current.clear.before-remove`. */
  clearCurrent(): Promise<void> {
    return clearCurrent(this.#ctx);
  }

  // ---- confirmation.json (confirmation.ts) ---------------------------------

  /** Replace `confirmation.json` atomically (after every confirmation trial). */
  writeConfirmation(c: Confirmation): Promise<void> {
    return writeConfirmation(this.#ctx, c);
  }

  /** The end-of-run confirmation, or null when none was started. */
  readConfirmation(): Promise<Confirmation | null> {
    return readConfirmation(this.#ctx);
  }

  // ---- reports/ and diffs/ (artifacts.ts) ----------------------------------

  /**
   * Save a trial's captured report as `reports/iter-NNNN-trial-NN.txt`
   * (`reports/confirm-trial-NN.txt` for the end-of-run confirmation,
   * {@linkcode CONFIRMATION_ITER}); returns its path.
   */
  saveReport(iter: number, trial: number, text: string): Promise<string> {
    return saveReport(this.#ctx, iter, trial, text);
  }

  /** The saved reports of iteration `iter`, in trial order (none when missing). */
  readReports(iter: number): Promise<string[]> {
    return readReports(this.#ctx, iter);
  }

  /**
   * Write the HTML report to `.ratchet/report.html` atomically; returns its
   * path. Fault point prefix: `report.write`.
   */
  async writeReportHtml(html: string): Promise<string> {
    await writeFileAtomic(this.paths.reportHtml, html, {
      fault: this.#ctx.fault,
      point: "report.write",
    });
    return this.paths.reportHtml;
  }

  /** The saved diff of iteration `iter`, or null when there is none. */
  readDiff(iter: number): Promise<string | null> {
    return readDiff(this.#ctx, iter);
  }

  /** Save a candidate's diff as `diffs/iter-NNNN.patch`; returns its path. */
  saveDiff(iter: number, patch: string | Uint8Array): Promise<string> {
    return saveDiff(this.#ctx, iter, patch);
  }

  // ---- notes.jsonl (notes.ts) ----------------------------------------------

  /**
   * Append a `ratchet instruct` note and return it. Safe against a
   * concurrent `takeUnreadNotes` by the run (both hold an exclusive lock on
   * the file). Fault point: `notes.append.before-fsync`.
   */
  appendNote(text: string, now: Date): Promise<Note> {
    return appendNote(this.#ctx, text, now);
  }

  /**
   * The notes not read yet, oldest first, marked read durably before they
   * are returned, so each note is handed out once even across restarts.
   */
  takeUnreadNotes(): Promise<Note[]> {
    return takeUnreadNotes(this.#ctx);
  }

  /**
   * The notes not marked read yet, oldest first, WITHOUT marking them (see
   * `markNotesRead`), so a crash before the iteration that received them is
   * recorded hands them out again.
   */
  peekUnreadNotes(): Promise<Note[]> {
    return peekUnreadNotes(this.#ctx);
  }

  /** Mark every note up to `throughId` read, durably. */
  markNotesRead(throughId: number): Promise<void> {
    return markNotesRead(this.#ctx, throughId);
  }

  // ---- harness/ and tmp/ ---------------------------------------------------

  /**
   * Remove the run's harness snapshot (`harness/`, no error when absent),
   * durably: a run that never started leaves none behind.
   */
  async removeHarnessSnapshot(): Promise<void> {
    if (!(await exists(this.paths.harness))) return;
    await removeDurably(this.paths.harness, this.paths.root, {
      recursive: true,
    });
  }

  /**
   * Remove `tmp/` and everything in it (no error when absent), durably:
   * probe directories a killed process left. `init()` makes it again.
   */
  async clearTmp(): Promise<void> {
    if (!(await exists(this.paths.tmp))) return;
    await removeDurably(this.paths.tmp, this.paths.root, { recursive: true });
  }

  // ---- archive and start intent (archive.ts, start_intent.ts) --------------

  /**
   * Whether `.ratchet/` holds a run's files to archive: its config, its
   * results, or an archive that was interrupted after config.json moved
   * (which must finish, or the next archive would collide).
   */
  async holdsRun(): Promise<boolean> {
    for (
      const path of [
        this.paths.config,
        this.paths.results,
        this.paths.archiveIntent,
      ]
    ) {
      if (await Deno.stat(path).then(() => true, () => false)) return true;
    }
    return false;
  }

  /**
   * Move the previous run's files into `runs/<run_id>/`; returns that
   * directory, or null when there was nothing to archive. Crash-safe: an
   * interrupted archive is finished by the next call (see archive.ts).
   */
  async archive(now: Date = new Date()): Promise<string | null> {
    const dest = await archiveRun(this.#ctx, now);
    // results.jsonl moved away: the next append starts a fresh log.
    if (dest !== null) this.#results.forget();
    return dest;
  }

  /** Record that a run is being started (before its branch is created). */
  writeStartIntent(intent: StartIntent): Promise<void> {
    return writeStartIntent(this.#ctx, intent);
  }

  /** The start a previous `run` did not finish, or null. */
  readStartIntent(): Promise<StartIntent | null> {
    return readStartIntent(this.#ctx);
  }

  /** The run's config.json is written: its start is complete. */
  clearStartIntent(): Promise<void> {
    return clearStartIntent(this.#ctx);
  }
}
