/**
 * Streams from the engine: capped stdout/stderr capture, the multiplexed
 * attach/exec stream, waiting with a deadline, and build/pull progress.
 */
import type { ProgressSink } from "../runtime.ts";

/** Lines of build or pull output kept for the error message. */
const LOG_TAIL_LINES = 25;

/** Collects one output stream up to a byte cap; the rest is counted as dropped. */
export class CappedBuffer {
  #chunks: Uint8Array[] = [];
  #kept = 0;
  truncated = false;
  constructor(readonly cap: number) {}

  write(bytes: Uint8Array): void {
    const room = this.cap - this.#kept;
    if (bytes.length > room) this.truncated = true;
    const take = Math.min(room, bytes.length);
    if (take <= 0) return;
    // Copy: socket buffers may be reused by the stream implementation.
    this.#chunks.push(new Uint8Array(bytes.subarray(0, take)));
    this.#kept += take;
  }

  /** The first `maxBytes` kept so far. */
  head(maxBytes: number): Uint8Array {
    const out = new Uint8Array(Math.min(maxBytes, this.#kept));
    let offset = 0;
    for (const chunk of this.#chunks) {
      if (offset >= out.length) break;
      const take = Math.min(chunk.length, out.length - offset);
      out.set(chunk.subarray(0, take), offset);
      offset += take;
    }
    return out;
  }

  bytes(): Uint8Array {
    return this.head(this.#kept);
  }
}

/**
 * Splits Docker's multiplexed attach/exec stream (8-byte frame headers:
 * stream type, 3 zero bytes, big-endian length) into stdout and stderr.
 * Frames and headers may be split across chunks.
 */
export class Demuxer {
  #header = new Uint8Array(8);
  #headerFill = 0;
  #remaining = 0;
  #target: CappedBuffer;
  constructor(readonly stdout: CappedBuffer, readonly stderr: CappedBuffer) {
    this.#target = stdout;
  }

  push(chunk: Uint8Array): void {
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#remaining === 0) {
        const take = Math.min(8 - this.#headerFill, chunk.length - offset);
        this.#header.set(
          chunk.subarray(offset, offset + take),
          this.#headerFill,
        );
        this.#headerFill += take;
        offset += take;
        if (this.#headerFill < 8) return;
        this.#headerFill = 0;
        // 1 = stdout (0 = stdin echo), 2 = stderr, 3 = the engine's own error.
        const type = this.#header[0];
        this.#target = type === 2 || type === 3 ? this.stderr : this.stdout;
        this.#remaining = new DataView(this.#header.buffer).getUint32(4);
        continue;
      }
      const take = Math.min(this.#remaining, chunk.length - offset);
      this.#target.write(chunk.subarray(offset, offset + take));
      this.#remaining -= take;
      offset += take;
    }
  }
}

/** Resolves when `stream` ends, closes or fails, feeding data to `demux`. */
export function pump(
  stream: NodeJS.ReadableStream,
  demux: Demuxer,
): Promise<void> {
  return new Promise((resolve) => {
    stream.on("data", (chunk: Uint8Array) => demux.push(chunk));
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", () => resolve());
  });
}

/** `promise`'s value, or `"timeout"` after `ms`. */
export async function within<T>(
  promise: Promise<T>,
  ms: number,
): Promise<T | "timeout"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<"timeout">((resolve) => {
        timer = setTimeout(() => resolve("timeout"), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Splits a progress stream of JSON messages into text lines. */
export class ProgressLines {
  #pending = "";
  #tail: string[] = [];
  // One decoder for the whole stream: a UTF-8 character may span two chunks.
  #decoder = new TextDecoder();
  error: string | null = null;
  constructor(readonly onLine: ProgressSink | undefined) {}

  push(chunk: Uint8Array | string): void {
    this.#pending += typeof chunk === "string"
      ? chunk
      : this.#decoder.decode(chunk, { stream: true });
    const lines = this.#pending.split("\n");
    this.#pending = lines.pop() ?? "";
    for (const line of lines) this.#message(line);
  }

  end(): void {
    if (this.#pending.trim() !== "") this.#message(this.#pending);
    this.#pending = "";
  }

  get tail(): string[] {
    return this.#tail;
  }

  #message(raw: string): void {
    if (raw.trim() === "") return;
    let message: Record<string, unknown>;
    try {
      const parsed: unknown = JSON.parse(raw);
      if (typeof parsed !== "object" || parsed === null) return;
      message = parsed as Record<string, unknown>;
    } catch {
      this.#emit(raw);
      return;
    }
    if (typeof message.error === "string") {
      this.error = message.error.trim();
      this.#emit(this.error);
    } else if (typeof message.stream === "string") {
      for (const line of message.stream.split(/\r?\n/)) this.#emit(line);
    } else if (typeof message.status === "string") {
      // Pull progress repeats for every chunk; only status changes are useful.
      const detail = message.progressDetail as
        | { current?: number }
        | undefined;
      if (detail?.current !== undefined) return;
      const id = typeof message.id === "string" ? `${message.id}: ` : "";
      this.#emit(`${id}${message.status}`);
    }
  }

  #emit(line: string): void {
    const trimmed = line.trimEnd();
    if (trimmed === "") return;
    this.#tail.push(trimmed);
    if (this.#tail.length > LOG_TAIL_LINES) this.#tail.shift();
    this.onLine?.(trimmed);
  }
}

/** Reads a progress stream to its end; an abort destroys it and rejects. */
export function followProgress(
  stream: NodeJS.ReadableStream,
  lines: ProgressLines,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      (stream as { destroy?: () => void }).destroy?.();
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    stream.on("data", (chunk: Uint8Array | string) => lines.push(chunk));
    stream.on("end", () => {
      signal?.removeEventListener("abort", onAbort);
      lines.end();
      resolve();
    });
    stream.on("error", (error) => {
      signal?.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}

/**
 * `request`, or the abort's reason as soon as `signal` fires: an engine
 * request aborted before its response started (a pull waiting on a silent
 * registry) is not always ended by the abort itself. A stream that arrives
 * after the abort is dropped.
 */
export function untilAborted<T>(
  request: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (signal === undefined) return request;
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    if (signal.aborted) onAbort();
    else signal.addEventListener("abort", onAbort, { once: true });
    request.then((value) => {
      signal.removeEventListener("abort", onAbort);
      if (signal.aborted) {
        (value as { destroy?: () => void } | null)?.destroy?.();
      }
      resolve(value);
    }, (error) => {
      signal.removeEventListener("abort", onAbort);
      reject(error);
    });
  });
}
