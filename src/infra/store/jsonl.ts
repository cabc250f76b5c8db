/**
 * JSON-lines files (`results.jsonl`, `notes.jsonl`): lines are appended with
 * `appendLineDurable` (atomic.ts), newline last, so a crash can tear only the
 * last line. The reader here ignores that torn tail, reports damage anywhere
 * else by line number, and checks each line against a zod shape.
 */

import {
  checkSchemaVersion,
  checkShape,
  damaged,
  decode,
  isObject,
} from "./_json.ts";
import type { Shape } from "./_json.ts";

/** A parsed JSON-lines file. */
export interface JsonLines {
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
export function parseJsonLines(path: string, bytes: Uint8Array): JsonLines {
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
    const text = decode(bytes.subarray(start, nl));
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
    ? decode(bytes.subarray(goodBytes))
    : null;
  return { entries, goodBytes, torn };
}

/**
 * Check one parsed line: a JSON object of a schema version this ratchet
 * reads, whose keys match `shape`. Errors name the line.
 */
export function checkLine<T>(
  path: string,
  line: number,
  value: unknown,
  shape: Shape,
): T {
  const where = `line ${line}: `;
  if (!isObject(value)) throw damaged(path, `${where}not a JSON object`);
  checkSchemaVersion(path, value, where);
  return checkShape<T>(path, shape, value, where);
}
