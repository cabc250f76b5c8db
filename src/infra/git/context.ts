/**
 * What every git call is run with, made once from the environment main.ts
 * read (the composition root builds it, src/app/deps.ts): the child's
 * environment and the time limit. Nothing in src/infra/git reads the
 * process environment itself, so a test hands in exactly what git sees.
 */
import { EnvironmentError } from "../../errors.ts";

/** Environment variable that sets the time limit of every git call, in seconds. */
export const GIT_TIMEOUT_ENV = "RATCHET_GIT_TIMEOUT_SECONDS";
/** Time limit of a git call unless GIT_TIMEOUT_ENV says otherwise. */
export const DEFAULT_GIT_TIMEOUT_MS = 300_000;

/** The settings of every git call. */
export interface GitContext {
  /** The environment git runs with (before ratchet's own variables). */
  readonly env: Readonly<Record<string, string>>;
  /** Kill a git call after this long unless the call says otherwise. */
  readonly timeoutMs: number;
}

// Variables that would point git at another repository, work tree or index
// than the paths a function is given (e.g. when ratchet runs from a hook).
const STRIPPED_ENV: ReadonlySet<string> = new Set([
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
]);

/**
 * The git context of `env`: `env` without the variables that would point
 * git elsewhere (and without unset ones), and the time limit from
 * GIT_TIMEOUT_ENV (EnvironmentError, exit 3, when it is not a positive
 * number of seconds).
 */
export function gitContextFrom(
  env: Readonly<Record<string, string | undefined>>,
): GitContext {
  const child: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v !== undefined && !STRIPPED_ENV.has(k)) child[k] = v;
  }
  return { env: child, timeoutMs: timeoutOf(env[GIT_TIMEOUT_ENV]) };
}

/** The time limit of every git call: `raw` seconds, else the default. */
function timeoutOf(raw: string | undefined): number {
  if (raw === undefined || raw.trim() === "") return DEFAULT_GIT_TIMEOUT_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new EnvironmentError(
      `${GIT_TIMEOUT_ENV}=${JSON.stringify(raw)} is not a number of seconds`,
      { hint: `set it to a positive number, e.g. ${GIT_TIMEOUT_ENV}=600` },
    );
  }
  return Math.round(seconds * 1000);
}
