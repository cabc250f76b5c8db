/**
 * `.ratchet/notes.jsonl`: `ratchet instruct` notes for the model, and
 * `{"read_through": id}` markers saying which were handed out. `instruct`
 * and the run write it from different processes, so every access holds an
 * exclusive lock on the file.
 */

import { z } from "zod";
import { SCHEMA_VERSION } from "../../core/state.ts";
import { UsageError } from "../../errors.ts";
import { appendLineDurable, fsyncDir } from "../atomic.ts";
import { exists } from "./_fs.ts";
import { checkLine, parseJsonLines } from "./jsonl.ts";
import type { StoreContext } from "./paths.ts";

/** One `ratchet instruct` note. */
export interface Note {
  id: number;
  text: string;
  timestamp: string;
}

/** A line marking every note up to `read_through` read. */
const READ_MARKER = z.looseObject({ read_through: z.number() });

/** A note's line. */
const NOTE = z.looseObject({
  id: z.number(),
  text: z.string(),
  timestamp: z.string(),
});

/** notes.jsonl as read under its lock. */
interface NotesState {
  notes: Note[];
  readThrough: number;
  lastId: number;
}

/**
 * Append a `ratchet instruct` note and return it. Safe against a
 * concurrent `takeUnreadNotes` by the run (both hold an exclusive lock on
 * the file). Fault point: `notes.append.before-fsync`.
 */
export async function appendNote(
  ctx: StoreContext,
  text: string,
  now: Date,
): Promise<Note> {
  if (text.trim() === "") {
    throw new UsageError("The note is empty", {
      hint: 'Give the text to pass on, e.g. ratchet instruct "try a hash map"',
    });
  }
  return await withNotes(ctx, async (state) => {
    const note: Note = {
      id: state.lastId + 1,
      text,
      timestamp: now.toISOString(),
    };
    await appendLineDurable(
      ctx.paths.notes,
      JSON.stringify({ schema_version: SCHEMA_VERSION, ...note }),
      {
        fault: ctx.fault,
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
export async function takeUnreadNotes(ctx: StoreContext): Promise<Note[]> {
  if (!(await exists(ctx.paths.notes))) return [];
  return await withNotes(ctx, async (state) => {
    const unread = state.notes.filter((n) => n.id > state.readThrough);
    const last = unread.at(-1);
    if (last === undefined) return [];
    await appendReadMarker(ctx, last.id);
    return unread;
  });
}

/**
 * The notes not marked read yet, oldest first, WITHOUT marking them: the
 * run marks them with `markNotesRead` once the iteration that received
 * them is recorded, so a crash in between hands them out again instead of
 * losing them.
 */
export async function peekUnreadNotes(ctx: StoreContext): Promise<Note[]> {
  if (!(await exists(ctx.paths.notes))) return [];
  return await withNotes(
    ctx,
    (state) =>
      Promise.resolve(state.notes.filter((n) => n.id > state.readThrough)),
  );
}

/**
 * Mark every note up to `throughId` read, durably (a `{"read_through":
 * id}` line). Fault point: `notes.mark-read.before-fsync`.
 */
export async function markNotesRead(
  ctx: StoreContext,
  throughId: number,
): Promise<void> {
  await withNotes(ctx, async (state) => {
    if (throughId <= state.readThrough) return;
    await appendReadMarker(ctx, throughId);
  });
}

/** Append `{"read_through": id}` and fsync (the caller holds the lock). */
async function appendReadMarker(ctx: StoreContext, id: number): Promise<void> {
  await appendLineDurable(
    ctx.paths.notes,
    JSON.stringify({ schema_version: SCHEMA_VERSION, read_through: id }),
    {
      fault: ctx.fault,
      points: { beforeFsync: "notes.mark-read.before-fsync" },
    },
  );
}

/** The notes and the highest read marker in the parsed lines. */
function notesState(
  path: string,
  entries: { line: number; value: unknown }[],
): NotesState {
  const notes: Note[] = [];
  let readThrough = 0;
  let lastId = 0;
  for (const { line, value } of entries) {
    const isMarker = typeof value === "object" && value !== null &&
      "read_through" in value;
    if (isMarker) {
      const marker = checkLine<{ read_through: number }>(
        path,
        line,
        value,
        READ_MARKER,
      );
      readThrough = Math.max(readThrough, marker.read_through);
      continue;
    }
    const checked = checkLine<Note>(path, line, value, NOTE);
    const note: Note = {
      id: checked.id,
      text: checked.text,
      timestamp: checked.timestamp,
    };
    notes.push(note);
    lastId = Math.max(lastId, note.id);
  }
  notes.sort((a, b) => a.id - b.id);
  // Ids stay increasing even if a marker outlived its notes.
  return { notes, readThrough, lastId: Math.max(lastId, readThrough) };
}

/**
 * Run `fn` holding an exclusive lock on notes.jsonl (`ratchet instruct`
 * and the run write it from different processes), with the file parsed and
 * any torn last line cut so appends start on a fresh line.
 */
async function withNotes<T>(
  ctx: StoreContext,
  fn: (state: NotesState) => Promise<T>,
): Promise<T> {
  const { root, notes: path } = ctx.paths;
  await Deno.mkdir(root, { recursive: true });
  const created = !(await exists(path));
  const handle = await Deno.open(path, {
    read: true,
    write: true,
    create: true,
    mode: 0o644,
  });
  // A new file's directory entry is not durable until the directory is.
  if (created) await fsyncDir(root);
  try {
    await handle.lock(true);
    const bytes = await Deno.readFile(path);
    const parsed = parseJsonLines(path, bytes);
    if (parsed.torn !== null) {
      await handle.truncate(parsed.goodBytes);
      await handle.sync();
    }
    return await fn(notesState(path, parsed.entries));
  } finally {
    handle.close();
  }
}
