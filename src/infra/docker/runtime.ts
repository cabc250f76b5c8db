/**
 * The Docker Engine API implementation of `ContainerRuntime`: a facade over
 * the files of this folder, the only code that imports dockerode (engine
 * facts in `engine_info.ts`, images in `images.ts`, one container's life in
 * `containers.ts`, shared network namespaces in `netns_holder.ts`, volumes
 * in `volumes.ts`, probes in `probes.ts`, the sandbox in `sandbox.ts`). It
 * serves Docker and Podman's Docker-compatible socket, local or remote:
 * nothing it does needs the engine to see ratchet's filesystem (spec
 * section 1).
 *
 * Containers are never auto-removed: ratchet reads their state (OOM-kill),
 * the files it collects and their changes after they stop, then removes
 * them, in the background after a normal end (overlapping the next
 * container's creation) but always before the next container starts and
 * before `removeContainers`, `removeVolumes`, `removeImage(s)` and
 * `settled()` return. Containers given `sharedNetns` join a holder's
 * loopback-only network namespace (`netns_pool.ts`).
 *
 * Errors: a daemon that does not answer is an EnvironmentError from `info()`
 * and the image operations (they run at start), and an UpstreamError from
 * everything a running loop does (exit 4, resumable). A container the engine
 * refuses to create or start (missing image, missing mount source, bad
 * limits) is an EnvironmentError naming the cause.
 */
import Docker from "dockerode";
import type { EngineEndpoint } from "../engine.ts";
import { NetnsPool } from "../netns_pool.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  Mount,
  ProgressSink,
  RunOptions,
  RunResult,
  Sandbox,
} from "../runtime.ts";
import type { EngineContext } from "./_context.ts";
import { Removals, removeQuietly } from "./_removals.ts";
import { dockerOptions } from "./connect.ts";
import {
  createContainer,
  removeContainers,
  runContainer,
  startFailure,
} from "./containers.ts";
import { engineInfo, isPodman } from "./engine_info.ts";
import {
  buildImage,
  buildLayer,
  hasImage,
  inspectImage,
  listImages,
  pullImage,
  removeImage,
  removeImages,
} from "./images.ts";
import { runJoined } from "./netns_holder.ts";
import { checkMounts, seesPath } from "./probes.ts";
import { DockerSandbox } from "./sandbox.ts";
import { createVolume, removeVolumes } from "./volumes.ts";

export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: EngineEndpoint;
  readonly #docker: Docker;
  readonly #netns = new NetnsPool((id) =>
    removeQuietly(this.#docker.getContainer(id))
  );
  /** Removals of finished containers still under way (see the module comment). */
  readonly #removals = new Removals();
  /** The engine's facts, asked once (API differences depend on them). */
  #facts: Promise<EngineInfo> | undefined;
  /** What the operations in this folder's files share. */
  readonly #ctx: EngineContext;

  /**
   * Connect lazily to `endpoint` (nothing is sent until the first call).
   * TLS files are read here; a missing one is an EnvironmentError.
   */
  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    this.#docker = new Docker(dockerOptions(endpoint));
    this.#ctx = {
      docker: this.#docker,
      endpoint,
      removals: this.#removals,
      podman: () => this.#podman(),
    };
  }

  /** Engine facts (asked once); EnvironmentError (exit 3) with a hint when nothing answers. */
  info(): Promise<EngineInfo> {
    if (this.#facts === undefined) {
      this.#facts = engineInfo(this.#ctx);
      this.#facts.catch(() => (this.#facts = undefined));
    }
    return this.#facts;
  }

  /** Whether the engine is Podman, whose API differs (see the README). */
  #podman(): Promise<boolean> {
    return isPodman(() => this.info());
  }

  /** Whether `name` exists on the engine. */
  hasImage(name: string): Promise<boolean> {
    return hasImage(this.#ctx, name);
  }

  inspectImage(
    name: string,
  ): Promise<{ id: string; labels: Record<string, string> } | null> {
    return inspectImage(this.#ctx, name);
  }

  /** Pull `name`; EnvironmentError naming it when the registry refuses or is unreachable. */
  pullImage(
    name: string,
    options: { onProgress?: ProgressSink; signal?: AbortSignal } = {},
  ): Promise<void> {
    return pullImage(this.#ctx, name, options);
  }

  /** Build a Dockerfile (see `images.ts`). */
  buildImage(
    options: Parameters<ContainerRuntime["buildImage"]>[0],
  ): Promise<void> {
    return buildImage(this.#ctx, options);
  }

  /** One layer from a tar on `base` (see `images.ts`). */
  buildLayer(
    options: Parameters<ContainerRuntime["buildLayer"]>[0],
  ): Promise<void> {
    return buildLayer(this.#ctx, options);
  }

  /**
   * Run `spec` to completion, capture its output, read back what `collect`
   * asks for, and remove the container. With `sharedNetns` (network "none"
   * only) it joins its group's holder; a holder found dead is replaced once,
   * then the container gets a namespace of its own.
   */
  async run(spec: ContainerSpec, options: RunOptions): Promise<RunResult> {
    // Podman ignores ReadonlyPaths (a joined container could write the
    // holder's /etc/hosts), restarts a stopped holder for a joiner, and will
    // not remove a holder that had joiners: there every container gets its
    // own namespace.
    const group = spec.network === "none" && !(await this.#podman())
      ? options.sharedNetns
      : undefined;
    if (group === undefined) return runContainer(this.#ctx, spec, options);
    return runJoined(this.#ctx, this.#netns, group, spec, options);
  }

  /** Create and start a long-lived container running `spec.cmd`, frozen until its first command. */
  async startSandbox(spec: ContainerSpec): Promise<Sandbox> {
    const container = await createContainer(this.#ctx, spec);
    try {
      await container.start();
    } catch (error) {
      await removeQuietly(container);
      throw startFailure(this.#ctx, spec, error);
    }
    const sandbox = new DockerSandbox(
      this.#docker,
      container,
      this.endpoint.url,
    );
    await sandbox.freeze();
    return sandbox;
  }

  /** Whether the engine has this machine's `dir` at the same path (see `probes.ts`). */
  seesPath(dir: string, image: string): Promise<boolean> {
    return seesPath(this.#ctx, dir, image);
  }

  /** EnvironmentError naming the first bind source missing on the engine's host. */
  checkMounts(mounts: readonly Mount[], image: string): Promise<void> {
    return checkMounts(this.#ctx, mounts, image);
  }

  /**
   * Resolves when every finished container is removed. A container that ran
   * to completion is removed in the background, overlapping the next
   * container's creation; the next start and every removal by label wait
   * for it.
   */
  settled(): Promise<void> {
    return this.#removals.settled();
  }

  /** Remove every container carrying all `labels`, running or not. */
  removeContainers(labels: Record<string, string>): Promise<number> {
    return removeContainers(this.#ctx, this.#netns, labels);
  }

  /** Create a named volume (a no-op when it exists). */
  createVolume(name: string, labels: Record<string, string>): Promise<void> {
    return createVolume(this.#ctx, name, labels);
  }

  /** Remove every volume carrying all `labels`; returns how many. */
  removeVolumes(labels: Record<string, string>): Promise<number> {
    return removeVolumes(this.#ctx, labels);
  }

  /** Remove image `name`; an image that is already gone is fine. */
  removeImage(name: string): Promise<void> {
    return removeImage(this.#ctx, name);
  }

  /** Remove every image carrying all `labels`; returns how many. */
  removeImages(labels: Record<string, string>): Promise<number> {
    return removeImages(this.#ctx, labels);
  }

  listImages(
    labels: Record<string, string>,
  ): Promise<
    { name: string; created: number; labels: Record<string, string> }[]
  > {
    return listImages(this.#ctx, labels);
  }
}
