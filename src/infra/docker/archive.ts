/**
 * Files into and out of containers through the Engine API's archive
 * endpoints (`PUT`, `GET` and `HEAD /containers/{id}/archive`), the way
 * trees, control files, reports and the model's edits travel when the engine
 * does not share ratchet's filesystem (spec section 1).
 *
 * Reads never follow a final symlink and never open anything but a regular
 * file: the engine sends a symlink or a FIFO as a tar header, which is read
 * as "other". Every call is bounded in time (an abort after `timeoutMs`) and
 * reads in size (`maxBytes`), so a trial that leaves a huge file, a FIFO or a
 * symlink where ratchet reads cannot hang or flood the host.
 */
import type Docker from "dockerode";
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { readTar } from "../tar.ts";
import type { Collected, PathStat } from "../runtime.ts";
import { untilAborted } from "./_streams.ts";
import { statusOf } from "./errors.ts";

/** How long one archive call may take before it is abandoned. */
export const ARCHIVE_TIMEOUT_MS = 60_000;

/**
 * A request that answers within `timeoutMs` or is aborted, also when
 * `outer` fires. It rejects as soon as its signal fires, whatever the HTTP
 * client does: an aborted request whose streamed body has not sent its
 * first byte yet is not ended by the client (its headers wait for that
 * byte).
 */
async function bounded<T>(
  timeoutMs: number,
  fn: (signal: AbortSignal) => Promise<T>,
  outer?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () =>
      controller.abort(
        Object.assign(
          new Error(`no answer within ${timeoutMs / 1000} s (Timeout)`),
          { code: "ETIMEDOUT" },
        ),
      ),
    timeoutMs,
  );
  const signal = outer === undefined
    ? controller.signal
    : AbortSignal.any([controller.signal, outer]);
  try {
    return await untilAborted(fn(signal), signal);
  } finally {
    clearTimeout(timer);
  }
}

function dial<T>(
  modem: Docker["modem"],
  options: Record<string, unknown>,
): Promise<T> {
  return new Promise((resolve, reject) => {
    modem.dial(options as never, (error, data) => {
      if (error) reject(error);
      else resolve(data as T);
    });
  });
}

/**
 * An upload body that pulls from `source` and ends at once when `signal`
 * fires. Ending it (rather than failing it) is what reaches the engine
 * through this HTTP client: the engine sees the archive end, fails the
 * extraction and lets go of the container, whose removal waits for that.
 * The source is asked to stop without waiting for it: one stuck in an await
 * (a tree still being read out of git) cannot answer.
 */
function uploadBody(
  source: AsyncIterable<Uint8Array>,
  signal: AbortSignal,
): Readable {
  const iterator = source[Symbol.asyncIterator]();
  let pulling = false;
  let ended = false;
  const body: Readable = new Readable({
    async read() {
      if (pulling || ended) return;
      pulling = true;
      try {
        const next = await iterator.next();
        if (ended) return;
        if (next.done) ended = true;
        body.push(next.done ? null : next.value);
      } catch (error) {
        if (!ended) {
          body.destroy(
            error instanceof Error ? error : new Error(String(error)),
          );
        }
      } finally {
        pulling = false;
      }
    },
  });
  const stop = () => {
    if (ended) return;
    ended = true;
    body.push(null);
    void iterator.return?.(undefined)?.catch(() => {});
  };
  if (signal.aborted) stop();
  else signal.addEventListener("abort", stop, { once: true });
  return body;
}

/** Put a tar (bytes or a stream) into the existing directory `dir`. */
export async function putArchive(
  docker: Docker,
  id: string,
  dir: string,
  tar: Uint8Array | AsyncIterable<Uint8Array>,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<void> {
  await bounded(
    options.timeoutMs ?? ARCHIVE_TIMEOUT_MS,
    (signal) =>
      dial<unknown>(docker.modem, {
        path: `/containers/${id}/archive?`,
        method: "PUT",
        options: { path: dir },
        file: tar instanceof Uint8Array
          ? Buffer.from(tar)
          : uploadBody(tar, signal),
        abortSignal: signal,
        statusCodes: {
          200: true,
          400: "bad parameter",
          403: "permission denied",
          404: "no such container or path",
          500: "server error",
        },
      }),
    options.signal,
  );
}

/** Go's os.FileMode type bits, as the engine reports them. */
const GO_DIR = 1 << 31;
const GO_SYMLINK = 1 << 27;
const GO_SPECIAL = (1 << 26) | (1 << 25) | (1 << 24) | (1 << 21) | (1 << 19);

/** What a Go FileMode says a path is. */
export function kindOfGoMode(mode: number): PathStat["kind"] {
  const m = mode | 0;
  if (m & GO_DIR) return "dir";
  if (m & GO_SYMLINK) return "symlink";
  return m & GO_SPECIAL ? "other" : "file";
}

/** `HEAD /containers/{id}/archive`: what `path` is, without following it; null when missing. */
export async function statPath(
  docker: Docker,
  id: string,
  path: string,
  timeoutMs = ARCHIVE_TIMEOUT_MS,
): Promise<PathStat | null> {
  let headers: Record<string, string | string[] | undefined>;
  try {
    headers = await bounded(timeoutMs, async (signal) => {
      const response = await dial<
        { headers: Record<string, string | string[] | undefined> } & {
          resume?: () => void;
        }
      >(docker.modem, {
        path: `/containers/${id}/archive?`,
        method: "HEAD",
        options: { path },
        isStream: true,
        abortSignal: signal,
        statusCodes: {
          200: true,
          400: "bad parameter",
          404: "no such container or path",
          500: "server error",
        },
      });
      response.resume?.();
      return response.headers;
    });
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw error;
  }
  const raw = headers["x-docker-container-path-stat"];
  const value = Array.isArray(raw) ? raw[0] : raw;
  if (value === undefined) return null;
  const stat = JSON.parse(Buffer.from(value, "base64").toString("utf8")) as {
    size?: number;
    mode?: number;
    linkTarget?: string;
  };
  const mode = stat.mode ?? 0;
  const kind = kindOfGoMode(mode);
  return {
    kind,
    size: stat.size ?? 0,
    mode: mode & 0o777,
    // Podman fills it for every path; only a symlink's means anything.
    linkTarget: kind === "symlink" ? stat.linkTarget ?? "" : "",
  };
}

/**
 * `GET /containers/{id}/archive` of `path` as a stream of tar bytes, ended
 * (and the request dropped) when the consumer stops or `signal` fires; null
 * when the path does not exist.
 */
export async function getArchive(
  docker: Docker,
  id: string,
  path: string,
  signal: AbortSignal,
): Promise<AsyncIterable<Uint8Array> | null> {
  let response: NodeJS.ReadableStream & { destroy?: () => void };
  try {
    response = await dial(docker.modem, {
      path: `/containers/${id}/archive?`,
      method: "GET",
      options: { path },
      isStream: true,
      abortSignal: signal,
      statusCodes: {
        200: true,
        400: "bad parameter",
        404: "no such container or path",
        500: "server error",
      },
    });
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw error;
  }
  return (async function* () {
    try {
      for await (const chunk of response) {
        yield typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      }
    } finally {
      response.destroy?.();
    }
  })();
}

/**
 * Read one path back: a regular file's first `maxBytes` bytes, or what else
 * is there (never followed, never opened), bounded by ARCHIVE_TIMEOUT_MS. The path
 * is stat'ed first: Podman's GET follows a final symlink.
 */
export async function collectPath(
  docker: Docker,
  id: string,
  path: string,
  maxBytes: number,
): Promise<Collected> {
  const timeoutMs = ARCHIVE_TIMEOUT_MS;
  const stat = await statPath(docker, id, path, timeoutMs);
  if (stat === null) return { kind: "missing" };
  if (stat.kind !== "file") return { kind: "other", type: stat.kind };
  return await bounded(timeoutMs, async (timeout) => {
    // Dropped as soon as the first entry is read: an archive left open
    // keeps the engine from removing the container.
    const done = new AbortController();
    const signal = AbortSignal.any([timeout, done.signal]);
    const stream = await getArchive(docker, id, path, signal);
    if (stream === null) return { kind: "missing" } as const;
    try {
      for await (
        const entry of readTar(stream, {
          maxFileBytes: maxBytes,
          over: "truncate",
        })
      ) {
        if (entry.kind !== "file" || entry.data === null) {
          return { kind: "other", type: entry.type } as const;
        }
        return {
          kind: "file",
          bytes: entry.data,
          truncated: entry.overCap,
        } as const;
      }
      return { kind: "missing" } as const;
    } finally {
      done.abort();
    }
  });
}
