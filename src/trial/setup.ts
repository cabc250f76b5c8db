/**
 * What every command that runs trials sets up first (run, resume, measure,
 * calibrate): the engine's facts, the user trials run as, whether the engine
 * shares this machine's files, the `--mount` binds checked on the engine's
 * host, the trial image, and the prepare step on top of it.
 */
import type { Config } from "../config/config.ts";
import type { Ident } from "../core/tree_layout.ts";
import type { GitContext } from "../infra/git/context.ts";
import { ensureConfiguredImage } from "../infra/image.ts";
import { ownerOf, parseOwner } from "../infra/owner.ts";
import { withProbeDir } from "../infra/store/probe.ts";
import type {
  ContainerRuntime,
  EngineInfo,
  Mount,
  ProgressSink,
} from "../infra/runtime.ts";
import { extraMounts, type SpecContext } from "./container_spec.ts";
import { prepareImage, repoKeyOf } from "./prepare.ts";
import type { TreeSource } from "./tree_source.ts";

/** The engine side of a run or a measure, ready for trials. */
export interface TrialSetup {
  info: EngineInfo;
  /** The user trials run as: the repository's owner, or 0:0 on a rootless engine. */
  trialUser: Ident;
  /** Whether the engine sees this machine's files (a local engine). */
  sharesFiles: boolean;
  extraMounts: Mount[];
  /** The configured image (`--image`, `--dockerfile` or the default). */
  baseImage: string;
  /** The trial image: the base, or the prepared image on top of it. */
  image: string;
  /** Top-level paths the prepare step made under /work. */
  preparedRoots: string[];
  /** With `--prepare-command`: whether its cached result was reused. */
  preparedReused: boolean | null;
}

/** "uid:gid" of a trial user. */
export function userOf(ident: Ident): string {
  return `${ident.uid}:${ident.gid}`;
}

/**
 * Whether the engine sees `root` at the same path: asked with a probe
 * directory the store makes under `.ratchet/tmp/` (and removes, with
 * `.ratchet/` when it was not there).
 */
async function sharesRoot(
  runtime: ContainerRuntime,
  root: string,
  image: string,
): Promise<boolean> {
  return await withProbeDir(root, (probe) => runtime.seesPath(probe, image));
}

/** Inputs of `setUpTrials`. */
export interface SetupInput {
  runtime: ContainerRuntime;
  root: string;
  config: Config;
  /** The run (or measure) id: labels of the prepare container. */
  runId: string;
  /** The start tree, for the prepare step. */
  source: TreeSource;
  /** What the start tree is read from git with. */
  git: GitContext;
  env: (name: string) => string | undefined;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  fault?: (point: string) => void;
  /** A trial image already prepared for this run (resume): reused as is when it exists. */
  preparedImage?: string | null;
}

/**
 * The engine side without the prepare step: what `run` checks before it
 * writes anything.
 */
export async function setUpEngine(
  input: Omit<
    SetupInput,
    "runId" | "source" | "git" | "preparedImage" | "fault"
  >,
): Promise<TrialSetup> {
  const { runtime, config, root } = input;
  const info = await runtime.info();
  const trialUser = info.rootless
    ? { uid: 0, gid: 0 }
    : parseOwner(await ownerOf(root)) ?? { uid: 0, gid: 0 };
  const baseImage = await ensureConfiguredImage(runtime, config, {
    root,
    ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }),
    ...(input.signal === undefined ? {} : { signal: input.signal }),
  });
  const sharesFiles = await sharesRoot(runtime, root, baseImage);
  const mounts = extraMounts(root, config.mount, sharesFiles);
  await runtime.checkMounts(mounts, baseImage);
  return {
    info,
    trialUser,
    sharesFiles,
    extraMounts: mounts,
    baseImage,
    image: baseImage,
    preparedRoots: [],
    preparedReused: null,
  };
}

/**
 * The prepare step on an engine set up by `setUpEngine` (a no-op without
 * `--prepare-command`); a run's own prepared image is reused on resume.
 */
export async function prepareTrials(
  setup: TrialSetup,
  input: SetupInput,
): Promise<TrialSetup> {
  const { runtime, config } = input;
  if (config.prepareCommand === null) return setup;
  const known = input.preparedImage == null
    ? null
    : await runtime.inspectImage(input.preparedImage);
  if (known !== null && input.preparedImage != null) {
    return {
      ...setup,
      image: input.preparedImage,
      preparedRoots: JSON.parse(known.labels["ratchet.prepared-roots"] ?? "[]"),
      preparedReused: true,
    };
  }
  const prepared = await prepareImage({
    runtime,
    spec: specContext(input.runId, config, setup, input.env),
    baseImage: setup.baseImage,
    command: config.prepareCommand,
    source: input.source,
    git: input.git,
    trialUser: setup.trialUser,
    repoKey: repoKeyOf(input.root),
    ...(input.signal === undefined ? {} : { signal: input.signal }),
    ...(input.onProgress === undefined ? {} : { onProgress: input.onProgress }),
    ...(input.fault === undefined ? {} : { fault: input.fault }),
  });
  return {
    ...setup,
    image: prepared.image,
    preparedRoots: prepared.roots,
    preparedReused: prepared.reused,
  };
}

/** Set the engine up for trials, prepare step included. */
export async function setUpTrials(input: SetupInput): Promise<TrialSetup> {
  return await prepareTrials(await setUpEngine(input), input);
}

/** The spec context of a run's containers. */
export function specContext(
  runId: string,
  config: Config,
  setup: Pick<TrialSetup, "trialUser" | "extraMounts">,
  env: (name: string) => string | undefined,
  labels?: Record<string, string>,
): SpecContext {
  return {
    runId,
    config,
    user: userOf(setup.trialUser),
    env,
    extraMounts: setup.extraMounts,
    ...(labels === undefined ? {} : { labels }),
  };
}
