/**
 * What the engine's errors mean: a daemon that did not answer at all (a
 * connection error), or one that answered with an HTTP status and a message.
 * Start-time failures are EnvironmentErrors (exit 3), failures while a run
 * goes on UpstreamErrors (exit 4, resumable).
 */
import { EnvironmentError, RatchetError, UpstreamError } from "../../errors.ts";

/** A dockerode error: HTTP errors carry statusCode/json, socket errors a code. */
export interface DockerodeError {
  statusCode?: number;
  json?: unknown;
  code?: string;
  message?: string;
}

const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "ENOENT",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EACCES",
  "ERR_SOCKET_CLOSED",
]);

/** True when the engine did not answer at all (as opposed to answering with an error). */
export function isConnectionError(error: unknown): boolean {
  if (typeof error !== "object" || error === null) return false;
  const e = error as DockerodeError;
  if (typeof e.statusCode === "number") return false;
  if (typeof e.code === "string" && CONNECTION_CODES.has(e.code)) return true;
  return /socket hang up|ECONNREFUSED|ECONNRESET|EPIPE|connect ENOENT|aborted|Timeout/i
    .test(e.message ?? "");
}

export function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as DockerodeError).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The daemon's own message when there is one, else the error's message. */
export function messageOf(error: unknown): string {
  if (typeof error === "object" && error !== null) {
    const json = (error as DockerodeError).json;
    if (typeof json === "object" && json !== null) {
      const message = (json as { message?: unknown }).message;
      if (typeof message === "string") return message.trim();
    }
    const message = (error as DockerodeError).message;
    if (typeof message === "string") return message.trim();
  }
  return String(error);
}

/** A failure during a run: the daemon died or misbehaved (exit 4, resumable). */
export function upstreamError(
  url: string,
  action: string,
  error: unknown,
): RatchetError {
  if (error instanceof RatchetError) return error;
  const why = isConnectionError(error)
    ? `Docker stopped answering at ${url}`
    : "Docker failed";
  return new UpstreamError(`${why} while ${action}: ${messageOf(error)}`, {
    hint: "Make sure Docker is running, then `ratchet resume`.",
    cause: error,
  });
}

/** A failure of a start-time operation (images): exit 3 with the endpoint's hint. */
export function startError(
  url: string,
  hint: string,
  action: string,
  error: unknown,
): RatchetError {
  if (error instanceof RatchetError) return error;
  return new EnvironmentError(
    `Docker failed while ${action} (${url}): ${messageOf(error)}`,
    { hint, cause: error },
  );
}
