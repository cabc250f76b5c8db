/**
 * `--no-NAME`: resetting on the command line what a config file set. Every
 * option that can be off (its default is none, off, empty) has one, by one
 * rule, so the names need no memorizing: `--no-critic`, `--no-threshold`,
 * `--no-trial-timeout-seconds`, `--no-image`, `--no-gpus`, `--no-harness` …
 * A negation puts the option back to its default, above the config file.
 */
import type { Config } from "./config.ts";
import { type OptionDef, OPTIONS } from "./options.ts";
import { DEFAULTS } from "./defaults.ts";

/** Whether `def`'s default is "not set": null, false, "" or an empty list. */
function offByDefault(def: OptionDef): boolean {
  if (def.required !== undefined) return false;
  const value = (DEFAULTS as Record<string, unknown>)[def.key as keyof Config];
  return value === null || value === false || value === "" ||
    (Array.isArray(value) && value.length === 0);
}

/** The options that have a `--no-NAME` flag, in help order. */
export const NEGATABLE: readonly OptionDef[] = OPTIONS.filter(offByDefault);

/** `--no-NAME` for `def`. */
export function negationFlag(def: OptionDef): string {
  return `no-${def.name}`;
}
