/**
 * Tar streams, written and read, over the `tar-stream` library: how trees,
 * control files and working copies travel to and from an engine (the Engine
 * API's archive endpoints and layer builds speak tar).
 */
import tar from "tar-stream";
import { Buffer } from "node:buffer";

/** One entry to write. Contents are bytes, or a stream of exactly `size` bytes. */
export interface TarItem {
  path: string;
  kind: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch; 0 by default (layers stay reproducible). */
  mtime?: number;
  /** File contents as bytes. */
  data?: Uint8Array;
  /** File contents as a stream of exactly `size` bytes. */
  stream?: { size: number; chunks: () => AsyncIterable<Uint8Array> };
  linkTarget?: string;
}

/** One entry read from an archive. */
export interface TarRead {
  /** The name as stored, without a trailing "/". */
  path: string;
  kind: "file" | "dir" | "symlink" | "other";
  /** tar-stream's type name (file, directory, symlink, fifo, …). */
  type: string;
  mode: number;
  size: number;
  linkTarget: string;
  /**
   * File contents; null for other kinds, and for files over the cap read
   * with `over: "skip"`.
   */
  data: Uint8Array | null;
  /** The file was larger than the cap. */
  overCap: boolean;
}

/** Write `items` as a tar stream, with backpressure. */
export async function* packTar(
  items: AsyncIterable<TarItem> | Iterable<TarItem>,
): AsyncGenerator<Uint8Array> {
  const pack = tar.pack();
  let failure: unknown = null;
  const writing = (async () => {
    for await (const item of items) {
      const header = {
        name: item.kind === "dir" ? `${item.path}/` : item.path,
        mode: item.mode,
        uid: item.uid,
        gid: item.gid,
        mtime: new Date((item.mtime ?? 0) * 1000),
        type: item.kind === "dir"
          ? "directory" as const
          : item.kind === "symlink"
          ? "symlink" as const
          : "file" as const,
        ...(item.kind === "symlink" ? { linkname: item.linkTarget ?? "" } : {}),
      };
      if (item.kind !== "file") {
        pack.entry(header);
        continue;
      }
      if (item.stream === undefined) {
        pack.entry(
          { ...header, size: item.data?.length ?? 0 },
          Buffer.from(item.data ?? new Uint8Array()),
        );
        continue;
      }
      const size = item.stream.size;
      await new Promise<void>((resolve, reject) => {
        const entry = pack.entry({ ...header, size }, (error) => {
          if (error) reject(error);
          else resolve();
        });
        (async () => {
          let written = 0;
          for await (const chunk of item.stream!.chunks()) {
            const take = chunk.subarray(0, Math.max(0, size - written));
            written += take.length;
            if (!entry.write(Buffer.from(take))) {
              await new Promise<void>((r) => entry.once("drain", () => r()));
            }
          }
          // A source that came up short is padded: the archive stays valid.
          if (written < size) entry.write(Buffer.alloc(size - written));
          entry.end(undefined);
        })().catch(reject);
      });
    }
    pack.finalize();
  })().catch((error) => {
    failure = error;
    pack.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  try {
    for await (const chunk of pack) yield chunk as Uint8Array;
  } catch (error) {
    throw failure ?? error;
  }
  await writing;
  if (failure !== null) throw failure;
}

/** All of `items` as one tar in memory (small archives: control files, edits). */
export async function packTarBytes(
  items: Iterable<TarItem>,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of packTar(items)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function kindOf(type: string | null | undefined): TarRead["kind"] {
  if (type === "file" || type === "contiguous-file") return "file";
  if (type === "directory") return "dir";
  if (type === "symlink") return "symlink";
  return "other";
}

/**
 * Read a tar stream entry by entry. Files up to `maxFileBytes` come with
 * their contents; of a larger one only the start is kept (`over:
 * "truncate"`) or nothing (`over: "skip"`), and `overCap` says so.
 */
export async function* readTar(
  source: AsyncIterable<Uint8Array>,
  options: { maxFileBytes: number; over: "truncate" | "skip" },
): AsyncGenerator<TarRead> {
  const extract = tar.extract();
  let stopped = false;
  const feeding = (async () => {
    for await (const chunk of source) {
      if (stopped || extract.destroyed) break;
      if (!extract.write(Buffer.from(chunk)) && !extract.destroyed) {
        // Woken by "close" too: a reader that stopped early destroys the
        // extractor, and the source must then be let go (its `return()`
        // ends the request behind it).
        await new Promise<void>((r) => {
          extract.once("drain", () => r());
          extract.once("close", () => r());
        });
      }
    }
    if (!stopped) extract.end(undefined);
  })().catch((error) => {
    extract.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  try {
    for await (const entry of extract) {
      const h = entry.header;
      const kind = kindOf(h.type);
      const size = h.size ?? 0;
      let data: Uint8Array | null = null;
      const overCap = kind === "file" && size > options.maxFileBytes;
      if (kind === "file" && (!overCap || options.over === "truncate")) {
        const parts: Uint8Array[] = [];
        let kept = 0;
        for await (const part of entry) {
          const bytes = part as Uint8Array;
          const take = Math.min(bytes.length, options.maxFileBytes - kept);
          if (take > 0) parts.push(bytes.subarray(0, take));
          kept += take;
          if (kept >= options.maxFileBytes && overCap) break;
        }
        data = Buffer.concat(parts);
        if (overCap) {
          // The rest of a file over the cap is never read: the archive ends
          // here for the caller, who drops the stream (a sparse 1 TB file
          // would otherwise take hours).
          yield {
            path: h.name.replace(/\/+$/, ""),
            kind,
            type: h.type ?? "unknown",
            mode: (h.mode ?? 0) & 0o7777,
            size,
            linkTarget: h.linkname ?? "",
            data,
            overCap,
          };
          return;
        }
      } else {
        entry.resume();
      }
      yield {
        path: h.name.replace(/\/+$/, ""),
        kind,
        type: h.type ?? "unknown",
        mode: (h.mode ?? 0) & 0o7777,
        size,
        linkTarget: h.linkname ?? "",
        data,
        overCap,
      };
    }
  } finally {
    stopped = true;
    extract.destroy();
    await feeding;
  }
}
