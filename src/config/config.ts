/**
 * The run configuration: every option of spec section 3 in one typed object.
 * Keys are camelCase here and kebab-case (the flag names) in `ratchet.jsonc`
 * and `.ratchet/config.json`; `options.ts` holds the mapping.
 */

import type { GuardSpec } from "../core/guards.ts";

export type Direction = "max" | "min";
export type DecisionRule = "stat" | "mean";
export type NetworkMode = "none" | "bridge";

/** One `--mount SRC:DST[:ro]`. */
export interface MountSpec {
  source: string;
  target: string;
  readOnly: boolean;
}

/** Per-model prices in USD per million tokens. */
export interface ModelPrice {
  input: number;
  output: number;
  cache_write: number;
  cache_read: number;
}

/** The complete, validated configuration of a run. */
export interface Config {
  runCommand: string;
  direction: Direction;
  metricName: string;
  /** `stdout`, `stderr`, `wall`, or a path relative to the repo root. */
  reportSource: string;
  trials: number;
  iterations: number;
  threshold: number | null;
  patience: number;
  minImprovement: number;
  maxConsecutiveCrashes: number;
  trialTimeoutSeconds: number | null;
  critic: boolean;
  instructions: string;
  instructionsFile: string | null;

  editable: string[];
  harness: string[];
  scratch: string[];
  image: string | null;
  dockerfile: string | null;
  prepareCommand: string | null;
  setupCommand: string | null;
  checkCommand: string | null;
  metricPattern: string | null;
  /** `--guard`: secondary metrics that must not get worse. */
  guard: GuardSpec[];
  decision: DecisionRule;
  confidence: number;
  minEffect: number;
  maxTrials: number;
  model: string;
  maxCostUsd: number;
  maxToolCalls: number;
  bashTimeoutSeconds: number;
  cpus: number;
  /** Bytes, or null for `none`. */
  memory: number | null;
  pidsLimit: number;
  /** Bytes. */
  shmSize: number;
  gpus: string | null;
  network: NetworkMode;
  mount: MountSpec[];
  passEnv: string[];
  cache: string[];
  /** Largest new or changed file in a candidate, in bytes; null for `none`. */
  maxFileSize: number | null;
  /** Overrides of the built-in price table, by model name. */
  prices: Record<string, ModelPrice>;
}

/** Model used when neither `--model` nor `RATCHET_MODEL` names one. */
export const DEFAULT_MODEL = "claude-sonnet-4-6";
