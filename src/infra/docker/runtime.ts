/**
 * The Docker Engine API implementation of `ContainerRuntime` (with
 * `sandbox.ts`, the only code that imports dockerode). It serves Docker and
 * Podman's Docker-compatible socket, local or remote: nothing it does needs
 * the engine to see ratchet's filesystem (spec section 1).
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
import { Readable } from "node:stream";
import { EnvironmentError, RatchetError, UpstreamError } from "../../errors.ts";
import type { EngineEndpoint } from "../engine.ts";
import { type NetnsGroup, NetnsPool } from "../netns_pool.ts";
import type {
  Collected,
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  FsChange,
  Mount,
  ProgressSink,
  RunOptions,
  RunResult,
  Sandbox,
} from "../runtime.ts";
import { packTarBytes } from "../tar.ts";
import {
  CappedBuffer,
  Demuxer,
  followProgress,
  ProgressLines,
  pump,
  untilAborted,
  within,
} from "./_streams.ts";
import { collectPath, putArchive } from "./archive.ts";
import { buildContext } from "./build_context.ts";
import { dockerOptions } from "./connect.ts";
import { createOptions } from "./create_options.ts";
import {
  isConnectionError,
  messageOf,
  startError,
  statusOf,
  upstreamError,
} from "./errors.ts";
import { DockerSandbox } from "./sandbox.ts";
import { waitContainer } from "./wait.ts";

/** How long `info()` waits for an answer before calling the engine unreachable. */
const INFO_TIMEOUT_MS = 15_000;
/** After a container stops, how long its output may take to drain. */
const DRAIN_TIMEOUT_MS = 5_000;
/**
 * How long a network-namespace holder sleeps. It is removed when its group
 * ends; the lifetime only bounds one left behind by a killed ratchet (a group
 * that outlives it gets a new holder).
 */
const HOLDER_LIFETIME_S = 3600;
/** Name under which the Dockerfile text travels in a build context with files. */
const CONTEXT_DOCKERFILE = ".ratchet.Dockerfile";

/** The holder a container was to join is gone. */
class HolderGone extends Error {}

/** `/changes` kinds: 0 modified, 1 added, 2 deleted. */
const CHANGE_KINDS: FsChange["kind"][] = ["modified", "added", "deleted"];

/** Split `repo:tag` (a registry port's colon is not a tag). */
function repoAndTag(name: string): { repo: string; tag: string } {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/")
    ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) }
    : { repo: name, tag: "latest" };
}

/**
 * The engine-side filter of a lookup by labels: the first label only.
 * Podman 4.3 answers a list filtered by two labels with nothing at all, so
 * the rest are checked here (`hasLabels`).
 */
function labelFilters(labels: Record<string, string>): string {
  const first = Object.entries(labels)[0];
  return JSON.stringify(
    first === undefined ? {} : {
      label: [`${first[0]}=${first[1]}`],
    },
  );
}

/** Whether `have` carries every label of `want`. */
function hasLabels(
  have: Record<string, string> | null | undefined,
  want: Record<string, string>,
): boolean {
  return Object.entries(want).every(([k, v]) => have?.[k] === v);
}

/** An image name without the default registry Podman spells out. */
export function shortName(name: string): string {
  return name.replace(/^(docker\.io\/library\/|localhost\/)/, "");
}

/** A `LABEL` instruction for `docker commit`'s `changes`. */
function labelChange(key: string, value: string): string {
  return `LABEL ${JSON.stringify(key)}=${JSON.stringify(value)}`;
}

export class DockerRuntime implements ContainerRuntime {
  readonly endpoint: EngineEndpoint;
  readonly #docker: Docker;
  readonly #netns = new NetnsPool((id) =>
    this.#removeQuietly(this.#docker.getContainer(id))
  );
  /** Removals of finished containers still under way (see the module comment). */
  readonly #removals = new Set<Promise<void>>();
  /** The engine's facts, asked once (API differences depend on them). */
  #facts: Promise<EngineInfo> | undefined;

  /**
   * Connect lazily to `endpoint` (nothing is sent until the first call).
   * TLS files are read here; a missing one is an EnvironmentError.
   */
  constructor(endpoint: EngineEndpoint) {
    this.endpoint = endpoint;
    this.#docker = new Docker(dockerOptions(endpoint));
  }

  /** Engine facts (asked once); EnvironmentError (exit 3) with a hint when nothing answers. */
  info(): Promise<EngineInfo> {
    if (this.#facts === undefined) {
      this.#facts = this.#info();
      this.#facts.catch(() => (this.#facts = undefined));
    }
    return this.#facts;
  }

  /** Whether the engine is Podman, whose API differs (see the README). */
  async #podman(): Promise<boolean> {
    try {
      return (await this.info()).product === "podman";
    } catch (error) {
      // info() speaks for start time (exit 3); here a run is going (exit 4).
      throw new UpstreamError(
        error instanceof Error ? error.message : String(error),
        {
          hint: "Make sure Docker is running, then `ratchet resume`.",
          cause: error,
        },
      );
    }
  }

  async #info(): Promise<EngineInfo> {
    let info: {
      ServerVersion?: string;
      SecurityOptions?: string[];
      DockerRootDir?: string;
    };
    let components: { Name?: string }[] = [];
    try {
      // A tcp endpoint that drops packets would otherwise hang forever.
      const answer = await within(
        Promise.all([this.#docker.info(), this.#docker.version()]),
        INFO_TIMEOUT_MS,
      );
      if (answer === "timeout") {
        throw new Error(`no answer within ${INFO_TIMEOUT_MS / 1000} s`);
      }
      info = answer[0];
      components = (answer[1] as { Components?: { Name?: string }[] })
        .Components ?? [];
    } catch (error) {
      throw new EnvironmentError(
        `Docker is not reachable at ${this.endpoint.url} (${this.endpoint.source}): ${
          messageOf(error)
        }`,
        {
          hint: (error as { code?: string } | null)?.code === "EACCES"
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
    const podman = components.some((c) => /podman/i.test(c.Name ?? ""));
    return {
      rootless,
      serverVersion: info.ServerVersion ?? "unknown",
      product: podman ? "podman" : "docker",
      endpoint: `${this.endpoint.url} (${this.endpoint.source})`,
      dataRoot: info.DockerRootDir ?? null,
    };
  }

  /** Whether `name` exists on the engine. */
  async hasImage(name: string): Promise<boolean> {
    return (await this.inspectImage(name)) !== null;
  }

  async inspectImage(
    name: string,
  ): Promise<{ id: string; labels: Record<string, string> } | null> {
    try {
      const image = await this.#docker.getImage(name).inspect();
      return { id: image.Id, labels: image.Config?.Labels ?? {} };
    } catch (error) {
      if (statusOf(error) === 404) return null;
      throw this.#startError(`checking for image ${name}`, error);
    }
  }

  /** Pull `name`; EnvironmentError naming it when the registry refuses or is unreachable. */
  async pullImage(
    name: string,
    options: { onProgress?: ProgressSink; signal?: AbortSignal } = {},
  ): Promise<void> {
    const lines = new ProgressLines(options.onProgress);
    const fail = (why: string, cause?: unknown) =>
      new EnvironmentError(`Image "${name}" could not be pulled: ${why}`, {
        hint:
          `Build it (\`docker build -t ${name} .\`) or pull it (\`docker pull ${name}\`) first, or leave out --image to use ratchet's default image.`,
        cause,
      });
    options.signal?.throwIfAborted();
    let stream: NodeJS.ReadableStream;
    try {
      stream = await untilAborted(
        this.#docker.pull(
          name,
          options.signal === undefined ? {} : { abortSignal: options.signal },
        ),
        options.signal,
      );
    } catch (error) {
      options.signal?.throwIfAborted();
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
   * build context (minus `.ratchet/` and what `.dockerignore` excludes), sent
   * as a tar, and the Dockerfile text travels beside it under a name the
   * context excludes; without one the context is the Dockerfile alone. A
   * failed build is an EnvironmentError carrying the last lines of the log.
   */
  async buildImage(options: {
    dockerfile: string;
    contextDir: string | null;
    tag: string;
    labels?: Record<string, string>;
    onProgress?: ProgressSink;
    signal?: AbortSignal;
  }): Promise<void> {
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
    options.signal?.throwIfAborted();
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
          ...(options.signal === undefined
            ? {}
            : { abortSignal: options.signal }),
        }),
        options.signal,
      );
    } catch (error) {
      context.destroy();
      options.signal?.throwIfAborted();
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
   * One layer on `base`: a container is created (never started), the tar
   * `content` is extracted into it at "/" by the engine (owners and modes as
   * the tar says), and it is committed as `tag` with `labels`.
   */
  async buildLayer(options: {
    base: string;
    content: AsyncIterable<Uint8Array>;
    tag: string;
    labels: Record<string, string>;
    signal?: AbortSignal;
  }): Promise<void> {
    options.signal?.throwIfAborted();
    let container: Docker.Container;
    try {
      // A command is needed to create a container from an image without one;
      // the layer's containers always set their own.
      container = await this.#docker.createContainer({
        Image: options.base,
        Cmd: ["/bin/sh"],
        Entrypoint: [],
        Labels: options.labels,
        HostConfig: {
          NetworkMode: "none",
          LogConfig: { Type: "none", Config: {} },
        },
      });
    } catch (error) {
      throw this.#upstream(`creating a layer from ${options.base}`, error);
    }
    try {
      await putArchive(this.#docker, container.id, "/", options.content, {
        // A large tree takes a while; the signal still stops it at once.
        timeoutMs: 3_600_000,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      options.signal?.throwIfAborted();
      await this.#commit(container, options.tag, options.labels);
    } catch (error) {
      options.signal?.throwIfAborted();
      throw this.#upstream(`building the layer ${options.tag}`, error);
    } finally {
      await this.#removeQuietly(container);
    }
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
    if (group === undefined) return this.#runContainer(spec, options);
    for (let attempt = 1;; attempt++) {
      options.signal?.throwIfAborted();
      const lease = await this.#netns.acquire(
        group,
        () => this.#startHolder(spec, group),
      );
      if (lease === null) return this.#runContainer(spec, options);
      try {
        return await this.#runContainer(
          spec,
          options,
          `container:${lease.id}`,
        );
      } catch (error) {
        if (error instanceof HolderGone) {
          lease.gone();
          if (attempt >= 2) return await this.#runContainer(spec, options);
          continue;
        }
        // An engine that cannot join namespaces refuses the create or the
        // start: run unshared. A fault of the container itself (a missing
        // mount source) fails the same way again, and that error is thrown.
        if (!(error instanceof EnvironmentError)) throw error;
        lease.refused();
        options.signal?.throwIfAborted();
        return await this.#runContainer(spec, options);
      } finally {
        await lease.release();
      }
    }
  }

  /** Create and start a long-lived container running `spec.cmd`, frozen until its first command. */
  async startSandbox(spec: ContainerSpec): Promise<Sandbox> {
    const container = await this.#create(spec);
    try {
      await container.start();
    } catch (error) {
      await this.#removeQuietly(container);
      throw this.#startFailure(spec, error);
    }
    const sandbox = new DockerSandbox(
      this.#docker,
      container,
      this.endpoint.url,
    );
    await sandbox.freeze();
    return sandbox;
  }

  /**
   * Whether the engine has this machine's `dir` at the same path (see the
   * port): a container binding it must find a file written there just now
   * (Podman creates a missing bind source instead of refusing it).
   */
  async seesPath(dir: string, image: string): Promise<boolean> {
    const token = `ratchet-probe-${crypto.randomUUID()}`;
    await Deno.writeTextFile(`${dir}/${token}`, "");
    try {
      return await this.#probe(image, dir, `test -e /probe/${token}`);
    } finally {
      await Deno.remove(`${dir}/${token}`).catch(() => {});
    }
  }

  /** EnvironmentError naming the first bind source missing on the engine's host. */
  async checkMounts(mounts: readonly Mount[], image: string): Promise<void> {
    for (const m of mounts) {
      if (m.type !== "bind") continue;
      const slash = m.source.replace(/\/+$/, "").lastIndexOf("/");
      const parent = slash <= 0 ? "/" : m.source.slice(0, slash);
      const name = m.source.replace(/\/+$/, "").slice(slash + 1);
      // The parent is bound and the source looked for in it: an engine that
      // creates missing bind sources (Podman) cannot fake the answer.
      const found = name === "" ||
        await this.#probe(image, parent, `test -e "/probe/$1"`, [name]);
      if (!found) {
        throw new EnvironmentError(
          `--mount ${m.source}:${m.target}: ${m.source} does not exist on the engine's host (${this.endpoint.url})`,
          {
            hint:
              "A --mount source is a path on the machine the engine runs on; create it there, or fix the path.",
          },
        );
      }
    }
  }

  /** Run `script` in a throwaway container with `dir` bound read-only at /probe: exit 0? */
  async #probe(
    image: string,
    dir: string,
    script: string,
    args: string[] = [],
  ): Promise<boolean> {
    let result: RunResult;
    try {
      result = await this.#runContainer({
        image,
        cmd: ["sh", "-c", script, "ratchet-probe", ...args],
        workingDir: "/",
        env: {},
        user: "0:0",
        mounts: [{
          type: "bind",
          source: dir,
          target: "/probe",
          readOnly: true,
        }],
        network: "none",
        limits: {
          cpus: 1,
          memoryBytes: 64 * 1024 ** 2,
          pidsLimit: 16,
          shmSizeBytes: 1024 ** 2,
          gpus: null,
        },
        labels: { "ratchet.role": "probe" },
        capabilities: "none",
        readOnlyRoot: true,
      }, { timeoutMs: 60_000, outputCapBytes: 4096 });
    } catch (error) {
      if (error instanceof EnvironmentError) return false;
      throw error;
    }
    return result.exitCode === 0;
  }

  /**
   * Resolves when every finished container is removed. A container that ran
   * to completion is removed in the background, overlapping the next
   * container's creation; the next start and every removal by label wait
   * for it.
   */
  async settled(): Promise<void> {
    while (this.#removals.size > 0) await Promise.all(this.#removals);
  }

  /** Remove every container carrying all `labels`, running or not. */
  async removeContainers(labels: Record<string, string>): Promise<number> {
    await this.settled();
    let removed = 0;
    try {
      const list = (await this.#docker.listContainers({
        all: true,
        filters: labelFilters(labels),
      })).filter((info) => hasLabels(info.Labels, labels));
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
        filters: labelFilters(labels),
      });
      const volumes = (list.Volumes ?? []).filter((v) =>
        hasLabels(v.Labels, labels)
      );
      for (const volume of volumes) {
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
      await this.#docker.getImage(name).remove({ noprune: false });
    } catch (error) {
      if (statusOf(error) === 404) return;
      throw this.#upstream(`removing image ${name}`, error);
    }
  }

  /** Remove every image carrying all `labels`; returns how many. */
  async removeImages(labels: Record<string, string>): Promise<number> {
    const images = await this.listImages(labels);
    let first: unknown = null;
    for (const image of images) {
      // One image the engine refuses does not keep the others.
      await this.removeImage(image.name).catch((e) => (first ??= e));
    }
    if (first !== null) throw first;
    return images.length;
  }

  async listImages(
    labels: Record<string, string>,
  ): Promise<
    { name: string; created: number; labels: Record<string, string> }[]
  > {
    try {
      const list = (await this.#docker.listImages({
        filters: labelFilters(labels),
      })).filter((image) => hasLabels(image.Labels, labels));
      return list.map((image) => ({
        name: shortName(
          (image.RepoTags ?? []).find((t) => t !== "<none>:<none>") ??
            image.Id,
        ),
        created: image.Created,
        labels: image.Labels ?? {},
      }));
    } catch (error) {
      throw this.#upstream("listing images", error);
    }
  }

  async #runContainer(
    spec: ContainerSpec,
    options: RunOptions,
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
      if (options.files !== undefined && options.files.length > 0) {
        try {
          await putArchive(
            this.#docker,
            container.id,
            "/",
            await packTarBytes(options.files),
          );
        } catch (error) {
          throw this.#upstream("putting files into a container", error);
        }
      }
      if (options.content !== undefined) {
        try {
          await putArchive(this.#docker, container.id, "/", options.content(), {
            timeoutMs: 3_600_000,
            ...(signal === undefined ? {} : { signal }),
          });
        } catch (error) {
          signal?.throwIfAborted();
          throw this.#upstream("putting a tree into a container", error);
        }
      }
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
          /non running container|no such container|not running/i.test(
            messageOf(error),
          )
        ) {
          throw new HolderGone();
        }
        throw this.#startFailure(spec, error);
      }
      options.onStart?.((path, maxBytes) =>
        collectPath(this.#docker, container.id, path, maxBytes, 10_000)
      );
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
        statusCode = await waitContainer(this.#docker, container.id);
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
        oomKilled = inspected.State.OOMKilled === true ||
          // Podman (cgroup v1) never sets OOMKilled: a SIGKILL ratchet did
          // not send, under a memory limit, is taken for the OOM killer.
          (await this.#podman() && statusCode === 137 && !timedOut &&
            spec.limits.memoryBytes !== null);
      } catch (error) {
        throw this.#upstream("inspecting a container", error);
      }
      const collected: Record<string, Collected> = {};
      for (const want of options.collect ?? []) {
        try {
          collected[want.path] = await collectPath(
            this.#docker,
            container.id,
            want.path,
            want.maxBytes,
          );
        } catch (error) {
          throw this.#upstream(`reading ${want.path} from a container`, error);
        }
      }
      let changes: FsChange[] | null = null;
      if (options.changes === true) {
        try {
          const list = await container.changes() as
            | { Path: string; Kind: number }[]
            | null;
          changes = (list ?? []).map((c) => ({
            path: c.Path,
            kind: CHANGE_KINDS[c.Kind] ?? "modified",
          }));
        } catch (error) {
          throw this.#upstream("listing a container's changes", error);
        }
      }
      const exitCode = timedOut ? null : statusCode;
      if (options.commit !== undefined && exitCode === 0) {
        const { labels } = options.commit;
        await this.#commit(
          container,
          options.commit.tag,
          typeof labels === "function" ? labels(changes ?? []) : labels,
        );
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
        collected,
        changes,
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
      image: group.image ?? spec.image,
      cmd: ["sleep", String(HOLDER_LIFETIME_S)],
      workingDir: "/",
      env: {},
      mounts: [],
      network: "none",
      labels,
      capabilities: "none",
      readOnlyRoot: false,
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

  async #commit(
    container: Docker.Container,
    tag: string,
    labels: Record<string, string>,
  ): Promise<void> {
    const { repo, tag: version } = repoAndTag(tag);
    try {
      await container.commit({
        repo,
        tag: version,
        pause: false,
        // Labels make the image findable for cleanup (by run, by role).
        changes: Object.entries(labels).map(([k, v]) => labelChange(k, v)),
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
      const missingMount =
        /(?:bind source path does not exist|no such file or directory)[^/]*(\/\S*)/i
          .exec(message);
      if (missingMount && spec.mounts.some((m) => m.type === "bind")) {
        throw new EnvironmentError(
          `A --mount source does not exist on the engine's host (${this.endpoint.url}): ${
            missingMount[1]
          }`,
          {
            hint:
              "--mount sources are paths on the machine Docker runs on; create it there or fix the --mount value.",
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
            "Check --cpus, --memory, --pids-limit, --shm-size and --gpus against what this engine supports.",
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

  #upstream(action: string, error: unknown): RatchetError {
    return upstreamError(this.endpoint.url, action, error);
  }

  #startError(action: string, error: unknown): RatchetError {
    return startError(this.endpoint.url, this.endpoint.hint, action, error);
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
