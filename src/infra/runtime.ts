/**
 * The container engine as ratchet sees it. `container.ts` implements it over
 * dockerode (the only dockerode import); tests may substitute fakes. Trials,
 * the check command, the prepare step and the agent's sandbox all go through
 * this interface.
 */
import type { NetnsGroup } from "./netns_pool.ts";

/** One mount into a container. Bind sources must exist (never auto-created). */
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
}

/**
 * What a finished container left behind. The container is gone, or (after a
 * normal end) being removed: the next container starts, and
 * `removeContainers` returns, only after that removal.
 */
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
}

/** Result of one command in a sandbox. */
export interface ExecResult {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  truncated: boolean;
}

/** A long-lived container in which the agent's `bash` tool runs commands. */
export interface Sandbox extends AsyncDisposable {
  readonly id: string;
  /** Run `command` under `bash -c` (or `sh -c` when the image has no bash). */
  exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult>;
  /** Stop and remove the container. Idempotent. */
  close(): Promise<void>;
}

/** Facts about the engine that change how containers are created. */
export interface EngineInfo {
  rootless: boolean;
  serverVersion: string;
  /** Where the engine was found (DOCKER_HOST, docker context, default socket). */
  endpoint: string;
}

/** Progress lines of an image build or pull. */
export type ProgressSink = (line: string) => void;

/** The container engine. Unreachable engine → EnvironmentError at start, UpstreamError mid-run. */
export interface ContainerRuntime {
  /** Fails with EnvironmentError (exit 3) when the engine does not answer. */
  info(): Promise<EngineInfo>;
  hasImage(name: string): Promise<boolean>;
  /**
   * Pull from a registry; EnvironmentError naming the image when impossible.
   * `signal` cuts the request off (the engine stops the pull).
   */
  pullImage(
    name: string,
    onProgress?: ProgressSink,
    options?: { signal?: AbortSignal },
  ): Promise<void>;
  /**
   * Build `dockerfile` (text) with `contextDir` as context, tagged `tag`.
   * `signal` cuts the request off (the engine cancels the build).
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
  /** Run to completion, capture, and remove the container. */
  run(spec: ContainerSpec, options: RunOptions): Promise<RunResult>;
  /** Run `spec`, then commit the stopped container as image `tag` (the prepare step). */
  runAndCommit(
    spec: ContainerSpec,
    tag: string,
    options: RunOptions,
  ): Promise<RunResult>;
  startSandbox(spec: ContainerSpec): Promise<Sandbox>;
  /** Remove every container (running or not) with all these labels; returns how many. */
  removeContainers(labels: Record<string, string>): Promise<number>;
  createVolume(name: string, labels: Record<string, string>): Promise<void>;
  removeVolumes(labels: Record<string, string>): Promise<number>;
  removeImage(name: string): Promise<void>;
}
