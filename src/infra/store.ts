/**
 * The `.ratchet/` state store (spec section 8). Every file the run keeps is
 * read and written here, crash-safely:
 *
 * - whole files (`config.json`, `current.json`, reports, diffs) are replaced
 *   atomically (temp file, fsync, rename, fsync directory);
 * - `results.jsonl` and `notes.jsonl` grow by fsynced line appends; a reader
 *   ignores a torn last line, and a torn line in the middle is an error;
 * - `archive()` moves the previous run into `runs/<run_id>/` entry by entry
 *   behind an intent file, so an interruption loses nothing and the next
 *   call finishes the job.
 *
 * Every write point calls the fault hook with a named point (see
 * `FAULT_POINTS` in fault.ts) so crash tests can kill the process there.
 */

import { join } from "node:path";
import {
  type CurrentIteration,
  type IterationRecord,
  makeRecord,
  SCHEMA_VERSION,
  STOP_REASONS,
  type StopReason,
} from "../core/state.ts";
import { isRunId, makeRunId } from "../core/run_id.ts";
import type { Confirmation } from "../core/confirm.ts";
import {
  EnvironmentError,
  ExitCode,
  RatchetError,
  UsageError,
} from "../errors.ts";
import {
  appendLineDurable,
  fsyncDir,
  removeStaleTemps,
  writeFileAtomic,
} from "./atomic.ts";
import { type FaultHook, noFault } from "./fault.ts";
import { isPidAlive } from "./lock.ts";

/**
 * The `iter` a trial of the end-of-run confirmation is run and saved under:
 * it belongs to no iteration (its reports are `confirm-trial-NN.txt`).
 */
export const CONFIRMATION_ITER = -1;

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

/** One `ratchet instruct` note. */
export interface Note {
  id: number;
  text: string;
  timestamp: string;
}

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
  /** The end-of-run confirmation, trial by trial (see src/confirm.ts). */
  confirmation: string;
  /** Present only while an `archive()` is under way (or was interrupted). */
  archiveIntent: string;
  /**
   * Present only while a new run creates its branch and worktree, before its
   * config.json exists: what to clean up if it dies there.
   */
  startIntent: string;
}

/** A run being started: its branch exists, its config.json not yet. */
export interface StartIntent {
  run_id: string;
  branch: string;
  start_sha: string;
}

/** Options of the store. */
export interface StoreOptions {
  fault?: FaultHook;
  /** PID liveness, for cleaning up temp files of dead writers; default `isPidAlive`. */
  isAlive?: (pid: number) => boolean;
}

const decoder = new TextDecoder();

/** Every key a record must have, taken from the constructor that fills them all. */
const RECORD_KEYS = Object.keys(
  makeRecord({ run_id: "", iter: 0, decision: "baseline", timestamp: "" }),
);

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

const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function checkIndex(what: string, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RatchetError(
      `${what} must be a non-negative integer, got ${n}`,
      ExitCode.internal,
    );
  }
}

/** The error for a state file ratchet cannot read. */
function damaged(
  path: string,
  detail: string,
  hint?: string,
): EnvironmentError {
  return new EnvironmentError(`${path} is damaged: ${detail}`, {
    hint: hint ??
      `Move it aside (mv ${path} ${path}.bad) and start a new run with \`ratchet run\`.`,
  });
}

function checkSchemaVersion(
  path: string,
  value: Record<string, unknown>,
  where = "",
): void {
  const v = value.schema_version;
  if (typeof v !== "number" || !Number.isInteger(v)) {
    throw damaged(
      path,
      `${where}schema_version is ${JSON.stringify(v)}, not an integer`,
    );
  }
  if (v > SCHEMA_VERSION) {
    throw new EnvironmentError(
      `${path} has schema_version ${v}; this ratchet understands up to ${SCHEMA_VERSION}`,
      {
        hint: "It was written by a newer ratchet: upgrade ratchet to read it.",
      },
    );
  }
}

/** A parsed JSON-lines file. */
interface JsonLines {
  /** Parsed complete lines with their 1-based line numbers. */
  entries: { line: number; value: unknown }[];
  /** Byte length of the file up to and including the last good line. */
  goodBytes: number;
  /** Text after the last good line (a torn last line), or null. */
  torn: string | null;
}

/**
 * Parse JSON lines, tolerating a torn last line: an unterminated tail (the
 * newline is written last, so a line without one was never completed) or a
 * terminated last line that does not parse (garbage left by a power loss).
 * An unparseable line followed by more lines is damage, reported by number.
 */
function parseJsonLines(path: string, bytes: Uint8Array): JsonLines {
  const entries: JsonLines["entries"] = [];
  let start = 0;
  let lineNo = 0;
  let goodBytes = 0;
  let bad: { line: number; message: string } | null = null;
  while (start < bytes.length) {
    const nl = bytes.indexOf(0x0a, start);
    if (nl === -1) break; // unterminated tail: torn
    lineNo += 1;
    if (bad !== null) {
      throw damaged(
        path,
        `line ${bad.line} is not valid JSON (${bad.message})`,
      );
    }
    const text = decoder.decode(bytes.subarray(start, nl));
    start = nl + 1;
    if (text.trim() === "") {
      goodBytes = start;
      continue;
    }
    try {
      entries.push({ line: lineNo, value: JSON.parse(text) });
      goodBytes = start;
    } catch (error) {
      bad = { line: lineNo, message: (error as Error).message };
    }
  }
  const torn = goodBytes < bytes.length
    ? decoder.decode(bytes.subarray(goodBytes))
    : null;
  return { entries, goodBytes, torn };
}

async function readBytes(path: string): Promise<Uint8Array | null> {
  try {
    return await Deno.readFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

/** Whether `path` is a directory with nothing in it. */
async function isEmptyDir(path: string): Promise<boolean> {
  try {
    for await (const _ of Deno.readDir(path)) return false;
    return true;
  } catch {
    return false;
  }
}

/** Read and parse a whole JSON file; null when it does not exist. */
async function readJsonFile(
  path: string,
): Promise<Record<string, unknown> | null> {
  const bytes = await readBytes(path);
  if (bytes === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(decoder.decode(bytes));
  } catch (error) {
    throw damaged(path, `not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw damaged(path, "not a JSON object");
  checkSchemaVersion(path, value);
  return value;
}

type FieldType = "string" | "number" | "boolean" | "object" | "array";

/** Check that `value[key]` has one of the types (`null` allowed when listed). */
function checkFields(
  path: string,
  value: Record<string, unknown>,
  fields: Record<string, readonly (FieldType | "null")[]>,
  where = "",
): void {
  for (const [key, types] of Object.entries(fields)) {
    if (!(key in value)) throw damaged(path, `${where}missing key "${key}"`);
    const v = value[key];
    const type = v === null ? "null" : Array.isArray(v) ? "array" : typeof v;
    if (!(types as readonly string[]).includes(type)) {
      throw damaged(
        path,
        `${where}"${key}" is ${JSON.stringify(v)}, expected ${
          types.join(" or ")
        }`,
      );
    }
  }
}

function checkRecord(
  path: string,
  line: number,
  value: unknown,
  index: number,
): IterationRecord {
  const where = `line ${line}: `;
  if (!isObject(value)) throw damaged(path, `${where}not a JSON object`);
  checkSchemaVersion(path, value, where);
  // Records written before guards existed have no `guards`: they had none.
  if (!("guards" in value)) value.guards = null;
  for (const key of RECORD_KEYS) {
    if (!(key in value)) throw damaged(path, `${where}missing key "${key}"`);
  }
  checkFields(path, value, { run_id: ["string"], iter: ["number"] }, where);
  if (value.iter !== index) {
    throw damaged(
      path,
      `${where}iter is ${value.iter} where ${index} was expected (iterations are dense from 0)`,
    );
  }
  return value as unknown as IterationRecord;
}

/** The `.ratchet/` directory of one repository. */
export class Store {
  readonly paths: StorePaths;
  readonly #fault: FaultHook;
  readonly #isAlive: (pid: number) => boolean;
  /**
   * Iter and run id of the last record (-1 / null: none); `#lastIter` is
   * undefined until results.jsonl was read.
   */
  #lastIter: number | undefined;
  #lastRunId: string | null = null;

  constructor(repoRoot: string, options: StoreOptions = {}) {
    const root = join(repoRoot, ".ratchet");
    this.paths = {
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
    this.#fault = options.fault ?? noFault;
    this.#isAlive = options.isAlive ?? isPidAlive;
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

  // ---- config.json -------------------------------------------------------

  /** Replace `config.json` atomically. */
  async writeRun(run: RunFile): Promise<void> {
    await Deno.mkdir(this.paths.root, { recursive: true });
    await writeFileAtomic(
      this.paths.config,
      JSON.stringify(run, null, 2) + "\n",
      {
        fault: this.#fault,
        point: "config.write",
      },
    );
  }

  /** The run in `config.json`, or null when there is none. */
  async readRun(): Promise<RunFile | null> {
    const path = this.paths.config;
    const value = await readJsonFile(path);
    if (value === null) return null;
    checkFields(path, value, {
      run_id: ["string"],
      created_at: ["string"],
      repo_root: ["string"],
      start_sha: ["string"],
      branch: ["string"],
      config: ["object"],
      deterministic: ["boolean", "null"],
      trial_image: ["string", "null"],
      unit: ["string", "null"],
      state: ["string"],
      stop_reason: ["string", "null"],
      finished_at: ["string", "null"],
    });
    if (value.state !== "running" && value.state !== "finished") {
      throw damaged(
        path,
        `"state" is ${
          JSON.stringify(value.state)
        }, expected "running" or "finished"`,
      );
    }
    if (
      value.stop_reason !== null &&
      !(STOP_REASONS as readonly unknown[]).includes(value.stop_reason)
    ) {
      throw damaged(
        path,
        `"stop_reason" is ${
          JSON.stringify(value.stop_reason)
        }, expected one of ${STOP_REASONS.join(", ")} or null`,
      );
    }
    return value as unknown as RunFile;
  }

  // ---- results.jsonl -----------------------------------------------------

  /**
   * Append one record and fsync. Refuses (internal error) a record whose
   * `iter` is not the next dense iteration or whose `run_id` differs from the
   * records before it. The first call reads the file once (and cuts a torn
   * last line, see `repairTornTail`); later calls are O(1).
   */
  async appendRecord(r: IterationRecord): Promise<void> {
    if (this.#lastIter === undefined) {
      await this.repairTornTail();
      const records = await this.readRecords();
      this.#lastRunId = records.at(-1)?.run_id ?? null;
      this.#lastIter = records.length - 1;
    }
    if (this.#lastRunId !== null && this.#lastRunId !== r.run_id) {
      throw new RatchetError(
        `refusing to append a record of run ${r.run_id} to ${this.paths.results}, which holds run ${this.#lastRunId}`,
        ExitCode.internal,
        {
          hint: "Each run has its own results.jsonl; this is a bug in ratchet.",
        },
      );
    }
    const expected = this.#lastIter + 1;
    if (r.iter !== expected) {
      throw new RatchetError(
        `refusing to append iteration ${r.iter} to ${this.paths.results}: the next iteration is ${expected}`,
        ExitCode.internal,
        { hint: "Iterations are dense from 0; this is a bug in ratchet." },
      );
    }
    // Unknown until the append succeeds: a failed append may have left a
    // partial line, so the next call must re-read and repair.
    this.#lastIter = undefined;
    await Deno.mkdir(this.paths.root, { recursive: true });
    await appendLineDurable(this.paths.results, JSON.stringify(r), {
      fault: this.#fault,
      points: {
        midLine: "results.append.mid-line",
        beforeFsync: "results.append.before-fsync",
        afterFsync: "results.append.after-fsync",
      },
    });
    this.#lastIter = r.iter;
    this.#lastRunId = r.run_id;
  }

  /**
   * Every finalized record, in order. A torn last line is ignored; a damaged
   * line elsewhere, a missing key or a gap in `iter` is an EnvironmentError
   * naming the line.
   */
  async readRecords(): Promise<IterationRecord[]> {
    const path = this.paths.results;
    const bytes = await readBytes(path);
    if (bytes === null) return [];
    const { entries } = parseJsonLines(path, bytes);
    return entries.map((e, index) => checkRecord(path, e.line, e.value, index));
  }

  /**
   * Cut a torn last line off `results.jsonl` so the next append starts on a
   * fresh line. Returns the discarded text, or null when there was none.
   * `resume` calls it before appending (and `appendRecord` does on its first
   * call). Fault point: `results.repair.before-truncate`.
   */
  async repairTornTail(): Promise<string | null> {
    const path = this.paths.results;
    const bytes = await readBytes(path);
    if (bytes === null) return null;
    const { goodBytes, torn } = parseJsonLines(path, bytes);
    if (torn === null) return null;
    this.#lastIter = undefined;
    this.#fault("results.repair.before-truncate");
    const file = await Deno.open(path, { write: true });
    try {
      await file.truncate(goodBytes);
      await file.sync();
    } finally {
      file.close();
    }
    return torn;
  }

  // ---- current.json ------------------------------------------------------

  /** Replace `current.json` atomically. */
  async writeCurrent(c: CurrentIteration): Promise<void> {
    await Deno.mkdir(this.paths.root, { recursive: true });
    await writeFileAtomic(
      this.paths.current,
      JSON.stringify(c, null, 2) + "\n",
      {
        fault: this.#fault,
        point: "current.write",
      },
    );
  }

  /** The in-progress iteration, or null when none is recorded. */
  async readCurrent(): Promise<CurrentIteration | null> {
    const path = this.paths.current;
    const value = await readJsonFile(path);
    if (value === null) return null;
    checkFields(path, value, {
      run_id: ["string"],
      iter: ["number"],
      phase: ["string"],
      incumbent_sha: ["string"],
      candidate_tree: ["string", "null"],
      started_at: ["string"],
    });
    return value as unknown as CurrentIteration;
  }

  /** Remove `current.json` (no error when absent). Fault point: `current.clear.before-remove`. */
  async clearCurrent(): Promise<void> {
    if (!(await exists(this.paths.current))) return;
    this.#fault("current.clear.before-remove");
    await this.#removeDurably(this.paths.current);
  }

  /** Remove a file directly under `.ratchet/` (gone already is fine) and make that durable. */
  async #removeDurably(path: string): Promise<void> {
    try {
      await Deno.remove(path);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) throw error;
    }
    await fsyncDir(this.paths.root);
  }

  // ---- confirmation.json -------------------------------------------------

  /** Replace `confirmation.json` atomically (after every confirmation trial). */
  async writeConfirmation(c: Confirmation): Promise<void> {
    await Deno.mkdir(this.paths.root, { recursive: true });
    await writeFileAtomic(
      this.paths.confirmation,
      JSON.stringify(c, null, 2) + "\n",
      { fault: this.#fault, point: "confirmation.write" },
    );
  }

  /** The end-of-run confirmation, or null when none was started. */
  async readConfirmation(): Promise<Confirmation | null> {
    const path = this.paths.confirmation;
    const value = await readJsonFile(path);
    if (value === null) return null;
    checkFields(path, value, {
      run_id: ["string"],
      baseline_sha: ["string"],
      incumbent_sha: ["string"],
      incumbent_iter: ["number"],
      through_iter: ["number"],
      per_side: ["number"],
      trials: ["array"],
      result: ["object", "null"],
      started_at: ["string"],
      finished_at: ["string", "null"],
    });
    return value as unknown as Confirmation;
  }

  // ---- reports/ and diffs/ -----------------------------------------------

  /**
   * Save a trial's captured report as `reports/iter-NNNN-trial-NN.txt`
   * (`reports/confirm-trial-NN.txt` for the end-of-run confirmation,
   * {@linkcode CONFIRMATION_ITER}); returns its path.
   */
  async saveReport(iter: number, trial: number, text: string): Promise<string> {
    if (iter !== CONFIRMATION_ITER) checkIndex("iter", iter);
    checkIndex("trial", trial);
    const path = join(
      this.paths.reports,
      iter === CONFIRMATION_ITER
        ? `confirm-trial-${pad(trial, 2)}.txt`
        : `iter-${pad(iter, 4)}-trial-${pad(trial, 2)}.txt`,
    );
    await Deno.mkdir(this.paths.reports, { recursive: true });
    await writeFileAtomic(path, text, {
      fault: this.#fault,
      point: "reports.write",
    });
    return path;
  }

  /** The saved reports of iteration `iter`, in trial order (none when missing). */
  async readReports(iter: number): Promise<string[]> {
    checkIndex("iter", iter);
    const prefix = `iter-${pad(iter, 4)}-trial-`;
    const names = (await Array.fromAsync(Deno.readDir(this.paths.reports))
      .catch(() => []))
      .map((e) => e.name)
      .filter((n) => n.startsWith(prefix) && n.endsWith(".txt"))
      .sort();
    const texts: string[] = [];
    for (const name of names) {
      const text = await Deno.readTextFile(join(this.paths.reports, name))
        .catch(() => null);
      if (text !== null) texts.push(text);
    }
    return texts;
  }

  /** Save a candidate's diff as `diffs/iter-NNNN.patch`; returns its path. */
  async saveDiff(iter: number, patch: string | Uint8Array): Promise<string> {
    checkIndex("iter", iter);
    const path = join(this.paths.diffs, `iter-${pad(iter, 4)}.patch`);
    await Deno.mkdir(this.paths.diffs, { recursive: true });
    await writeFileAtomic(path, patch, {
      fault: this.#fault,
      point: "diffs.write",
    });
    return path;
  }

  // ---- notes.jsonl -------------------------------------------------------

  /**
   * Append a `ratchet instruct` note and return it. Safe against a
   * concurrent `takeUnreadNotes` by the run (both hold an exclusive lock on
   * the file). Fault point: `notes.append.before-fsync`.
   */
  async appendNote(text: string, now: Date): Promise<Note> {
    if (text.trim() === "") {
      throw new UsageError("The note is empty", {
        hint:
          'Give the text to pass on, e.g. ratchet instruct "try a hash map"',
      });
    }
    return await this.#withNotes(async (state) => {
      const note: Note = {
        id: state.lastId + 1,
        text,
        timestamp: now.toISOString(),
      };
      await appendLineDurable(
        this.paths.notes,
        JSON.stringify({ schema_version: SCHEMA_VERSION, ...note }),
        {
          fault: this.#fault,
          points: { beforeFsync: "notes.append.before-fsync" },
        },
      );
      return note;
    });
  }

  /**
   * The notes not read yet, oldest first, marked read durably (a
   * `{"read_through": id}` line) before they are returned, so each note is
   * handed out once even across restarts. Fault point:
   * `notes.mark-read.before-fsync`.
   */
  async takeUnreadNotes(): Promise<Note[]> {
    if (!(await exists(this.paths.notes))) return [];
    return await this.#withNotes(async (state) => {
      const unread = state.notes.filter((n) => n.id > state.readThrough);
      const last = unread.at(-1);
      if (last === undefined) return [];
      await appendLineDurable(
        this.paths.notes,
        JSON.stringify({
          schema_version: SCHEMA_VERSION,
          read_through: last.id,
        }),
        {
          fault: this.#fault,
          points: { beforeFsync: "notes.mark-read.before-fsync" },
        },
      );
      return unread;
    });
  }

  /**
   * The notes not marked read yet, oldest first, WITHOUT marking them: the
   * run marks them with `markNotesRead` once the iteration that received
   * them is recorded, so a crash in between hands them out again instead of
   * losing them.
   */
  async peekUnreadNotes(): Promise<Note[]> {
    if (!(await exists(this.paths.notes))) return [];
    return await this.#withNotes((state) =>
      Promise.resolve(state.notes.filter((n) => n.id > state.readThrough))
    );
  }

  /**
   * Mark every note up to `throughId` read, durably (a `{"read_through":
   * id}` line). Fault point: `notes.mark-read.before-fsync`.
   */
  async markNotesRead(throughId: number): Promise<void> {
    await this.#withNotes(async (state) => {
      if (throughId <= state.readThrough) return;
      await appendLineDurable(
        this.paths.notes,
        JSON.stringify({
          schema_version: SCHEMA_VERSION,
          read_through: throughId,
        }),
        {
          fault: this.#fault,
          points: { beforeFsync: "notes.mark-read.before-fsync" },
        },
      );
    });
  }

  /**
   * Run `fn` holding an exclusive lock on notes.jsonl (`ratchet instruct`
   * and the run write it from different processes), with the file parsed and
   * any torn last line cut so appends start on a fresh line.
   */
  async #withNotes<T>(
    fn: (
      state: { notes: Note[]; readThrough: number; lastId: number },
    ) => Promise<T>,
  ): Promise<T> {
    const path = this.paths.notes;
    await Deno.mkdir(this.paths.root, { recursive: true });
    const created = !(await exists(path));
    const handle = await Deno.open(path, {
      read: true,
      write: true,
      create: true,
      mode: 0o644,
    });
    // A new file's directory entry is not durable until the directory is.
    if (created) await fsyncDir(this.paths.root);
    try {
      await handle.lock(true);
      const bytes = await Deno.readFile(path);
      const parsed = parseJsonLines(path, bytes);
      if (parsed.torn !== null) {
        await handle.truncate(parsed.goodBytes);
        await handle.sync();
      }
      const notes: Note[] = [];
      let readThrough = 0;
      let lastId = 0;
      for (const { line, value } of parsed.entries) {
        if (!isObject(value)) {
          throw damaged(path, `line ${line}: not a JSON object`);
        }
        checkSchemaVersion(path, value, `line ${line}: `);
        if ("read_through" in value) {
          checkFields(
            path,
            value,
            { read_through: ["number"] },
            `line ${line}: `,
          );
          readThrough = Math.max(readThrough, value.read_through as number);
          continue;
        }
        checkFields(path, value, {
          id: ["number"],
          text: ["string"],
          timestamp: ["string"],
        }, `line ${line}: `);
        const note: Note = {
          id: value.id as number,
          text: value.text as string,
          timestamp: value.timestamp as string,
        };
        notes.push(note);
        lastId = Math.max(lastId, note.id);
      }
      notes.sort((a, b) => a.id - b.id);
      // Ids stay increasing even if a marker outlived its notes.
      return await fn({
        notes,
        readThrough,
        lastId: Math.max(lastId, readThrough),
      });
    } finally {
      handle.close();
    }
  }

  // ---- archive -----------------------------------------------------------

  /**
   * Move the previous run's files (config.json, results.jsonl, current.json,
   * reports/, diffs/, notes.jsonl, harness/, report.html) into
   * `runs/<run_id>/` (`runs/unknown-<time>/` when config.json names no run).
   * Returns that directory, or null when there was nothing to archive.
   *
   * Crash-safe: the destination is written to an intent file first, then
   * each entry moves by one atomic rename, config.json last. An interrupted
   * archive leaves every entry either in place or in the archive, and the
   * next call reads the intent and finishes. `worktree/`, `tmp/`, `lock` and
   * `runs/` are never touched. Fault points: `archive.intent-written`,
   * `archive.mid` (after each entry; use `archive.mid:N`),
   * `archive.before-finish`.
   */
  async archive(now: Date = new Date()): Promise<string | null> {
    let name = await this.#readArchiveIntent();
    if (name === null) {
      const present: string[] = [];
      for (const key of ARCHIVED) {
        if (await exists(this.paths[key])) present.push(key);
      }
      if (present.length === 0) return null;
      name = await this.#freshArchiveName(await this.#archiveRunId(now));
      await Deno.mkdir(this.paths.runs, { recursive: true });
      await writeFileAtomic(
        this.paths.archiveIntent,
        JSON.stringify({ schema_version: SCHEMA_VERSION, dest: name }) + "\n",
      );
      this.#fault("archive.intent-written");
    }
    const dest = join(this.paths.runs, name);
    await Deno.mkdir(dest, { recursive: true });
    for (const key of ARCHIVED) {
      const from = this.paths[key];
      if (!(await exists(from))) continue;
      const to = join(dest, from.slice(this.paths.root.length + 1));
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
      this.#fault("archive.mid");
    }
    await fsyncDir(dest);
    await fsyncDir(this.paths.runs);
    await fsyncDir(this.paths.root);
    this.#fault("archive.before-finish");
    await Deno.remove(this.paths.archiveIntent);
    await fsyncDir(this.paths.root);
    this.#lastIter = undefined;
    return dest;
  }

  /** Record that a run is being started (before its branch is created). */
  async writeStartIntent(intent: StartIntent): Promise<void> {
    await writeFileAtomic(
      this.paths.startIntent,
      JSON.stringify({ schema_version: SCHEMA_VERSION, ...intent }) + "\n",
    );
  }

  /** The start a previous `run` did not finish, or null. */
  async readStartIntent(): Promise<StartIntent | null> {
    const path = this.paths.startIntent;
    const value = await readJsonFile(path);
    if (value === null) return null;
    checkFields(path, value, {
      run_id: ["string"],
      branch: ["string"],
      start_sha: ["string"],
    });
    const intent: StartIntent = {
      run_id: value.run_id as string,
      branch: value.branch as string,
      start_sha: value.start_sha as string,
    };
    if (
      !isRunId(intent.run_id) || intent.branch !== `ratchet/${intent.run_id}`
    ) {
      throw damaged(
        path,
        `"branch" is ${JSON.stringify(intent.branch)}, not ratchet/<run_id>`,
        `It records a run that was being started. Delete it, then run ratchet again.`,
      );
    }
    return intent;
  }

  /** The run's config.json is written: its start is complete. */
  async clearStartIntent(): Promise<void> {
    await this.#removeDurably(this.paths.startIntent);
  }

  /** The destination name of an interrupted archive, or null. */
  async #readArchiveIntent(): Promise<string | null> {
    const path = this.paths.archiveIntent;
    const value = await readJsonFile(path);
    if (value === null) return null;
    const dest = value.dest;
    if (typeof dest !== "string" || !SAFE_NAME.test(dest)) {
      throw damaged(
        path,
        `"dest" is ${JSON.stringify(dest)}, not a directory name under runs/`,
        `It records an interrupted archive. Check ${this.paths.root} and ${this.paths.runs}, move files into place by hand, then delete it.`,
      );
    }
    return dest;
  }

  /** The previous run's id, or `unknown-<time>` when config.json does not give one. */
  async #archiveRunId(now: Date): Promise<string> {
    try {
      const run = await this.readRun();
      if (run !== null && isRunId(run.run_id)) return run.run_id;
    } catch (error) {
      // A damaged config.json must not block a new run: it is archived
      // with the rest, under an unknown name.
      if (!(error instanceof EnvironmentError)) throw error;
    }
    return `unknown-${makeRunId(now, "0000").slice(0, 15)}`;
  }

  /** `base`, or `base-2`, `base-3`… if earlier archives took the name. */
  async #freshArchiveName(base: string): Promise<string> {
    let name = base;
    for (let n = 2; await exists(join(this.paths.runs, name)); n++) {
      name = `${base}-${n}`;
    }
    return name;
  }
}
