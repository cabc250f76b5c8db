/**
 * The option table: every flag of spec section 3 with its config-file key,
 * type, default and trust rules. Argument parsing, config loading, validation
 * and help text are all generated from this one table so they cannot drift.
 */
import type { Config } from "./config.ts";

/** How a flag's text and a file's JSON value are read. */
export type OptionKind =
  | "string"
  | "int"
  | "number"
  | "boolean"
  | "list"
  | "size"
  | "nullable-size";

/** One row of the table. */
export interface OptionDef {
  /** Property of Config. */
  key: keyof Config;
  /** Flag name without dashes; also the key in ratchet.jsonc and config.json. */
  name: string;
  kind: OptionKind;
  /** Allowed values for enumerations. */
  choices?: readonly string[];
  /** Inclusive bounds for numbers. */
  min?: number;
  max?: number;
  /** Bounds are exclusive (confidence lies strictly inside (0, 1)). */
  exclusive?: boolean;
  /** Required for `run` (and, where marked, for `measure`/`calibrate`). */
  required?: "run" | "all";
  /** A repo's ratchet.jsonc may set it only under --trust-config. */
  trustGated?: boolean;
  /** Used by measure and calibrate as well as run. */
  measure?: boolean;
  /** One line of help. */
  help: string;
  /** Placeholder in help, e.g. "N". */
  arg?: string;
}

/** Every configurable option, in help order. */
export const OPTIONS: readonly OptionDef[] = [
  {
    key: "runCommand",
    name: "run-command",
    kind: "string",
    required: "all",
    measure: true,
    arg: "CMD",
    help: "shell command that produces the report (sh -c in the container)",
  },
  {
    key: "direction",
    name: "direction",
    kind: "string",
    choices: ["max", "min"],
    required: "run",
    measure: true,
    arg: "max|min",
    help: "whether a larger or a smaller metric is better",
  },
  {
    key: "metricName",
    name: "metric-name",
    kind: "string",
    required: "all",
    measure: true,
    arg: "NAME",
    help: "name of the metric inside the report",
  },
  {
    key: "reportSource",
    name: "report-source",
    kind: "string",
    required: "all",
    measure: true,
    arg: "SRC",
    help:
      "stdout, stderr, wall (ratchet's own timing) or a path read after each trial",
  },
  {
    key: "trials",
    name: "trials",
    kind: "int",
    min: 1,
    max: 1000,
    measure: true,
    arg: "N",
    help: "trials per candidate (under stat: starting count per side)",
  },
  {
    key: "iterations",
    name: "iterations",
    kind: "int",
    min: 0,
    max: 100000,
    arg: "N",
    help: "proposals; records are iterations 0 (baseline) to N",
  },
  {
    key: "threshold",
    name: "threshold",
    kind: "number",
    arg: "X",
    help: "stop once the incumbent's mean reaches X",
  },
  {
    key: "patience",
    name: "patience",
    kind: "int",
    min: 0,
    max: 100000,
    arg: "K",
    help: "stop after K consecutive iterations that are not improved (0 = off)",
  },
  {
    key: "minImprovement",
    name: "min-improvement",
    kind: "number",
    min: 0,
    arg: "X",
    help: "absolute margin over the incumbent to count as improved",
  },
  {
    key: "maxConsecutiveCrashes",
    name: "max-consecutive-crashes",
    kind: "int",
    min: 1,
    max: 100000,
    arg: "N",
    help: "stop after N consecutive crashed iterations",
  },
  {
    key: "trialTimeoutSeconds",
    name: "trial-timeout-seconds",
    kind: "number",
    min: 0.001,
    measure: true,
    arg: "S",
    help: "per-trial wall-clock cap; the container is killed",
  },
  {
    key: "critic",
    name: "critic",
    kind: "boolean",
    help: "two proposers and a judge before each change",
  },
  {
    key: "instructions",
    name: "instructions",
    kind: "string",
    arg: "TEXT",
    help: "run-specific integrity rules, layered on instructions/integrity.md",
  },
  {
    key: "instructionsFile",
    name: "instructions-file",
    kind: "string",
    arg: "FILE",
    help:
      "read the run-specific rules from FILE (relative to the current directory)",
  },
  {
    key: "editable",
    name: "editable",
    kind: "list",
    measure: true,
    arg: "GLOB",
    help: "allowlist: the only paths the model may change (repeatable)",
  },
  {
    key: "harness",
    name: "harness",
    kind: "list",
    measure: true,
    arg: "GLOB",
    help: "read-only paths: tests, eval data, scoring code (repeatable)",
  },
  {
    key: "scratch",
    name: "scratch",
    kind: "list",
    measure: true,
    arg: "PATH",
    help: "writable paths in trials even under --editable (repeatable)",
  },
  {
    key: "image",
    name: "image",
    kind: "string",
    trustGated: true,
    measure: true,
    arg: "NAME",
    help: "trial image (default: built from the embedded Dockerfile)",
  },
  {
    key: "dockerfile",
    name: "dockerfile",
    kind: "string",
    trustGated: true,
    measure: true,
    arg: "PATH",
    help: "build the trial image from this Dockerfile at run start",
  },
  {
    key: "prepareCommand",
    name: "prepare-command",
    kind: "string",
    trustGated: true,
    measure: true,
    arg: "CMD",
    help: "runs once per run with network; its result is the trial image",
  },
  {
    key: "setupCommand",
    name: "setup-command",
    kind: "string",
    measure: true,
    arg: "CMD",
    help: "runs in each trial container before the run command, untimed",
  },
  {
    key: "checkCommand",
    name: "check-command",
    kind: "string",
    arg: "CMD",
    help: "correctness gate per candidate; non-zero exit rejects it",
  },
  {
    key: "metricPattern",
    name: "metric-pattern",
    kind: "string",
    measure: true,
    arg: "REGEX",
    help: "one capture group holding the number; replaces the built-in rules",
  },
  {
    key: "guard",
    name: "guard",
    kind: "list",
    measure: true,
    arg: "NAME:max|min[:TOL]",
    help:
      "a secondary metric from the same report that must not get worse by more than TOL (relative, default 0.02) (repeatable)",
  },
  {
    key: "decision",
    name: "decision",
    kind: "string",
    choices: ["stat", "mean"],
    arg: "stat|mean",
    help: "stat (sequential one-sided test) or mean (the original rule)",
  },
  {
    key: "confidence",
    name: "confidence",
    kind: "number",
    min: 0,
    max: 1,
    exclusive: true,
    arg: "P",
    help: "one-sided confidence for stat",
  },
  {
    key: "minEffect",
    name: "min-effect",
    kind: "number",
    min: 0,
    max: 10,
    arg: "R",
    help: "smallest relative change that counts under stat (0.02 = 2%)",
  },
  {
    key: "maxTrials",
    name: "max-trials",
    kind: "int",
    min: 1,
    max: 1000,
    arg: "N",
    help: "most trials per side under stat",
  },
  {
    key: "model",
    name: "model",
    kind: "string",
    arg: "NAME",
    help: "model for all roles (RATCHET_MODEL overrides the default)",
  },
  {
    key: "maxCostUsd",
    name: "max-cost-usd",
    kind: "number",
    min: 0,
    arg: "X",
    help: "stop before an API call would exceed X dollars; 0 = no cap",
  },
  {
    key: "maxToolCalls",
    name: "max-tool-calls",
    kind: "int",
    min: 1,
    max: 10000,
    arg: "N",
    help: "tool calls per proposal",
  },
  {
    key: "bashTimeoutSeconds",
    name: "bash-timeout-seconds",
    kind: "number",
    min: 1,
    max: 86400,
    arg: "S",
    help: "per bash tool call",
  },
  {
    key: "cpus",
    name: "cpus",
    kind: "number",
    min: 0.01,
    max: 1024,
    measure: true,
    arg: "N",
    help: "CPUs per container",
  },
  {
    key: "memory",
    name: "memory",
    kind: "nullable-size",
    measure: true,
    arg: "SIZE",
    help: "memory per container (e.g. 4g, 512m); none = no limit",
  },
  {
    key: "pidsLimit",
    name: "pids-limit",
    kind: "int",
    min: 16,
    max: 4194304,
    measure: true,
    arg: "N",
    help: "processes per container",
  },
  {
    key: "shmSize",
    name: "shm-size",
    kind: "size",
    measure: true,
    arg: "SIZE",
    help: "/dev/shm size per container",
  },
  {
    key: "maxFileSize",
    name: "max-file-size",
    kind: "nullable-size",
    arg: "SIZE",
    help:
      "largest new or changed file a candidate may have (e.g. 10m, 1g); none = no cap",
  },
  {
    key: "gpus",
    name: "gpus",
    kind: "string",
    trustGated: true,
    measure: true,
    arg: "SPEC",
    help: "GPUs passed to the engine (all, device=0)",
  },
  {
    key: "network",
    name: "network",
    kind: "string",
    choices: ["none", "bridge"],
    trustGated: true,
    measure: true,
    arg: "none|bridge",
    help: "network of trial and sandbox containers",
  },
  {
    key: "mount",
    name: "mount",
    kind: "list",
    trustGated: true,
    measure: true,
    arg: "SRC:DST[:ro]",
    help: "extra host path in containers (repeatable)",
  },
  {
    key: "passEnv",
    name: "pass-env",
    kind: "list",
    trustGated: true,
    measure: true,
    arg: "NAME",
    help: "host variable passed into trials; ANTHROPIC_* refused (repeatable)",
  },
  {
    key: "cache",
    name: "cache",
    kind: "list",
    trustGated: true,
    measure: true,
    arg: "PATH",
    help: "container path kept in a per-run volume across trials (repeatable)",
  },
];

/**
 * Keys only a file may hold (no flag): the price table override. Listed apart
 * so the flag parser does not offer them.
 */
export const FILE_ONLY_KEYS = ["prices"] as const;

/**
 * File-only keys a repository's file may set only under --trust-config:
 * prices of 0 would defeat --max-cost-usd.
 */
export const TRUST_GATED_FILE_ONLY: readonly string[] = ["prices"];

/** Look up a row by flag/file name. */
export function optionByName(name: string): OptionDef | undefined {
  return OPTIONS.find((o) => o.name === name);
}
