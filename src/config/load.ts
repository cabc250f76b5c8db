/**
 * Find, read and merge configuration: defaults < config file < flags. The
 * file is JSONC (comments, trailing commas) and untrusted unless the user
 * passes --trust-config.
 */
import { isAbsolute, join, relative, resolve } from "node:path";
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import type { Config } from "./config.ts";
import {
  checkUntrusted,
  type ConfigPurpose,
  finalizeConfig,
  validateValues,
} from "./schema.ts";
import { ConfigError } from "../errors.ts";

/** Name of the config file looked for at the repo root. */
export const CONFIG_FILE_NAME = "ratchet.jsonc";

/** What loadConfig needs; I/O comes in as functions so tests can fake it. */
export interface LoadConfigOptions {
  /** The current directory (for --config and --instructions-file). */
  cwd: string;
  /** Repository root (or the checkout for `measure`). */
  repoRoot: string;
  /** `--config FILE`, or null to look for ratchet.jsonc at the repo root. */
  configPath: string | null;
  /** Values from flags, already validated. */
  flags: Partial<Config>;
  trustConfig: boolean;
  purpose: ConfigPurpose;
  /** RATCHET_MODEL, which replaces the built-in default model. */
  envModel: string | undefined;
  readTextFile: (path: string) => Promise<string>;
}

/** The loaded configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read, or null. */
  configFile: string | null;
}

/** Turn a JSONC offset into "line L, column C". */
function position(text: string, offset: number): string {
  const before = text.slice(0, offset).split("\n");
  return `line ${before.length}, column ${before.at(-1)!.length + 1}`;
}

/** Parse JSONC text, throwing ConfigError with the position of the first error. */
export function parseJsonc(
  text: string,
  label: string,
): Record<string, unknown> {
  const errors: ParseError[] = [];
  const value = parse(text, errors, {
    allowTrailingComma: true,
    disallowComments: false,
  });
  const first = errors[0];
  if (first) {
    throw new ConfigError(
      `Cannot read config "${label}": ${printParseErrorCode(first.error)} at ${
        position(text, first.offset)
      }`,
      { hint: "Fix the JSON (comments and trailing commas are allowed)." },
    );
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError(
      `Cannot read config "${label}": the top level must be an object`,
      { hint: 'Write { "run-command": "…", … }.' },
    );
  }
  return value as Record<string, unknown>;
}

async function readIfPresent(
  read: (path: string) => Promise<string>,
  path: string,
): Promise<string | null> {
  try {
    return await read(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return null;
    throw error;
  }
}

/** Load the configuration for `run`, `measure` or `calibrate`. */
export async function loadConfig(
  options: LoadConfigOptions,
): Promise<LoadedConfig> {
  const explicit = options.configPath !== null;
  const path = explicit
    ? resolve(options.cwd, options.configPath!)
    : join(options.repoRoot, CONFIG_FILE_NAME);
  const label = relative(options.cwd, path) || path;
  let text: string | null;
  try {
    text = await readIfPresent(options.readTextFile, path);
  } catch (error) {
    throw new ConfigError(
      `Cannot read config "${label}": ${(error as Error).message}`,
      { cause: error, hint: "Check the file's permissions." },
    );
  }
  if (text === null && explicit) {
    throw new ConfigError(`Cannot read config "${label}": no such file`, {
      hint:
        "Check the path given to --config (relative to the current directory).",
    });
  }
  let fileValues: Partial<Config> = {};
  if (text !== null) {
    const raw = parseJsonc(text, label);
    if (!options.trustConfig) checkUntrusted(raw, label);
    fileValues = validateValues(raw, label);
  }
  const modelLayer: Partial<Config> = options.envModel
    ? { model: options.envModel }
    : {};
  const config = finalizeConfig(
    [modelLayer, fileValues, options.flags],
    options.purpose,
  );
  if (config.instructionsFile !== null) {
    const file = isAbsolute(config.instructionsFile)
      ? config.instructionsFile
      : resolve(options.cwd, config.instructionsFile);
    let extra: string;
    try {
      extra = await options.readTextFile(file);
    } catch (error) {
      throw new ConfigError(
        `Cannot read --instructions-file "${config.instructionsFile}": ${
          (error as Error).message
        }`,
        {
          key: "instructions-file",
          cause: error,
          hint:
            "Name a readable text file; the path is relative to the current directory.",
        },
      );
    }
    config.instructions = [config.instructions, extra.trim()].filter((s) =>
      s !== ""
    ).join("\n\n");
    config.instructionsFile = file;
  }
  return { config, configFile: text === null ? null : path };
}
