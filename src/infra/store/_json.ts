/**
 * Reading and checking the store's JSON: the error for a damaged file, the
 * schema-version gate, and the zod shape check every file and line passes.
 *
 * A shape names only the keys ratchet relies on (`z.looseObject`, so keys
 * added by newer fields or older runs pass through), and a checked value is
 * returned as it was read, not as zod rebuilt it.
 */

import { z } from "zod";
import { SCHEMA_VERSION } from "../../core/state.ts";
import { EnvironmentError } from "../../errors.ts";
import { readBytes } from "./_fs.ts";

/** A zod object schema whose keys can be looked up one by one. */
export type Shape = z.ZodObject<z.ZodRawShape>;

const decoder = new TextDecoder();

/** Decode UTF-8 bytes (shared so each module does not make its own decoder). */
export function decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The error for a state file ratchet cannot read. */
export function damaged(
  path: string,
  detail: string,
  hint?: string,
): EnvironmentError {
  return new EnvironmentError(`${path} is damaged: ${detail}`, {
    hint: hint ??
      `Move it aside (mv ${path} ${path}.bad) and start a new run with \`ratchet run\`.`,
  });
}

/**
 * Refuse a value whose `schema_version` is not an integer (damage) or is
 * newer than this ratchet understands (an upgrade is needed).
 */
export function checkSchemaVersion(
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

/** What a key's schema accepts, in words (`string or null`). */
function expected(
  schema: z.core.$ZodType | undefined,
  issue: z.core.$ZodIssue,
): string {
  const orNull = schema !== undefined && z.safeParse(schema, null).success
    ? " or null"
    : "";
  switch (issue.code) {
    case "invalid_type":
      return `${
        issue.expected === "record" ? "object" : issue.expected
      }${orNull}`;
    case "invalid_value":
      return `one of ${
        issue.values.map((v) => JSON.stringify(v)).join(", ")
      }${orNull}`;
    default:
      return issue.message;
  }
}

/**
 * Check `value` against `shape`; the first problem, in the shape's key
 * order, is a `damaged` error naming the key (`where` prefixes it, e.g.
 * `line 3: `). Returns the value as read, typed `T`.
 */
export function checkShape<T>(
  path: string,
  shape: Shape,
  value: Record<string, unknown>,
  where = "",
): T {
  const result = shape.safeParse(value);
  if (result.success) return value as T;
  const issue = result.error.issues[0]!;
  const key = issue.path[0];
  if (typeof key !== "string") {
    throw damaged(path, `${where}${issue.message}`);
  }
  if (!(key in value)) throw damaged(path, `${where}missing key "${key}"`);
  throw damaged(
    path,
    `${where}"${key}" is ${JSON.stringify(value[key])}, expected ${
      expected(shape.shape[key], issue)
    }`,
  );
}

/** Read and parse a whole JSON file; null when it does not exist. */
export async function readJsonFile(
  path: string,
): Promise<Record<string, unknown> | null> {
  const bytes = await readBytes(path);
  if (bytes === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(decode(bytes));
  } catch (error) {
    throw damaged(path, `not valid JSON (${(error as Error).message})`);
  }
  if (!isObject(value)) throw damaged(path, "not a JSON object");
  checkSchemaVersion(path, value);
  return value;
}
