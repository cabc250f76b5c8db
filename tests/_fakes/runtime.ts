/**
 * An in-memory `ContainerRuntime` for unit tests of what sits on top of the
 * engine port (the trial image, tree images, the prepare step, the trial
 * runner, the setup). Images, volumes and what each container was given are
 * kept in memory; a container's run is whatever the test's `onRun` says
 * (its exit status, output, the files read back from it, its changes). Tar
 * streams given to it (layers, a container's content) are read with the real
 * tar reader, so a test sees exactly what would reach an engine. The real
 * adapter is tested against real engines in tests/integration/.
 */
import { EnvironmentError } from "../../src/errors.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  EngineInfo,
  FsChange,
  Mount,
  ProgressSink,
  PutEntry,
  RunOptions,
  RunResult,
  Sandbox,
} from "../../src/infra/runtime.ts";
import tar from "tar-stream";
import { Buffer } from "node:buffer";

/** One entry of a tar stream given to the fake, header and contents. */
export interface TarEntry {
  /** As stored, without a trailing "/". */
  path: string;
  kind: "file" | "dir" | "symlink" | "other";
  mode: number;
  uid: number;
  gid: number;
  /** Seconds since the epoch. */
  mtime: number;
  linkTarget: string;
  /** File contents (files only). */
  data: Uint8Array | null;
}

/** An image the fake holds. */
export interface FakeImage {
  id: string;
  labels: Record<string, string>;
  /** Seconds; increases with every image made. */
  created: number;
  /** For layers and commits: the image it was made on. */
  base: string | null;
  /** For layers: what the tar held. */
  layer: TarEntry[] | null;
}

/** One container the fake ran. */
export interface FakeRun {
  spec: ContainerSpec;
  options: RunOptions;
  /** `options.files`, as given. */
  files: readonly PutEntry[];
  /** `options.content`, read back; null without content. */
  content: TarEntry[] | null;
}

/** What a test says a container did. */
export type RunHandler = (
  run: FakeRun,
  runtime: FakeRuntime,
) => Partial<RunResult> | Promise<Partial<RunResult>>;

function matches(
  labels: Record<string, string>,
  wanted: Record<string, string>,
): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** Read a whole tar stream with tar-stream itself (not ratchet's reader). */
async function readAll(source: AsyncIterable<Uint8Array>): Promise<TarEntry[]> {
  const extract = tar.extract();
  const feeding = (async () => {
    for await (const chunk of source) extract.write(Buffer.from(chunk));
    extract.end(undefined);
  })().catch((error) => extract.destroy(error));
  const out: TarEntry[] = [];
  for await (const entry of extract) {
    const h = entry.header;
    const parts: Uint8Array[] = [];
    for await (const part of entry) parts.push(part as Uint8Array);
    const kind = h.type === "file"
      ? "file"
      : h.type === "directory"
      ? "dir"
      : h.type === "symlink"
      ? "symlink"
      : "other";
    out.push({
      path: h.name.replace(/\/+$/, ""),
      kind,
      mode: (h.mode ?? 0) & 0o7777,
      uid: h.uid ?? 0,
      gid: h.gid ?? 0,
      mtime: Math.floor((h.mtime?.getTime() ?? 0) / 1000),
      linkTarget: h.linkname ?? "",
      data: kind === "file" ? Buffer.concat(parts) : null,
    });
  }
  await feeding;
  return out;
}

/** The fake engine. */
export class FakeRuntime implements ContainerRuntime {
  engine: EngineInfo = {
    rootless: false,
    serverVersion: "27.0.0",
    product: "docker",
    endpoint: "unix:///fake.sock",
    dataRoot: null,
  };
  readonly images = new Map<string, FakeImage>();
  readonly volumes = new Map<string, Record<string, string>>();
  /** Calls in order, as short strings ("has x", "build t", "run img" …). */
  readonly calls: string[] = [];
  /** The paths each `run` read back from its stopped container, in order. */
  readonly collectedPaths: string[][] = [];
  readonly runs: FakeRun[] = [];
  readonly builds: {
    dockerfile: string;
    contextDir: string | null;
    tag: string;
    labels?: Record<string, string>;
  }[] = [];
  /** Images `pullImage` can get. */
  readonly pullable = new Set<string>();
  /** Bind sources missing on the engine's host (`checkMounts` names the first). */
  readonly missingSources = new Set<string>();
  /** Thrown by `buildImage` when set. */
  buildError: Error | null = null;
  /** Thrown by `buildLayer` when set (once). */
  layerError: Error | null = null;
  /** The answer of `seesPath`. */
  sharesFiles = true;
  /** Directories `seesPath` was asked about, and whether each existed then. */
  readonly probes: { dir: string; existed: boolean }[] = [];
  onRun: RunHandler = () => ({});
  #serial = 0;

  /** Put an image in, as if built or pulled earlier. */
  addImage(
    name: string,
    labels: Record<string, string> = {},
    extra: Partial<FakeImage> = {},
  ): FakeImage {
    const image: FakeImage = {
      id: `sha256:fake${++this.#serial}`,
      labels,
      created: this.#serial,
      base: null,
      layer: null,
      ...extra,
    };
    this.images.set(name, image);
    return image;
  }

  info(): Promise<EngineInfo> {
    this.calls.push("info");
    return Promise.resolve(this.engine);
  }

  hasImage(name: string): Promise<boolean> {
    this.calls.push(`has ${name}`);
    return Promise.resolve(this.images.has(name));
  }

  inspectImage(
    name: string,
  ): Promise<{ id: string; labels: Record<string, string> } | null> {
    this.calls.push(`inspect ${name}`);
    const image = this.images.get(name);
    return Promise.resolve(
      image === undefined ? null : { id: image.id, labels: image.labels },
    );
  }

  pullImage(
    name: string,
    options: { onProgress?: ProgressSink } = {},
  ): Promise<void> {
    this.calls.push(`pull ${name}`);
    if (!this.pullable.has(name)) {
      return Promise.reject(
        new EnvironmentError(`Image "${name}" could not be pulled`),
      );
    }
    options.onProgress?.(`${name}: Pull complete`);
    this.addImage(name);
    return Promise.resolve();
  }

  buildImage(options: {
    dockerfile: string;
    contextDir: string | null;
    tag: string;
    labels?: Record<string, string>;
    onProgress?: ProgressSink;
  }): Promise<void> {
    this.calls.push(`build ${options.tag}`);
    this.builds.push({
      dockerfile: options.dockerfile,
      contextDir: options.contextDir,
      tag: options.tag,
      ...(options.labels === undefined ? {} : { labels: options.labels }),
    });
    options.onProgress?.("Step 1/1 : FROM x");
    if (this.buildError !== null) return Promise.reject(this.buildError);
    this.addImage(options.tag, options.labels ?? {});
    return Promise.resolve();
  }

  async buildLayer(options: {
    base: string;
    content: AsyncIterable<Uint8Array>;
    tag: string;
    labels: Record<string, string>;
    signal?: AbortSignal;
  }): Promise<void> {
    this.calls.push(`layer ${options.tag}`);
    options.signal?.throwIfAborted();
    if (!this.images.has(options.base)) {
      throw new EnvironmentError(`No such image: ${options.base}`);
    }
    const layer = await readAll(options.content);
    if (this.layerError !== null) {
      const error = this.layerError;
      this.layerError = null;
      throw error;
    }
    this.addImage(options.tag, options.labels, { base: options.base, layer });
  }

  async run(spec: ContainerSpec, options: RunOptions): Promise<RunResult> {
    this.calls.push(`run ${spec.image}`);
    options.signal?.throwIfAborted();
    if (!this.images.has(spec.image)) {
      throw new EnvironmentError(`No such image: ${spec.image}`);
    }
    const run: FakeRun = {
      spec,
      options,
      files: options.files ?? [],
      content: options.content === undefined
        ? null
        : await readAll(options.content()),
    };
    this.runs.push(run);
    const got = await this.onRun(run, this);
    const collected: RunResult["collected"] = {};
    const wants = typeof options.collect === "function"
      ? options.collect({
        stderr: got.stderr ?? new Uint8Array(),
        stderrTruncated: got.stderrTruncated ?? false,
      })
      : options.collect ?? [];
    this.collectedPaths.push(wants.map((w) => w.path));
    for (const want of wants) {
      collected[want.path] = got.collected?.[want.path] ?? { kind: "missing" };
    }
    const changes: FsChange[] | null = options.changes === true
      ? got.changes ?? []
      : null;
    const result: RunResult = {
      containerId: `fake-container-${this.runs.length}`,
      exitCode: 0,
      stdout: new Uint8Array(),
      stderr: new Uint8Array(),
      stdoutTruncated: false,
      stderrTruncated: false,
      timedOut: false,
      oomKilled: false,
      ...got,
      collected,
      changes,
    };
    if (
      options.commit !== undefined && result.exitCode === 0 &&
      !result.timedOut
    ) {
      const { labels } = options.commit;
      this.calls.push(`commit ${options.commit.tag}`);
      this.addImage(
        options.commit.tag,
        typeof labels === "function" ? labels(changes ?? []) : labels,
        { base: spec.image },
      );
    }
    return result;
  }

  settled(): Promise<void> {
    return Promise.resolve();
  }

  startSandbox(_spec: ContainerSpec): Promise<Sandbox> {
    return Promise.reject(new Error("FakeRuntime: no sandboxes"));
  }

  async seesPath(dir: string, image: string): Promise<boolean> {
    this.calls.push(`sees ${image}`);
    const existed = await Deno.stat(dir).then(() => true, () => false);
    this.probes.push({ dir, existed });
    return this.sharesFiles;
  }

  checkMounts(mounts: readonly Mount[], image: string): Promise<void> {
    this.calls.push(`check-mounts ${image}`);
    const missing = mounts.find((m) =>
      m.type === "bind" && this.missingSources.has(m.source)
    );
    return missing === undefined ? Promise.resolve() : Promise.reject(
      new EnvironmentError(
        `--mount source ${missing.source} does not exist on the engine's host`,
      ),
    );
  }

  removeContainers(labels: Record<string, string>): Promise<number> {
    this.calls.push(`remove-containers ${JSON.stringify(labels)}`);
    return Promise.resolve(0);
  }

  createVolume(name: string, labels: Record<string, string>): Promise<void> {
    this.calls.push(`volume ${name}`);
    this.volumes.set(name, labels);
    return Promise.resolve();
  }

  removeVolumes(labels: Record<string, string>): Promise<number> {
    this.calls.push(`remove-volumes ${JSON.stringify(labels)}`);
    let n = 0;
    for (const [name, own] of [...this.volumes]) {
      if (matches(own, labels)) {
        this.volumes.delete(name);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  removeImage(name: string): Promise<void> {
    this.calls.push(`remove-image ${name}`);
    this.images.delete(name);
    return Promise.resolve();
  }

  removeImages(labels: Record<string, string>): Promise<number> {
    this.calls.push(`remove-images ${JSON.stringify(labels)}`);
    let n = 0;
    for (const [name, image] of [...this.images]) {
      if (matches(image.labels, labels)) {
        this.images.delete(name);
        n++;
      }
    }
    return Promise.resolve(n);
  }

  listImages(
    labels: Record<string, string>,
  ): Promise<
    { name: string; created: number; labels: Record<string, string> }[]
  > {
    return Promise.resolve(
      [...this.images].filter(([, image]) => matches(image.labels, labels))
        .map(([name, image]) => ({
          name,
          created: image.created,
          labels: image.labels,
        })),
    );
  }
}
