/**
 * The trial image (spec section 3: `--image`, `--dockerfile`,
 * `--prepare-command`). The default image is built from the repository's
 * `Dockerfile`, embedded with a text import so the shipped single file needs
 * nothing beside it, and tagged by ratchet version and Dockerfile content so
 * it is built once and rebuilt exactly when either changes.
 */
import { createHash } from "node:crypto";
import { dirname, resolve } from "node:path";
import dockerfile from "../../Dockerfile" with { type: "text" };
import { ConfigError, EnvironmentError, RatchetError } from "../errors.ts";
import type { Config } from "../config/config.ts";
import { VERSION } from "../version.ts";
import type {
  ContainerRuntime,
  Limits,
  Mount,
  ProgressSink,
} from "./runtime.ts";

/** The embedded default Dockerfile (debian with python3, git, build tools). */
export const DEFAULT_DOCKERFILE: string = dockerfile;

/** Lines of the prepare command's output quoted when it fails. */
const TAIL_LINES = 30;
/** Output cap of the prepare step, per stream (as for trials). */
const PREPARE_OUTPUT_CAP = 10 * 1024 * 1024;

/** Labels every image ratchet builds carries, so they can be found and pruned. */
function imageLabels(version: string, kind: string): Record<string, string> {
  return { "ratchet.image": kind, "ratchet.version": version };
}

/** First 12 hex digits of the sha256 of `text`. */
function shortHash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** Docker tags allow [A-Za-z0-9_.-] (at most 128, not starting with . or -). */
function tagPart(text: string): string {
  const cleaned = text.replace(/[^A-Za-z0-9_.-]/g, "_").replace(/^[.-]+/, "");
  return (cleaned === "" ? "_" : cleaned).slice(0, 100);
}

/**
 * Tag of the default trial image: `ratchet-trial:<version>-<first 12 hex of
 * sha256(Dockerfile text)>`.
 */
export function defaultImageTag(
  version: string,
  dockerfileText: string,
): string {
  return `ratchet-trial:${tagPart(version)}-${shortHash(dockerfileText)}`;
}

/**
 * Tag of an image built from `--dockerfile`: the hash covers the path too, so
 * two repositories with the same Dockerfile text do not share a tag.
 */
export function customImageTag(
  dockerfilePath: string,
  dockerfileText: string,
): string {
  return `ratchet-trial:custom-${
    shortHash(`${resolve(dockerfilePath)}\0${dockerfileText}`)
  }`;
}

/** Tag of a run's prepared image: `ratchet-prepared:<run_id>`. */
export function preparedImageTag(runId: string): string {
  return `ratchet-prepared:${tagPart(runId.toLowerCase())}`;
}

/** Options of `ensureTrialImage`. */
export interface EnsureTrialImageOptions {
  /** `--image`: used as is; must exist locally or be pullable. */
  image: string | null;
  /** `--dockerfile`: built at run start, context = its directory. `text` is read from `path` when absent. */
  dockerfile: { path: string; text?: string } | null;
  /** ratchet's version, part of the default image's tag. */
  version: string;
  /** Build and pull output, one line at a time. */
  onProgress?: ProgressSink;
  /** Replaces the embedded Dockerfile (tests build a tiny one). */
  defaultDockerfile?: string;
  /** Aborts a build or pull in flight (the request is cut off). */
  signal?: AbortSignal;
}

/**
 * The trial image a configuration asks for (`--image`, `--dockerfile` taken
 * from the repo root, or the embedded default), ready to use: what `run`,
 * `resume`, `measure` and `calibrate` all start from.
 */
export function ensureConfiguredImage(
  runtime: ContainerRuntime,
  config: Pick<Config, "image" | "dockerfile">,
  options: { root: string; onProgress?: ProgressSink; signal?: AbortSignal },
): Promise<string> {
  return ensureTrialImage(runtime, {
    image: config.image,
    // Relative to the repo root; an absolute path is taken as it is.
    dockerfile: config.dockerfile === null
      ? null
      : { path: resolve(options.root, config.dockerfile) },
    version: VERSION,
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
}

/**
 * Make sure the trial image exists and return its name. `--image` must exist
 * locally or be pullable; `--dockerfile` is built every run start (the engine's
 * layer cache makes an unchanged one fast); the default image is built from the
 * embedded Dockerfile only when its tag is missing. Any failure is an
 * EnvironmentError (exit 3) naming the image or the Dockerfile.
 */
export async function ensureTrialImage(
  runtime: ContainerRuntime,
  options: EnsureTrialImageOptions,
): Promise<string> {
  const progress = options.onProgress ?? (() => {});
  if (options.image !== null && options.dockerfile !== null) {
    throw new ConfigError(
      `--image (${options.image}) and --dockerfile (${options.dockerfile.path}) cannot both be set`,
      {
        key: "image",
        hint:
          "Keep one: --image uses an existing image, --dockerfile builds one.",
      },
    );
  }

  if (options.image !== null) {
    const image = options.image;
    if (await runtime.hasImage(image)) return image;
    progress(`Image ${image} is not present locally; pulling it`);
    await runtime.pullImage(
      image,
      progress,
      ...(options.signal ? [{ signal: options.signal }] : []),
    );
    if (!(await runtime.hasImage(image))) {
      throw new EnvironmentError(
        `Image "${image}" is missing after pulling it`,
        {
          hint:
            `Build or pull it yourself (\`docker pull ${image}\`), or leave out --image.`,
        },
      );
    }
    return image;
  }

  if (options.dockerfile !== null) {
    const { path } = options.dockerfile;
    const text = options.dockerfile.text ?? await readDockerfile(path);
    const tag = customImageTag(path, text);
    progress(`Building trial image ${tag} from ${path}`);
    await build(runtime, {
      dockerfile: text,
      contextDir: dirname(resolve(path)),
      tag,
      labels: imageLabels(options.version, "custom"),
      onProgress: progress,
      ...(options.signal ? { signal: options.signal } : {}),
    }, `--dockerfile ${path}`);
    return tag;
  }

  const text = options.defaultDockerfile ?? DEFAULT_DOCKERFILE;
  const tag = defaultImageTag(options.version, text);
  if (await runtime.hasImage(tag)) return tag;
  progress(
    `Building the default trial image ${tag} (once per ratchet version)`,
  );
  await build(runtime, {
    dockerfile: text,
    contextDir: null,
    tag,
    labels: imageLabels(options.version, "default"),
    onProgress: progress,
    ...(options.signal ? { signal: options.signal } : {}),
  }, "the default Dockerfile");
  return tag;
}

async function readDockerfile(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    throw new EnvironmentError(
      `Cannot read --dockerfile ${path}: ${
        error instanceof Error ? error.message : String(error)
      }`,
      {
        hint:
          "Paths are relative to the repository root; check the file exists.",
        cause: error,
      },
    );
  }
}

/** Build, naming what was built in the error (the runtime's message keeps the log tail). */
async function build(
  runtime: ContainerRuntime,
  options: Parameters<ContainerRuntime["buildImage"]>[0],
  what: string,
): Promise<void> {
  try {
    await runtime.buildImage(options);
  } catch (error) {
    // A build cut off by a signal is the signal, not a broken Dockerfile.
    if (options.signal?.aborted) throw options.signal.reason ?? error;
    if (error instanceof EnvironmentError) {
      throw new EnvironmentError(
        `Could not build the trial image from ${what}. ${error.message}`,
        error.hint === undefined
          ? { cause: error }
          : { hint: error.hint, cause: error },
      );
    }
    throw error;
  }
}

/** Options of `prepareImage`: the prepare container's spec, minus image, cmd and network. */
export interface PrepareImageOptions {
  /** The trial image the prepare step runs on. */
  baseImage: string;
  runId: string;
  /** `--prepare-command`, run under `sh -c`. */
  command: string;
  workingDir: string;
  /**
   * The prepare container's environment. It is committed into the image's
   * configuration, so trial containers inherit keys they do not set themselves.
   */
  env: Record<string, string>;
  user: string;
  mounts: Mount[];
  limits: Limits;
  labels: Record<string, string>;
  /** Wall-clock cap; null = none. */
  timeoutMs?: number | null;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
}

/**
 * Run `--prepare-command` once, with network, on top of `baseImage`, and commit
 * the result as `ratchet-prepared:<run_id>`, which becomes the run's trial
 * image. An existing tag is reused (resume). A command that fails, times out
 * or runs out of memory is an EnvironmentError quoting the end of its output;
 * nothing is committed then.
 */
export async function prepareImage(
  runtime: ContainerRuntime,
  options: PrepareImageOptions,
): Promise<string> {
  const progress = options.onProgress ?? (() => {});
  const tag = preparedImageTag(options.runId);
  if (await runtime.hasImage(tag)) {
    progress(`Reusing prepared image ${tag}`);
    return tag;
  }
  progress(`Running --prepare-command on ${options.baseImage} (with network)`);
  const runOptions: Parameters<ContainerRuntime["run"]>[1] = {
    timeoutMs: options.timeoutMs ?? null,
    outputCapBytes: PREPARE_OUTPUT_CAP,
  };
  if (options.signal !== undefined) runOptions.signal = options.signal;
  const result = await runtime.runAndCommit(
    {
      image: options.baseImage,
      cmd: ["sh", "-c", options.command],
      workingDir: options.workingDir,
      env: options.env,
      user: options.user,
      mounts: options.mounts,
      // The prepare step always has network (installing dependencies, data).
      network: "bridge",
      limits: options.limits,
      labels: options.labels,
    },
    tag,
    runOptions,
  );

  const failure = result.timedOut
    ? `timed out after ${(options.timeoutMs ?? 0) / 1000} s`
    : result.oomKilled
    ? "was killed for lack of memory"
    : result.exitCode !== 0
    ? `exited with code ${result.exitCode}`
    : null;
  if (failure !== null) {
    const tail = outputTail(result.stdout, result.stderr);
    throw new EnvironmentError(
      `--prepare-command ${failure}: ${options.command}` +
        (tail === "" ? "" : `\nLast lines of its output:\n${tail}`),
      {
        hint: result.oomKilled
          ? "Raise --memory, or make the command use less memory."
          : "Fix the command (try it with `docker run --rm -it " +
            options.baseImage + " sh`), then run again.",
      },
    );
  }
  if (!(await runtime.hasImage(tag))) {
    throw new RatchetError(
      `Committing the prepared image ${tag} left no image`,
    );
  }
  progress(`Prepared image ${tag}`);
  return tag;
}

/** The last lines of stderr and stdout, each labelled. */
function outputTail(stdout: Uint8Array, stderr: Uint8Array): string {
  const decoder = new TextDecoder();
  const lastLines = (bytes: Uint8Array) =>
    decoder.decode(bytes).trimEnd().split("\n").slice(-TAIL_LINES).join("\n");
  const parts: string[] = [];
  const err = lastLines(stderr);
  const out = lastLines(stdout);
  if (out !== "") parts.push(`[stdout]\n${out}`);
  if (err !== "") parts.push(`[stderr]\n${err}`);
  return parts.join("\n");
}
