/**
 * The container engine as ratchet sees it. `infra/docker/` implements it over
 * dockerode (the only folder that imports it); tests may substitute fakes.
 *
 * Nothing here needs the engine to see ratchet's filesystem (spec section 1):
 * trees arrive as image layers built from tar streams, files go into a
 * container and come back out of it through the Engine API's archive
 * endpoints, and the only host paths an engine is ever given are `--mount`
 * sources, which are paths on the engine's host.
 */
import type { NetnsGroup } from "./netns_pool.ts";

/** One mount into a container. Bind sources are paths on the engine's host. */
export interface Mount {
  type: "bind" | "volume" | "tmpfs";
  /** Host path (bind), volume name (volume); ignored for tmpfs. */
  source: string;
  /** Absolute path inside the container. */
  target: string;
  readOnly: boolean;
}

/** Resource limits of spec section 3. */
export interface Limits {
  cpus: number;
  /** Bytes; null = no limit. */
  memoryBytes: number | null;
  pidsLimit: number;
  shmSizeBytes: number;
  /** Passed to the engine as a device request (`all`, `device=0`), or null. */
  gpus: string | null;
}

/** Everything needed to create one container. */
export interface ContainerSpec {
  image: string;
  /** Exec form, e.g. ["sh", "-c", "…"]. */
  cmd: string[];
  workingDir: string;
  /** The complete environment: no host variable leaks in unless listed. */
  env: Record<string, string>;
  /** "uid:gid". */
  user: string;
  mounts: Mount[];
  network: "none" | "bridge";
  limits: Limits;
  labels: Record<string, string>;
  /**
   * "none" (every container ratchet runs code of the repository in): all
   * capabilities dropped and `no-new-privileges`. "default": the engine's
   * default set, for the prepare step, which installs packages as root.
   */
  capabilities: "none" | "default";
  /** The whole root filesystem read-only (the critic proposers' sandbox). */
  readOnlyRoot: boolean;
}

/** A file, directory or symlink put into a container (a tar entry). */
export interface PutEntry {
  /** Relative to the directory it is put into; no leading "/". */
  path: string;
  kind: "file" | "dir" | "symlink";
  mode: number;
  uid: number;
  gid: number;
  /** File contents (files only). */
  data?: Uint8Array;
  /** Symlink target (symlinks only). */
  linkTarget?: string;
}

/** A path read back out of a container. */
export type Collected =
  | { kind: "file"; bytes: Uint8Array; truncated: boolean }
  | { kind: "missing" }
  /** Not a regular file (a symlink, a FIFO, a directory): never followed or opened. */
  | { kind: "other"; type: string };

/** One change in a container's filesystem against its image. */
export interface FsChange {
  /** Absolute path in the container. */
  path: string;
  kind: "modified" | "added" | "deleted";
}

/** Options for a run-to-completion container. */
export interface RunOptions {
  /** Wall-clock cap; the container is killed when it passes. */
  timeoutMs: number | null;
  /** Cap per stream; output beyond it is dropped and the cap recorded. */
  outputCapBytes: number;
  /** Aborting kills and removes the container, then rejects. */
  signal?: AbortSignal;
  /**
   * With network "none": containers of the same group may share one
   * loopback-only network namespace instead of each getting a new one (see
   * `netns_pool.ts`); a new group of the same scope retires the previous one.
   */
  sharedNetns?: NetnsGroup;
  /** Put into the container's root before it starts. */
  files?: readonly PutEntry[];
  /** A tar stream extracted at the container's root before it starts (after `files`). */
  content?: () => AsyncIterable<Uint8Array>;
  /**
   * Absolute paths read back from the stopped container, each bounded by
   * `maxBytes` and by time; only regular files are read. A function is
   * asked once the output streams are complete (each archive read costs
   * the engine a process: read only what the streams do not already say).
   */
  collect?:
    | readonly CollectWant[]
    | ((streams: CapturedStderr) => readonly CollectWant[]);
  /**
   * Called once the container has started, with a way to see the head of
   * its stderr so far (what the attach has delivered).
   */
  onStart?: (stderrHead: (maxBytes: number) => Uint8Array) => void;
  /** Also return the container's filesystem changes against its image. */
  changes?: boolean;
  /**
   * When the command exits 0 (not timed out), commit the stopped container
   * as `tag` with `labels` (replacing the container's own labels' values);
   * `labels` may be made from the container's changes (with `changes`).
   */
  commit?: {
    tag: string;
    labels:
      | Record<string, string>
      | ((changes: FsChange[]) => Record<string, string>);
  };
}

/** A path to read back from a stopped container, and its size cap. */
export interface CollectWant {
  path: string;
  maxBytes: number;
}

/** A finished container's stderr as captured (up to the output cap). */
export interface CapturedStderr {
  stderr: Uint8Array;
  stderrTruncated: boolean;
}

/** What a finished container left behind. The container is removed before the next one starts. */
export interface RunResult {
  containerId: string;
  /** null when killed by the timeout. */
  exitCode: number | null;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  oomKilled: boolean;
  /** One entry per `collect` path. */
  collected: Record<string, Collected>;
  /** With `changes`: the filesystem changes; otherwise null. */
  changes: FsChange[] | null;
}

/** Result of one command in a sandbox. */
export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}

/** What a path in a container is (never following a final symlink). */
export interface PathStat {
  kind: "file" | "dir" | "symlink" | "other";
  size: number;
  /** Permission bits. */
  mode: number;
  /**
   * For a symlink: where it leads, resolved by the engine inside the
   * container's root (absolute, every link on the way followed).
   */
  linkTarget: string;
}

/** One entry of a directory listing. */
export interface ListedEntry {
  /** Relative to the listed directory. */
  path: string;
  kind: "file" | "dir" | "symlink";
  /** A symlink's target as stored ("" otherwise). */
  linkTarget: string;
}

/** One entry of a directory read out of a container. */
export interface ArchiveEntry {
  /** Relative to the directory that was read ("" for the directory itself). */
  path: string;
  kind: "file" | "dir" | "symlink" | "other";
  mode: number;
  size: number;
  linkTarget: string;
  /** File contents; null for other kinds and for files over the size cap. */
  data: Uint8Array | null;
}

/**
 * A long-lived container holding the model's working copy: `bash` commands
 * run in it, the editor tool reads and writes its files through archives.
 */
export interface Sandbox extends AsyncDisposable {
  readonly id: string;
  /** Run `command` under `bash -c` (or `sh -c` when the image has no bash). */
  exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult>;
  /** What `path` is, without following a final symlink; null when missing. */
  stat(path: string): Promise<PathStat | null>;
  /** A regular file's contents, at most `maxBytes`. */
  readFile(path: string, maxBytes: number): Promise<Collected>;
  /** Put entries into the existing directory `dir`. */
  put(dir: string, entries: readonly PutEntry[]): Promise<void>;
  /**
   * The entries of the directory `path`, `depth` levels deep (1 = its own),
   * as paths relative to it; at most `maxEntries` (then `truncated`).
   */
  list(
    path: string,
    options: { depth: number; maxEntries: number },
  ): Promise<{ entries: ListedEntry[]; truncated: boolean }>;
  /** Changes in the container's filesystem against its image. */
  changes(): Promise<FsChange[]>;
  /**
   * Everything under the directory `path`, in archive order (symlinks inside
   * it as symlinks); files over `maxFileBytes` come with `data: null`.
   */
  read(
    path: string,
    options: { maxFileBytes: number },
  ): AsyncIterable<ArchiveEntry>;
  /** Stop and remove the container. Idempotent. */
  close(): Promise<void>;
}

/** Facts about the engine that change how containers are created. */
export interface EngineInfo {
  rootless: boolean;
  serverVersion: string;
  /** "docker" or "podman" (from the version's components), for messages and API differences. */
  product: string;
  /** Where the engine was found (DOCKER_HOST, docker context, default socket). */
  endpoint: string;
  /** Where the engine keeps images and containers, as its host names it. */
  dataRoot: string | null;
}

/** Progress lines of an image build or pull. */
export type ProgressSink = (line: string) => void;

/** The container engine. Unreachable engine → EnvironmentError at start, UpstreamError mid-run. */
export interface ContainerRuntime {
  /** Fails with EnvironmentError (exit 3) when the engine does not answer. */
  info(): Promise<EngineInfo>;
  hasImage(name: string): Promise<boolean>;
  /** The image's id and labels, or null when it does not exist. */
  inspectImage(
    name: string,
  ): Promise<{ id: string; labels: Record<string, string> } | null>;
  /**
   * Pull from a registry; EnvironmentError naming the image when impossible.
   * `signal` cuts the request off (the engine stops the pull).
   */
  pullImage(
    name: string,
    options?: { onProgress?: ProgressSink; signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Build `dockerfile` (text) with `context` (a tar stream of the context
   * directory, or none), tagged `tag`. `signal` cuts the request off (the
   * engine cancels the build).
   */
  buildImage(
    options: {
      dockerfile: string;
      contextDir: string | null;
      tag: string;
      labels?: Record<string, string>;
      onProgress?: ProgressSink;
      signal?: AbortSignal;
    },
  ): Promise<void>;
  /**
   * A new image `tag`: `base` with the tar stream `content` extracted at "/"
   * (ownership and modes as the tar says), labelled `labels`. One layer.
   */
  buildLayer(
    options: {
      base: string;
      content: AsyncIterable<Uint8Array>;
      tag: string;
      labels: Record<string, string>;
      signal?: AbortSignal;
    },
  ): Promise<void>;
  /**
   * Run to completion, capture, and remove the container. The removal of a
   * container that ran to its end may still be under way when this returns;
   * it is done before the next container starts and before `settled()`.
   */
  run(spec: ContainerSpec, options: RunOptions): Promise<RunResult>;
  /** Resolves once every container `run` finished with is removed. */
  settled(): Promise<void>;
  startSandbox(spec: ContainerSpec): Promise<Sandbox>;
  /**
   * Whether the engine sees this machine's `dir` at the same path (a local
   * engine, or a VM sharing it): creates, never starts, a container binding
   * it. `dir` must exist and have a name nobody else could have made.
   */
  seesPath(dir: string, image: string): Promise<boolean>;
  /**
   * Fails with EnvironmentError naming the first bind source of `mounts`
   * that does not exist on the engine's host.
   */
  checkMounts(mounts: readonly Mount[], image: string): Promise<void>;
  /** Remove every container (running or not) with all these labels; returns how many. */
  removeContainers(labels: Record<string, string>): Promise<number>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolumes(labels: Record<string, string>): Promise<number>;
  /** Remove image `name`; a missing one is fine. */
  removeImage(name: string): Promise<void>;
  /** Remove every image with all these labels; returns how many. */
  removeImages(labels: Record<string, string>): Promise<number>;
  /** Images with all these labels: tag (or id), creation time (s), labels. */
  listImages(
    labels: Record<string, string>,
  ): Promise<
    { name: string; created: number; labels: Record<string, string> }[]
  >;
}
