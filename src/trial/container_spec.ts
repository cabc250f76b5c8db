/**
 * The one builder of container specs (spec section 5, "Container"): trial,
 * check, sandbox, critic and prepare containers, and the helpers that open
 * cache volumes. Pure: every host fact (the trial user, the environment
 * values) is passed in.
 *
 * Layout inside every container: the tree at `/work` (from its image), HOME
 * a tmpfs at `/tmp/home`, ratchet's per-trial control directory at
 * `/.ratchet-trial` (in the tree image), `--cache` volumes and
 * `--mount` binds where the user said.
 */
import { createHash } from "node:crypto";
import { isAbsolute, join, posix } from "node:path";
import type { Config, MountSpec } from "../config/config.ts";
import { ConfigError } from "../errors.ts";
import type { ContainerSpec, Limits, Mount } from "../infra/runtime.ts";

/** Where the tree is inside every container. */
export const WORK_DIR = "/work";
/** HOME inside containers (a tmpfs). */
export const HOME_DIR = "/tmp/home";
/** ratchet's per-trial control directory inside trial and check containers. */
export const CONTROL_DIR = "/.ratchet-trial";

/** The run-wide facts every spec is built from. */
export interface SpecContext {
  runId: string;
  config: Pick<
    Config,
    | "cpus"
    | "memory"
    | "pidsLimit"
    | "shmSize"
    | "gpus"
    | "network"
    | "passEnv"
  >;
  /** "uid:gid" of the trial user. */
  user: string;
  /** Reads a host variable; only `--pass-env` names are ever asked for. */
  env: (name: string) => string | undefined;
  /** `--mount` binds, sources as the engine's host names them. */
  extraMounts: readonly Mount[];
  /** Extra labels on every container (tests add `ratchet.test`). */
  labels?: Record<string, string>;
}

/** Container limits from the config. */
export function limitsOf(config: SpecContext["config"]): Limits {
  return {
    cpus: config.cpus,
    memoryBytes: config.memory,
    pidsLimit: config.pidsLimit,
    shmSizeBytes: config.shmSize,
    gpus: config.gpus,
  };
}

/** The environment of a trial: HOME plus the `--pass-env` names the host has; never ANTHROPIC_*. */
export function trialEnv(
  passEnv: readonly string[],
  read: (name: string) => string | undefined,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of passEnv) {
    // Config validation refuses these; this is the last line of defence.
    if (/^ANTHROPIC_/i.test(name)) continue;
    const value = read(name);
    if (value !== undefined) env[name] = value;
  }
  // ratchet's HOME wins: it is the one place known to be writable.
  env.HOME = HOME_DIR;
  return env;
}

const HOME_MOUNT: Mount = {
  type: "tmpfs",
  source: "",
  target: HOME_DIR,
  readOnly: false,
};

function labelsOf(
  ctx: SpecContext,
  own: Record<string, string>,
): Record<string, string> {
  return { "ratchet.run": ctx.runId, ...own, ...ctx.labels };
}

/** The wrapped command of a trial or check container (see wrapper.sh). */
export interface WrappedCommand {
  wrapper: string;
  command: string;
  setupCommand: string | null;
  timeoutSeconds: number | null;
}

/** A trial or `--check-command` container of a tree image. */
export function trialSpec(
  ctx: SpecContext,
  input: {
    image: string;
    run: WrappedCommand;
    iter: number;
    /** "1", "2", … or "check". */
    trial: string;
    caches: readonly Mount[];
  },
): ContainerSpec {
  return {
    image: input.image,
    cmd: [
      "sh",
      "-c",
      input.run.wrapper,
      "ratchet-trial",
      input.run.command,
      input.run.setupCommand ?? "",
      input.run.timeoutSeconds === null ? "" : String(input.run.timeoutSeconds),
    ],
    workingDir: WORK_DIR,
    env: trialEnv(ctx.config.passEnv, ctx.env),
    user: ctx.user,
    mounts: [HOME_MOUNT, ...input.caches, ...ctx.extraMounts],
    network: ctx.config.network,
    limits: limitsOf(ctx.config),
    labels: labelsOf(ctx, {
      "ratchet.iter": String(input.iter),
      "ratchet.trial": input.trial,
    }),
    capabilities: "none",
    readOnlyRoot: false,
  };
}

/** A command that sleeps until stopped: the sandbox's main process. */
const SLEEPER = "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done";

/**
 * The model's sandbox, from the incumbent's tree image: the run's limits and
 * network, the harness read-only by the image's layout. A critic proposer's
 * sandbox (`readOnly`) has its whole root filesystem read-only but HOME and
 * /tmp.
 */
export function sandboxSpec(
  ctx: SpecContext,
  input: { image: string; iter: number; readOnly: boolean },
): ContainerSpec {
  return {
    image: input.image,
    cmd: ["sh", "-c", SLEEPER],
    workingDir: WORK_DIR,
    env: trialEnv(ctx.config.passEnv, ctx.env),
    user: ctx.user,
    mounts: [
      HOME_MOUNT,
      ...(input.readOnly
        ? [{
          type: "tmpfs" as const,
          source: "",
          target: "/tmp",
          readOnly: false,
        }]
        : []),
      ...ctx.extraMounts,
    ],
    network: ctx.config.network,
    limits: limitsOf(ctx.config),
    labels: labelsOf(ctx, {
      "ratchet.iter": String(input.iter),
      "ratchet.role": input.readOnly ? "sandbox-readonly" : "sandbox",
    }),
    capabilities: "none",
    readOnlyRoot: input.readOnly,
  };
}

/**
 * The prepare step (spec section 3): the start tree at /work, with network,
 * as root with the engine's default capabilities, running `script`.
 */
export function prepareSpec(
  ctx: SpecContext,
  input: { image: string; script: string; command: string },
): ContainerSpec {
  return {
    image: input.image,
    cmd: ["sh", "-c", input.script, "ratchet-prepare", input.command],
    workingDir: WORK_DIR,
    env: trialEnv(ctx.config.passEnv, ctx.env),
    user: "0:0",
    mounts: [HOME_MOUNT, ...ctx.extraMounts],
    // The prepare step always has network (installing dependencies, data).
    network: "bridge",
    limits: limitsOf(ctx.config),
    labels: labelsOf(ctx, { "ratchet.role": "prepare" }),
    capabilities: "default",
    readOnlyRoot: false,
  };
}

/**
 * A short root container that opens fresh `--cache` volumes to the trial
 * user (a new volume is root-owned, and a trial has no capabilities): each
 * volume's root becomes world-writable with the sticky bit, like /tmp.
 */
export function cacheInitSpec(
  ctx: SpecContext,
  input: { image: string; caches: readonly Mount[] },
): ContainerSpec {
  return {
    image: input.image,
    cmd: [
      "sh",
      "-c",
      'for d in "$@"; do chmod 1777 "$d"; done',
      "ratchet-cache",
      ...input.caches.map((m) => m.target),
    ],
    workingDir: "/",
    env: {},
    user: "0:0",
    mounts: [...input.caches],
    network: "none",
    limits: limitsOf(ctx.config),
    labels: labelsOf(ctx, { "ratchet.role": "cache-init" }),
    capabilities: "default",
    readOnlyRoot: false,
  };
}

/** A container path from a flag: absolute as given, relative taken from /work. */
export function containerPath(path: string): string {
  const p = path.replaceAll("\\", "/");
  return posix.normalize(p.startsWith("/") ? p : `${WORK_DIR}/${p}`).replace(
    /(.)\/+$/,
    "$1",
  );
}

/** Targets ratchet itself uses; `--mount`/`--cache` may not reuse them. */
const RESERVED_TARGETS = [WORK_DIR, HOME_DIR, CONTROL_DIR];

function checkTarget(target: string, flag: string, value: string): void {
  if (RESERVED_TARGETS.includes(target) || target === "/") {
    throw new ConfigError(
      `${flag} ${value}: ${target} is where ratchet keeps its own files`,
      {
        hint: `Choose another container path than /, ${
          RESERVED_TARGETS.join(", ")
        }.`,
        key: flag.slice(2),
      },
    );
  }
}

/**
 * The `--mount SRC:DST[:ro]` binds. A source is a path on the engine's host:
 * an absolute one is taken as given; a relative one is taken from the repo
 * root, which only an engine that shares this machine's files can see
 * (`sharesFiles`), else it is a ConfigError. Whether the source exists is
 * the engine's to say (`ContainerRuntime.checkMounts`).
 */
export function extraMounts(
  repoRoot: string,
  specs: readonly MountSpec[],
  sharesFiles: boolean,
): Mount[] {
  return specs.map((spec) => {
    const shown = `${spec.source}:${spec.target}${spec.readOnly ? ":ro" : ""}`;
    let source = spec.source;
    if (!isAbsolute(source)) {
      if (!sharesFiles) {
        throw new ConfigError(
          `--mount ${shown}: a relative source names a path on this machine, which the engine cannot see`,
          {
            hint:
              "The engine runs elsewhere: give the absolute path of the source on the engine's host.",
            key: "mount",
          },
        );
      }
      source = join(repoRoot, source);
    }
    const target = containerPath(spec.target);
    checkTarget(target, "--mount", shown);
    return { type: "bind", source, target, readOnly: spec.readOnly };
  });
}

/** Docker volume names allow [A-Za-z0-9_.-]. */
function volumePart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_.-]/g, "-");
}

/**
 * The `--cache PATH` volumes of one tree of a run: one named volume per path
 * and per tree, so nothing one side of a comparison writes reaches the other
 * side's trials (spec section 6).
 */
export function cacheMounts(
  runId: string,
  treeKey: string,
  paths: readonly string[],
): Mount[] {
  return [...new Set(paths.map(containerPath))].map((target) => {
    checkTarget(target, "--cache", target);
    const hash = createHash("sha256").update(target).digest("hex").slice(
      0,
      12,
    );
    return {
      type: "volume" as const,
      source: `ratchet-cache-${volumePart(runId)}-${
        volumePart(treeKey).slice(0, 16)
      }-${hash}`,
      target,
      readOnly: false,
    };
  });
}
