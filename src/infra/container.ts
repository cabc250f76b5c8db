/**
 * The Docker implementation of `ContainerRuntime` (the only dockerode import).
 *
 * Every container is created hardened the same way (spec section 5): all
 * capabilities dropped, `no-new-privileges`, the run's limits, no swap, an init
 * process as PID 1 (so orphans are reaped and one SIGKILL ends everything),
 * `HostConfig.Mounts` (a missing bind source fails instead of being created),
 * only the given environment, and the image's ENTRYPOINT cleared so `cmd` runs
 * exactly as given. Containers are never auto-removed: ratchet removes them
 * itself after reading their state (OOM-kill is only visible before removal),
 * in the background after a normal end but always before the next container
 * starts. Containers given `sharedNetns` join a holder's loopback-only network
 * namespace (`netns_pool.ts`).
 *
 * Errors: a daemon that does not answer is an EnvironmentError from `info()`
 * and the image operations (they run at start), and an UpstreamError from
 * everything a running loop does (exit 4, resumable). A container the engine
 * refuses to create or start (missing image, missing mount source, bad limits)
 * is an EnvironmentError naming the cause.
 */
import Docker from "dockerode";
import { Agent as HttpsAgent } from "node:https";
import { Readable } from "node:stream";
import { join } from "node:path";
import picomatch from "picomatch";
import { EnvironmentError, RatchetError, UpstreamError } from "../errors.ts";
import { parseGpus } from "../config/gpus.ts";
import type { EngineEndpoint } from "./engine.ts";
import { type NetnsGroup, NetnsPool } from "./netns_pool.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  ExecResult,
  Mount,
  ProgressSink,
  RunOptions,
  RunResult,
  Sandbox,
} from "./runtime.ts";

/** Output cap of a sandbox command when the caller gives none (spec: 10 MiB). */
export const DEFAULT_EXEC_OUTPUT_CAP = 10 * 1024 * 1024;

/** How long `info()` waits for an answer before calling the engine unreachable. */
const INFO_TIMEOUT_MS = 15_000;
/** After a container stops, how long its output may take to drain. */
const DRAIN_TIMEOUT_MS = 5_000;
/**
 * A sandbox command runs under `timeout -s KILL`; the host stops waiting this
 * long after the timeout in case the image has no `timeout` or a background
 * process keeps the output open.
 */
const EXEC_GRACE_MS = 3_000;
/**
 * How long a network-namespace holder sleeps. It is removed when its group
 * ends; the lifetime only bounds one left behind by a killed ratchet (a group
 * that outlives it gets a new holder).
 */
const HOLDER_LIFETIME_S = 3600;
/** Lines of build or pull output kept for the error message. */
const LOG_TAIL_LINES = 25;
/** Name under which the Dockerfile text travels in a build context with files. */
const CONTEXT_DOCKERFILE = ".ratchet.Dockerfile";

/** A dockerode error: HTTP errors carry statusCode/json, socket errors a code. */
interface DockerodeError {
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

function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const status = (error as DockerodeError).statusCode;
  return typeof status === "number" ? status : undefined;
}

/** The daemon's own message when there is one, else the error's message. */
function messageOf(error: unknown): string {
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

/**
 * Translate a Docker `--gpus` value into the device requests the CLI would
 * send. The parsing is `parseGpus` (src/config/gpus.ts), which also
 * validates the option before anything starts.
 */
export function gpuDeviceRequests(spec: string): Docker.DeviceRequest[] {
  return [parseGpus(spec)];
}

/** The `HostConfig.Mounts` entry for one mount. */
function mountSettings(mount: Mount): Docker.MountSettings {
  switch (mount.type) {
    case "bind":
      return {
        Type: "bind",
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
    case "volume":
      return {
        Type: "volume",
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
    case "tmpfs":
      return {
        Type: "tmpfs",
        Source: "",
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
  }
}

/** The create request for `spec`: the one place container hardening lives. */
export function createOptions(
  spec: ContainerSpec,
  networkMode: string = spec.network,
): Docker.ContainerCreateOptions {
  const { limits } = spec;
  const hostConfig: Docker.HostConfig = {
    CapDrop: ["ALL"],
    SecurityOpt: ["no-new-privileges"],
    NanoCpus: Math.round(limits.cpus * 1e9),
    PidsLimit: limits.pidsLimit,
    ShmSize: limits.shmSizeBytes,
    NetworkMode: networkMode,
    Mounts: spec.mounts.map(mountSettings),
    Init: true,
    // ratchet reads output only through its own attach (capped at
    // outputCapBytes); the engine's default json-file log has no size cap, so
    // a command flooding stdout would otherwise fill the engine's disk.
    LogConfig: { Type: "none", Config: {} },
  };
  if (limits.memoryBytes !== null) {
    hostConfig.Memory = limits.memoryBytes;
    // Equal to Memory: no swap, so an over-limit trial is OOM-killed instead
    // of slowing down (which would bias timings).
    hostConfig.MemorySwap = limits.memoryBytes;
  }
  if (limits.gpus !== null) {
    hostConfig.DeviceRequests = gpuDeviceRequests(limits.gpus);
  }
  return {
    Image: spec.image,
    Cmd: spec.cmd,
    // Cleared so the exec-form cmd runs as given, whatever ENTRYPOINT the
    // image declares (a non-nil empty list resets it in the engine).
    Entrypoint: [],
    WorkingDir: spec.workingDir,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    User: spec.user,
    Labels: spec.labels,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    HostConfig: hostConfig,
  };
}

/** Collects one output stream up to a byte cap; the rest is counted as dropped. */
class CappedBuffer {
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

  bytes(): Uint8Array {
    const out = new Uint8Array(this.#kept);
    let offset = 0;
    for (const chunk of this.#chunks) {
      out.set(chunk, offset);
      offset += chunk.length;
    }
    return out;
  }
}

/**
 * Splits Docker's multiplexed attach/exec stream (8-byte frame headers:
 * stream type, 3 zero bytes, big-endian length) into stdout and stderr.
 * Frames and headers may be split across chunks.
 */
class Demuxer {
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
function pump(stream: NodeJS.ReadableStream, demux: Demuxer): Promise<void> {
  return new Promise((resolve) => {
    stream.on("data", (chunk: Uint8Array) => demux.push(chunk));
    stream.on("end", () => resolve());
    stream.on("close", () => resolve());
    stream.on("error", () => resolve());
  });
}

/** `promise`'s value, or `"timeout"` after `ms`. */
async function within<T>(
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
class ProgressLines {
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

/** Reads a progress stream to its end. */
function followProgress(
  stream: NodeJS.ReadableStream,
  lines: ProgressLines,
  signal?: AbortSignal,
): Promise<void> {
  return new Promise((resolve, reject) => {
    // An abort once the engine has started answering may not end the
    // response stream: stop reading and drop it at once.
    const onAbort = () => {
      (stream as { destroy?: () => void }).destroy?.();
      reject(signal!.reason);
    };
    if (signal?.aborted) return onAbort();
    signal?.addEventListener("abort", onAbort, { once: true });
    const done = () => signal?.removeEventListener("abort", onAbort);
    stream.on("data", (chunk: Uint8Array | string) => lines.push(chunk));
    stream.on("end", () => {
      done();
      lines.end();
      resolve();
    });
    stream.on("error", (error) => {
      done();
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
function untilAborted<T>(
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

/** The network holder a container was to join had stopped or was removed. */
class HolderGone extends Error {}

/** Docker's `ContainerRuntime`, talking to one engine endpoint. */
export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: EngineEndpoint;
  readonly #docker: Docker;
  readonly #netns = new NetnsPool((id) =>
    this.#removeQuietly(this.#docker.getContainer(id))
  );
  /** Removals of finished containers still under way (see `#runContainer`). */
  readonly #removals = new Set<Promise<void>>();

  /**
   * Connect lazily to `endpoint` (nothing is sent until the first call).
   * TLS files are read here; a missing one is an EnvironmentError.
   */
  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    this.#docker = new Docker(dockerOptions(endpoint));
  }

  /** Engine facts; EnvironmentError (exit 3) with a hint when nothing answers. */
  async info(): Promise<EngineInfo> {
    let info: { ServerVersion?: string; SecurityOptions?: string[] };
    try {
      // A tcp endpoint that drops packets would otherwise hang forever.
      const answer = await within(this.#docker.info(), INFO_TIMEOUT_MS);
      if (answer === "timeout") {
        throw new Error(`no answer within ${INFO_TIMEOUT_MS / 1000} s`);
      }
      info = answer;
    } catch (error) {
      throw new EnvironmentError(
        `Docker is not reachable at ${this.endpoint.url} (${this.endpoint.source}): ${
          messageOf(error)
        }`,
        {
          hint: (error as DockerodeError | null)?.code === "EACCES"
            ? `You may not use ${this.endpoint.url}: add your user to the docker group (then log in again), or use rootless Docker.`
            : this.endpoint.hint,
          cause: error,
        },
      );
    }
    // Rootless Docker and rootless Podman both report "name=rootless".
    const rootless = (info.SecurityOptions ?? []).some((option) =>
      option.split(",").includes("name=rootless")
    );
    return {
      rootless,
      serverVersion: info.ServerVersion ?? "unknown",
      endpoint: `${this.endpoint.url} (${this.endpoint.source})`,
    };
  }

  /** Whether `name` exists locally. */
  async hasImage(name: string): Promise<boolean> {
    try {
      await this.#docker.getImage(name).inspect();
      return true;
    } catch (error) {
      if (statusOf(error) === 404) return false;
      throw this.#startError(`checking for image ${name}`, error);
    }
  }

  /** Pull `name`; EnvironmentError naming it when the registry refuses or is unreachable. */
  async pullImage(
    name: string,
    onProgress?: ProgressSink,
    options: { signal?: AbortSignal } = {},
  ): Promise<void> {
    options.signal?.throwIfAborted();
    const lines = new ProgressLines(onProgress);
    const fail = (why: string, cause?: unknown) =>
      new EnvironmentError(`Image "${name}" could not be pulled: ${why}`, {
        hint:
          `Build it (\`docker build -t ${name} .\`) or pull it (\`docker pull ${name}\`) first, or leave out --image to use ratchet's default image.`,
        cause,
      });
    let stream: NodeJS.ReadableStream;
    try {
      stream = await untilAborted(
        this.#docker.pull(
          name,
          options.signal ? { abortSignal: options.signal } : {},
        ),
        options.signal,
      );
    } catch (error) {
      if (isConnectionError(error)) {
        throw this.#startError(`pulling ${name}`, error);
      }
      throw fail(messageOf(error), error);
    }
    try {
      await followProgress(stream, lines, options.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw fail(messageOf(error), error);
    }
    if (lines.error !== null) throw fail(lines.error);
  }

  /**
   * Build `dockerfile` tagged `tag`. With `contextDir` the directory is the
   * build context (minus `.ratchet/` and what `.dockerignore` excludes) and the
   * Dockerfile text travels beside it under a name the context excludes;
   * without one the context is the Dockerfile alone. A failed build is an
   * EnvironmentError carrying the last lines of the log.
   */
  async buildImage(options: {
    dockerfile: string;
    contextDir: string | null;
    tag: string;
    labels?: Record<string, string>;
    onProgress?: ProgressSink;
    signal?: AbortSignal;
  }): Promise<void> {
    options.signal?.throwIfAborted();
    const lines = new ProgressLines(options.onProgress);
    const dockerfileName = options.contextDir === null
      ? "Dockerfile"
      : CONTEXT_DOCKERFILE;
    const context = Readable.from(
      buildContext(options.contextDir, dockerfileName, options.dockerfile),
    );
    const fail = (why: string, cause?: unknown) =>
      new EnvironmentError(
        `Building image ${options.tag} failed: ${why}` +
          (lines.tail.length > 0
            ? `\nLast lines of the build log:\n${lines.tail.join("\n")}`
            : ""),
        {
          hint:
            "Fix the Dockerfile (or pass --image NAME of an image you built yourself).",
          cause,
        },
      );
    let stream: NodeJS.ReadableStream;
    try {
      stream = await untilAborted(
        this.#docker.buildImage(context, {
          t: options.tag,
          dockerfile: dockerfileName,
          labels: options.labels ?? {},
          rm: true,
          forcerm: true,
          // Cutting the request off makes the engine cancel the build.
          ...(options.signal ? { abortSignal: options.signal } : {}),
        }),
        options.signal,
      );
    } catch (error) {
      context.destroy();
      if (isConnectionError(error)) {
        throw this.#startError(`building ${options.tag}`, error);
      }
      throw fail(messageOf(error), error);
    }
    try {
      await followProgress(stream, lines, options.signal);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw fail(messageOf(error), error);
    }
    if (lines.error !== null) throw fail(lines.error);
    if (!(await this.hasImage(options.tag))) {
      throw fail("the engine reported no error but the image does not exist");
    }
  }

  /**
   * Run `spec` to completion, capture its output, and remove the container.
   * With `sharedNetns` (network "none" only) it joins its group's holder; a
   * holder found dead is replaced once, then the container gets a namespace
   * of its own.
   */
  async run(spec: ContainerSpec, options: RunOptions): Promise<RunResult> {
    const group = spec.network === "none" ? options.sharedNetns : undefined;
    if (group === undefined) return this.#runContainer(spec, options, null);
    for (let attempt = 1;; attempt++) {
      options.signal?.throwIfAborted();
      const lease = await this.#netns.acquire(
        group,
        () => this.#startHolder(spec, group),
      );
      if (lease === null) return this.#runContainer(spec, options, null);
      try {
        return await this.#runContainer(
          spec,
          options,
          null,
          `container:${lease.id}`,
        );
      } catch (error) {
        if (error instanceof HolderGone) {
          lease.gone();
          if (attempt >= 2) {
            return await this.#runContainer(spec, options, null);
          }
          continue;
        }
        // An engine that cannot join namespaces refuses the create or the
        // start: run unshared. A fault of the container itself (a missing
        // mount source) fails the same way again, and that error is thrown.
        if (!(error instanceof EnvironmentError)) throw error;
        lease.refused();
        options.signal?.throwIfAborted();
        return await this.#runContainer(spec, options, null);
      } finally {
        await lease.release();
      }
    }
  }

  /**
   * Run `spec`, and when it exits 0 (not timed out) commit the stopped
   * container as `tag`, carrying the container's labels; then remove it. A
   * failed command commits nothing, so a leftover tag always means success.
   */
  runAndCommit(
    spec: ContainerSpec,
    tag: string,
    options: RunOptions,
  ): Promise<RunResult> {
    return this.#runContainer(spec, options, tag);
  }

  /** Create and start a long-lived container running `spec.cmd`. */
  async startSandbox(spec: ContainerSpec): Promise<Sandbox> {
    const container = await this.#create(spec);
    try {
      await container.start();
    } catch (error) {
      await this.#removeQuietly(container);
      throw this.#startFailure(spec, error);
    }
    const sandbox = new DockerSandbox(container, this.endpoint.url);
    await sandbox.freeze();
    return sandbox;
  }

  /** Remove every container carrying all `labels`, running or not. */
  async removeContainers(labels: Record<string, string>): Promise<number> {
    await this.settled();
    let removed = 0;
    try {
      const list = await this.#docker.listContainers({
        all: true,
        filters: JSON.stringify({ label: labelFilters(labels) }),
      });
      for (const info of list) {
        try {
          await this.#docker.getContainer(info.Id).remove({
            force: true,
            v: true,
          });
          this.#netns.forget([info.Id]);
          removed++;
        } catch (error) {
          // Already gone (removed concurrently) is what we wanted.
          if (statusOf(error) !== 404) throw error;
        }
      }
    } catch (error) {
      throw this.#upstream("removing containers", error);
    }
    return removed;
  }

  /** Create a named volume (a no-op when it exists). */
  async createVolume(
    name: string,
    labels: Record<string, string>,
  ): Promise<void> {
    try {
      await this.#docker.createVolume({ Name: name, Labels: labels });
    } catch (error) {
      throw this.#upstream(`creating volume ${name}`, error);
    }
  }

  /** Remove every volume carrying all `labels`; returns how many. */
  async removeVolumes(labels: Record<string, string>): Promise<number> {
    // A container still being removed holds its volumes.
    await this.settled();
    let removed = 0;
    try {
      const list = await this.#docker.listVolumes({
        filters: JSON.stringify({ label: labelFilters(labels) }),
      });
      for (const volume of list.Volumes ?? []) {
        try {
          await this.#docker.getVolume(volume.Name).remove();
          removed++;
        } catch (error) {
          if (statusOf(error) !== 404) throw error;
        }
      }
    } catch (error) {
      throw this.#upstream("removing volumes", error);
    }
    return removed;
  }

  /** Remove image `name`; an image that is already gone is fine. */
  async removeImage(name: string): Promise<void> {
    await this.settled();
    try {
      await this.#docker.getImage(name).remove();
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw this.#upstream(`removing image ${name}`, error);
    }
  }

  async #runContainer(
    spec: ContainerSpec,
    options: RunOptions,
    commitTag: string | null,
    networkMode?: string,
  ): Promise<RunResult> {
    const { signal } = options;
    signal?.throwIfAborted();
    const container = await this.#create(spec, networkMode);
    const stdout = new CappedBuffer(options.outputCapBytes);
    const stderr = new CappedBuffer(options.outputCapBytes);
    let stream: NodeJS.ReadableStream | undefined;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let killing: Promise<void> | undefined;
    let timedOut = false;
    let removeLater = false;
    const kill = () =>
      container.kill({ signal: "SIGKILL" }).then(() => true, () => false);
    const onAbort = () => void kill();
    try {
      try {
        // Attached before start so not a byte of early output is missed.
        stream = await container.attach({
          stream: true,
          stdout: true,
          stderr: true,
          hijack: true,
        });
      } catch (error) {
        throw this.#upstream("attaching to a container", error);
      }
      const drained = pump(stream, new Demuxer(stdout, stderr));
      // The previous container's removal overlapped this one's creation; it
      // must not overlap the command (its disk work would be measured).
      await this.settled();
      try {
        await container.start();
      } catch (error) {
        if (
          networkMode !== undefined && !isConnectionError(error) &&
          /non running container|no such container/i.test(messageOf(error))
        ) {
          throw new HolderGone();
        }
        throw this.#startFailure(spec, error);
      }
      signal?.addEventListener("abort", onAbort, { once: true });
      // An abort that landed before the listener: kill now.
      if (signal?.aborted) await kill();
      if (options.timeoutMs !== null) {
        timer = setTimeout(() => {
          timedOut = true;
          // A kill refused because the container already stopped means it
          // finished in time.
          killing = kill().then((killed) => {
            if (!killed) timedOut = false;
          });
        }, options.timeoutMs);
      }
      let statusCode: number | null;
      try {
        statusCode = await this.#wait(container.id);
      } catch (error) {
        throw this.#upstream("waiting for a container", error);
      }
      clearTimeout(timer);
      await killing;
      signal?.throwIfAborted();
      await within(drained, DRAIN_TIMEOUT_MS);
      let oomKilled = false;
      try {
        const inspected = await container.inspect();
        oomKilled = inspected.State.OOMKilled === true;
      } catch (error) {
        throw this.#upstream("inspecting a container", error);
      }
      const exitCode = timedOut ? null : statusCode;
      if (commitTag !== null && exitCode === 0) {
        await this.#commit(container, commitTag, spec.labels);
      }
      removeLater = true;
      return {
        containerId: container.id,
        exitCode,
        stdout: stdout.bytes(),
        stderr: stderr.bytes(),
        stdoutTruncated: stdout.truncated,
        stderrTruncated: stderr.truncated,
        timedOut,
        oomKilled,
      };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      (stream as { destroy?: () => void } | undefined)?.destroy?.();
      if (removeLater) {
        const removal: Promise<void> = this.#removeQuietly(container).finally(
          () => this.#removals.delete(removal),
        );
        this.#removals.add(removal);
      } else {
        // A failure or an abort (Ctrl-C): the process may be about to end.
        await this.#removeQuietly(container);
      }
    }
  }

  /**
   * Resolves when every finished container is removed. A container that ran
   * to completion is removed in the background, overlapping the next
   * container's creation (about 10 ms a trial); the next start and
   * `removeContainers` wait for it.
   */
  async settled(): Promise<void> {
    while (this.#removals.size > 0) await Promise.all(this.#removals);
  }

  /**
   * Start the sleeping container that owns `group`'s network namespace: from
   * the trial image (any image has a `sleep`; one without runs unshared), as
   * the trial's user, as hardened as a trial, labelled like the group's
   * containers so cleanup by run finds it. Null when the engine or image
   * refuses it; an engine that stops answering is an UpstreamError.
   */
  async #startHolder(
    spec: ContainerSpec,
    group: NetnsGroup,
  ): Promise<string | null> {
    // Not a trial: without iter/trial labels, lookups of a run's trial
    // containers do not find it.
    const labels: Record<string, string> = Object.fromEntries(
      Object.entries(spec.labels).filter(([k]) =>
        k !== "ratchet.iter" && k !== "ratchet.trial"
      ),
    );
    labels["ratchet.netns"] = group.key;
    const options = createOptions({
      ...spec,
      cmd: ["sleep", String(HOLDER_LIFETIME_S)],
      workingDir: "/",
      env: {},
      mounts: [],
      network: "none",
      labels,
      limits: {
        ...spec.limits,
        memoryBytes: spec.limits.memoryBytes === null ? null : 16 * 1024 ** 2,
        pidsLimit: 4,
        gpus: null,
      },
    });
    // No init: an image without `sleep` then fails the start at once, which
    // is remembered, instead of leaving a stopped holder for every container
    // to discover.
    options.HostConfig = { ...options.HostConfig, Init: false };
    let container: Docker.Container;
    try {
      container = await this.#docker.createContainer(options);
    } catch (error) {
      if (isConnectionError(error)) {
        throw this.#upstream("creating a network holder", error);
      }
      return null;
    }
    try {
      await container.start();
    } catch (error) {
      await this.#removeQuietly(container);
      if (isConnectionError(error)) {
        throw this.#upstream("starting a network holder", error);
      }
      return null;
    }
    return container.id;
  }

  /**
   * `POST /containers/{id}/wait`, done here rather than with dockerode's
   * `wait()`: the engine sends the headers at once and the body when the
   * container stops, and dockerode ignores a connection that breaks in
   * between — a daemon dying mid-trial would hang the run forever.
   */
  #wait(id: string): Promise<number | null> {
    return new Promise((resolve, reject) => {
      this.#docker.modem.dial({
        path: `/containers/${id}/wait?`,
        method: "POST",
        options: { condition: "not-running" },
        isStream: true,
        statusCodes: {
          200: true,
          404: "no such container",
          500: "server error",
        },
      }, (error, response) => {
        if (error) return reject(error);
        const stream = response as NodeJS.ReadableStream;
        let body = "";
        let settled = false;
        const lost = () => {
          if (settled) return;
          settled = true;
          reject(
            Object.assign(
              new Error("socket hang up (the engine closed the connection)"),
              { code: "ECONNRESET" },
            ),
          );
        };
        stream.on("data", (chunk: Uint8Array | string) => {
          body += typeof chunk === "string"
            ? chunk
            : new TextDecoder().decode(chunk);
        });
        stream.on("end", () => {
          if (settled) return;
          let parsed: { StatusCode?: unknown } | undefined;
          try {
            parsed = JSON.parse(body);
          } catch {
            return lost();
          }
          settled = true;
          resolve(
            typeof parsed?.StatusCode === "number" ? parsed.StatusCode : null,
          );
        });
        stream.on("error", lost);
        stream.on("aborted", lost);
        stream.on("close", lost);
      });
    });
  }

  async #commit(
    container: Docker.Container,
    tag: string,
    labels: Record<string, string>,
  ): Promise<void> {
    const colon = tag.lastIndexOf(":");
    const hasTag = colon > tag.lastIndexOf("/");
    try {
      await container.commit({
        repo: hasTag ? tag.slice(0, colon) : tag,
        tag: hasTag ? tag.slice(colon + 1) : "latest",
        pause: false,
        // Labels make the image findable for cleanup by run.
        changes: Object.entries(labels).map(([k, v]) =>
          `LABEL ${JSON.stringify(k)}=${JSON.stringify(v)}`
        ),
      });
    } catch (error) {
      throw this.#upstream(`committing image ${tag}`, error);
    }
  }

  async #create(
    spec: ContainerSpec,
    networkMode?: string,
  ): Promise<Docker.Container> {
    try {
      return await this.#docker.createContainer(
        createOptions(spec, networkMode),
      );
    } catch (error) {
      if (isConnectionError(error)) {
        throw this.#upstream("creating a container", error);
      }
      const message = messageOf(error);
      const missingMount = /bind source path does not exist: (.*)$/m.exec(
        message,
      );
      if (missingMount) {
        throw new EnvironmentError(
          `Mount source does not exist: ${missingMount[1]}`,
          {
            hint:
              "Create it or fix the --mount option; ratchet never creates mount sources.",
            cause: error,
          },
        );
      }
      if (statusOf(error) === 404) {
        throw new EnvironmentError(
          `Image "${spec.image}" is not available: ${message}`,
          {
            hint:
              `Build or pull it (\`docker pull ${spec.image}\`), or leave out --image to use ratchet's default image.`,
            cause: error,
          },
        );
      }
      throw new EnvironmentError(
        `Docker refused to create a container from ${spec.image}: ${message}`,
        {
          hint:
            "Check --cpus, --memory, --pids-limit, --shm-size, --gpus and --mount against what this engine supports.",
          cause: error,
        },
      );
    }
  }

  #startFailure(spec: ContainerSpec, error: unknown): RatchetError {
    if (isConnectionError(error)) {
      return this.#upstream("starting a container", error);
    }
    return new EnvironmentError(
      `Docker could not start a container from ${spec.image}: ${
        messageOf(error)
      }`,
      {
        hint: spec.cmd[0] === undefined
          ? "Check the image."
          : `Check that the image provides ${
            spec.cmd[0]
          }, and that --gpus matches this machine.`,
        cause: error,
      },
    );
  }

  /** A failure during a run: the daemon died or misbehaved (exit 4, resumable). */
  #upstream(action: string, error: unknown): RatchetError {
    if (error instanceof RatchetError) return error;
    const why = isConnectionError(error)
      ? `Docker stopped answering at ${this.endpoint.url}`
      : "Docker failed";
    return new UpstreamError(`${why} while ${action}: ${messageOf(error)}`, {
      hint: "Make sure Docker is running, then `ratchet resume`.",
      cause: error,
    });
  }

  /** A failure of a start-time operation (images): exit 3 with the endpoint's hint. */
  #startError(action: string, error: unknown): RatchetError {
    if (error instanceof RatchetError) return error;
    return new EnvironmentError(
      `Docker failed while ${action} (${this.endpoint.url}): ${
        messageOf(error)
      }`,
      { hint: this.endpoint.hint, cause: error },
    );
  }

  async #removeQuietly(container: Docker.Container): Promise<void> {
    try {
      // v: anonymous volumes (an image's VOLUME) would otherwise pile up, one
      // per trial; named volumes (--cache) are never removed by this.
      await container.remove({ force: true, v: true });
    } catch {
      // Already gone, or the daemon died: the caller's own error (if any)
      // says more, and `removeContainers` by label cleans up later.
    }
  }
}

/**
 * A running container in which commands are exec'd.
 *
 * Between commands the container is frozen (`docker pause`): a process the
 * model left running in the background cannot change the worktree while the
 * host's editor tool walks and opens a path in it (it could otherwise swap a
 * directory for a symlink between the walk and the open, and make the host
 * read or write a file outside the tree). It thaws for each command. An
 * engine that cannot pause (rootless on cgroup v1) runs the sandbox unfrozen.
 */
class DockerSandbox implements Sandbox {
  readonly id: string;
  readonly #container: Docker.Container;
  readonly #url: string;
  #shell: Promise<string> | undefined;
  #closing: Promise<void> | undefined;
  #frozen = false;
  #canFreeze = true;

  constructor(container: Docker.Container, url: string) {
    this.#container = container;
    this.id = container.id;
    this.#url = url;
  }

  /**
   * Run `command` under bash (or sh), killed with its process group by
   * `timeout -s KILL` (GNU timeout kills its whole group; busybox's kills
   * the command) when the image has `timeout`; the host stops waiting
   * EXEC_GRACE_MS later in any case.
   */
  async exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult> {
    if (this.#closing !== undefined) {
      throw new Error(`sandbox ${this.id.slice(0, 12)} is closed`);
    }
    await this.#thaw();
    try {
      return await this.#exec(command, options);
    } finally {
      if (this.#closing === undefined) await this.freeze();
    }
  }

  /** Freeze every process of the sandbox until the next command. */
  async freeze(): Promise<void> {
    if (!this.#canFreeze || this.#frozen) return;
    try {
      await this.#container.pause();
      this.#frozen = true;
    } catch (error) {
      if (isConnectionError(error)) throw this.#upstream(error);
      // 409: not running (nothing to freeze); else the engine cannot pause.
      if (statusOf(error) !== 409) this.#canFreeze = false;
    }
  }

  async #thaw(): Promise<void> {
    if (!this.#frozen) return;
    try {
      await this.#container.unpause();
    } catch (error) {
      if (isConnectionError(error)) throw this.#upstream(error);
      // Not paused any more or not running: the exec reports what it finds.
    }
    this.#frozen = false;
  }

  async #exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult> {
    const cap = options.outputCapBytes ?? DEFAULT_EXEC_OUTPUT_CAP;
    const shell = await (this.#shell ??= this.#detectShell());
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    // The command travels as $1, never spliced into the script.
    const script =
      `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${seconds} ${shell} -c "$1"; else exec ${shell} -c "$1"; fi`;
    const stdout = new CappedBuffer(cap);
    const stderr = new CappedBuffer(cap);
    const started = performance.now();
    const outcome = await this.#run(
      [shell, "-c", script, shell, command],
      stdout,
      stderr,
      options.timeoutMs + EXEC_GRACE_MS,
    );
    const elapsed = performance.now() - started;
    const decoder = new TextDecoder();
    const result = (exitCode: number | null, timedOut: boolean) => ({
      exitCode,
      stdout: decoder.decode(stdout.bytes()),
      stderr: decoder.decode(stderr.bytes()),
      timedOut,
      truncated: stdout.truncated || stderr.truncated,
    });
    if (outcome === "stopped") {
      return {
        ...result(null, false),
        stderr: `${
          decoder.decode(stderr.bytes())
        }the sandbox container is no longer running; commands cannot run in it\n`,
      };
    }
    if (outcome === "timeout") return result(null, true);
    // `timeout -s KILL` ends in 137; only a run that lasted the whole
    // timeout is ours (the command may be killed by other means).
    if (outcome === 137 && elapsed >= options.timeoutMs) {
      return result(null, true);
    }
    return result(outcome, false);
  }

  /** Remove the container; safe to call repeatedly and concurrently. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        await this.#container.remove({ force: true, v: true });
      } catch (error) {
        if (statusOf(error) === 404) return;
        throw new UpstreamError(
          `Docker failed while removing sandbox ${this.id.slice(0, 12)}: ${
            messageOf(error)
          }`,
          {
            hint: "Make sure Docker is running, then `ratchet resume`.",
            cause: error,
          },
        );
      }
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** bash when the image has it on PATH, else sh (decided once per sandbox). */
  async #detectShell(): Promise<string> {
    const sink = new CappedBuffer(0);
    const outcome = await this.#run(
      ["bash", "-c", "exit 0"],
      sink,
      sink,
      30_000,
    );
    return outcome === 0 ? "bash" : "sh";
  }

  /** Exec `cmd`; its exit code, "timeout" when the host gave up, or "stopped". */
  async #run(
    cmd: string[],
    stdout: CappedBuffer,
    stderr: CappedBuffer,
    giveUpMs: number,
  ): Promise<number | "timeout" | "stopped"> {
    let exec: Docker.Exec;
    let stream: NodeJS.ReadableStream;
    try {
      exec = await this.#container.exec({
        Cmd: cmd,
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
      stream = await exec.start({ hijack: true, stdin: false });
    } catch (error) {
      // 409: the container stopped (its main process ended or was killed).
      if (statusOf(error) === 409) return "stopped";
      throw this.#upstream(error);
    }
    const drained = pump(stream, new Demuxer(stdout, stderr));
    const finished = await within(drained, giveUpMs);
    if (finished === "timeout") {
      (stream as { destroy?: () => void }).destroy?.();
      return "timeout";
    }
    try {
      const inspected = await exec.inspect();
      return inspected.ExitCode ?? 0;
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  #upstream(error: unknown): RatchetError {
    return new UpstreamError(
      `${
        isConnectionError(error)
          ? `Docker stopped answering at ${this.#url}`
          : "Docker failed"
      } while running a command in sandbox ${this.id.slice(0, 12)}: ${
        messageOf(error)
      }`,
      {
        hint: "Make sure Docker is running, then `ratchet resume`.",
        cause: error,
      },
    );
  }
}

function labelFilters(labels: Record<string, string>): string[] {
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`);
}

/** dockerode options for an endpoint (TLS files read now). */
function dockerOptions(endpoint: EngineEndpoint): Docker.DockerOptions {
  switch (endpoint.protocol) {
    case "unix":
      return { socketPath: endpoint.socketPath };
    case "ssh": {
      const options: Docker.DockerOptions = {
        protocol: "ssh",
        host: endpoint.host,
        port: endpoint.port,
      };
      if (endpoint.username !== null) options.username = endpoint.username;
      if (endpoint.agentSocket !== null) {
        options.sshOptions = { agent: endpoint.agentSocket };
      }
      return options;
    }
    case "http":
      return { protocol: "http", host: endpoint.host, port: endpoint.port };
    case "https": {
      const read = (path: string | null) => {
        if (path === null) return undefined;
        try {
          return Deno.readTextFileSync(path);
        } catch (error) {
          throw new EnvironmentError(
            `Cannot read the TLS file ${path} for ${endpoint.url}: ${
              messageOf(error)
            }`,
            {
              hint:
                "Set DOCKER_CERT_PATH to the directory holding ca.pem, cert.pem and key.pem.",
            },
          );
        }
      };
      const tls = endpoint.tls;
      const ca = read(tls?.caPath ?? null);
      const cert = read(tls?.certPath ?? null);
      const key = read(tls?.keyPath ?? null);
      const options: Docker.DockerOptions & { agent?: HttpsAgent } = {
        protocol: "https",
        host: endpoint.host,
        port: endpoint.port,
      };
      if (ca !== undefined) options.ca = ca;
      if (cert !== undefined) options.cert = cert;
      if (key !== undefined) options.key = key;
      if (tls !== null && !tls.verify) {
        // docker-modem has no switch for this; its requests use our agent.
        const agentOptions: ConstructorParameters<typeof HttpsAgent>[0] = {
          rejectUnauthorized: false,
        };
        if (cert !== undefined) agentOptions.cert = cert;
        if (key !== undefined) agentOptions.key = key;
        options.agent = new HttpsAgent(agentOptions);
      }
      return options;
    }
  }
}

/**
 * The build context as a tar stream: the files of `contextDir` (without
 * `.ratchet/` and what `.dockerignore` excludes) and the Dockerfile text as
 * `dockerfileName`. With a context directory, `.dockerignore` is rewritten to
 * also list the Dockerfile and itself, which the engine then drops from the
 * context after reading them — as the docker CLI does for `-f -`.
 */
async function* buildContext(
  contextDir: string | null,
  dockerfileName: string,
  dockerfileText: string,
): AsyncGenerator<Uint8Array> {
  const encoder = new TextEncoder();
  const now = Date.now();
  yield* tarEntry(
    dockerfileName,
    "file",
    0o644,
    now,
    encoder.encode(dockerfileText),
  );
  if (contextDir === null) {
    yield new Uint8Array(1024);
    return;
  }
  let ignoreText = "";
  try {
    ignoreText = await Deno.readTextFile(join(contextDir, ".dockerignore"));
  } catch {
    // No .dockerignore: nothing excluded but .ratchet/.
  }
  yield* tarEntry(
    ".dockerignore",
    "file",
    0o644,
    now,
    encoder.encode(`${ignoreText}\n${dockerfileName}\n.dockerignore\n`),
  );
  const ignored = dockerignoreMatcher(ignoreText);
  yield* walkContext(contextDir, "", ignored);
  yield new Uint8Array(1024);
}

/** `.dockerignore` semantics: last matching pattern wins; a match on a parent directory counts. */
function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!");
      const pattern = (negate ? line.slice(1) : line).trim()
        .replace(/^\/+/, "").replace(/^\.\//, "").replace(/\/+$/, "");
      return { negate, match: picomatch(pattern, { dot: true }) };
    });
  return (path) => {
    const parts = path.split("/");
    let excluded = false;
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.match(parts.slice(0, i).join("/"))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

async function* walkContext(
  root: string,
  relative: string,
  ignored: (path: string) => boolean,
): AsyncGenerator<Uint8Array> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(join(root, relative))) {
    entries.push(entry);
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const entry of entries) {
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
    // ratchet's own state (worktree copies, reports) never belongs in an image.
    if (
      relative === "" &&
      (entry.name === ".ratchet" || entry.name === ".dockerignore")
    ) {
      continue;
    }
    const full = join(root, path);
    const info = await Deno.lstat(full);
    const mode = (info.mode ?? 0o644) & 0o7777;
    const mtime = info.mtime?.getTime() ?? Date.now();
    if (info.isDirectory) {
      // Descend even into an excluded directory: a `!` rule may re-include a file.
      if (!ignored(path)) yield* tarEntry(path, "directory", mode, mtime);
      yield* walkContext(root, path, ignored);
    } else if (ignored(path)) {
      continue;
    } else if (info.isSymlink) {
      yield* tarEntry(
        path,
        "symlink",
        0o777,
        mtime,
        undefined,
        await Deno.readLink(full),
      );
    } else if (info.isFile) {
      yield* tarFile(path, full, mode, mtime, info.size);
    }
    // Sockets, fifos and devices cannot be sent; the docker CLI skips them too.
  }
}

/** A regular file streamed in blocks, padded to exactly `size` bytes. */
async function* tarFile(
  name: string,
  full: string,
  mode: number,
  mtime: number,
  size: number,
): AsyncGenerator<Uint8Array> {
  yield* tarHeader(name, "file", mode, mtime, size, "");
  using file = await Deno.open(full, { read: true });
  let left = size;
  while (left > 0) {
    const buffer = new Uint8Array(Math.min(left, 1 << 20));
    const read = await file.read(buffer);
    // A file that shrank while we read it is padded with zeros so the
    // archive stays well-formed.
    if (read === null) {
      yield new Uint8Array(left);
      left = 0;
      break;
    }
    yield buffer.subarray(0, read);
    left -= read;
  }
  const pad = (512 - (size % 512)) % 512;
  if (pad > 0) yield new Uint8Array(pad);
}

type TarType = "file" | "directory" | "symlink";

function* tarEntry(
  name: string,
  type: TarType,
  mode: number,
  mtime: number,
  body?: Uint8Array,
  linkName = "",
): Generator<Uint8Array> {
  const size = body?.length ?? 0;
  yield* tarHeader(
    type === "directory" ? `${name}/` : name,
    type,
    mode,
    mtime,
    size,
    linkName,
  );
  if (body !== undefined && size > 0) {
    yield body;
    const pad = (512 - (size % 512)) % 512;
    if (pad > 0) yield new Uint8Array(pad);
  }
}

/** A ustar header, preceded by a PAX header when a name or size does not fit. */
function* tarHeader(
  name: string,
  type: TarType,
  mode: number,
  mtime: number,
  size: number,
  linkName: string,
): Generator<Uint8Array> {
  const encoder = new TextEncoder();
  const nameBytes = encoder.encode(name);
  const linkBytes = encoder.encode(linkName);
  const pax: string[] = [];
  if (nameBytes.length > 100 || /[^\x20-\x7e]/.test(name)) {
    pax.push(paxRecord("path", name));
  }
  if (linkBytes.length > 100 || /[^\x20-\x7e]/.test(linkName)) {
    pax.push(paxRecord("linkpath", linkName));
  }
  if (size > 0o77777777777) pax.push(paxRecord("size", String(size)));
  if (pax.length > 0) {
    const body = encoder.encode(pax.join(""));
    yield ustarHeader("PaxHeader", "x", 0o644, mtime, body.length, "");
    yield body;
    const pad = (512 - (body.length % 512)) % 512;
    if (pad > 0) yield new Uint8Array(pad);
  }
  const flag = type === "file" ? "0" : type === "directory" ? "5" : "2";
  yield ustarHeader(
    truncateBytes(name, 100),
    flag,
    mode,
    mtime,
    size > 0o77777777777 ? 0 : size,
    truncateBytes(linkName, 100),
  );
}

/** A PAX record: "<length> key=value\n", where length counts itself. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLength = new TextEncoder().encode(body).length;
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length !== String(bodyLength).length) {
    length = bodyLength + String(length).length;
  }
  return `${length}${body}`;
}

function truncateBytes(text: string, max: number): string {
  const ascii = text.replace(/[^\x20-\x7e]/g, "_");
  return ascii.length > max ? ascii.slice(ascii.length - max) : ascii;
}

function ustarHeader(
  name: string,
  flag: string,
  mode: number,
  mtime: number,
  size: number,
  linkName: string,
): Uint8Array {
  const header = new Uint8Array(512);
  const put = (offset: number, length: number, text: string) => {
    for (let i = 0; i < Math.min(length, text.length); i++) {
      header[offset + i] = text.charCodeAt(i);
    }
  };
  const octal = (offset: number, length: number, value: number) =>
    put(offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
  put(0, 100, name);
  octal(100, 8, mode);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, size);
  octal(136, 12, Math.floor(mtime / 1000));
  put(148, 8, "        ");
  put(156, 1, flag);
  put(157, 100, linkName);
  put(257, 6, "ustar\0");
  put(263, 2, "00");
  put(265, 32, "root");
  put(297, 32, "root");
  let sum = 0;
  for (const byte of header) sum += byte;
  put(148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return header;
}
