/**
 * Find, read and merge configuration: defaults < config file < flags. The
 * file is JSONC (comments, trailing commas).
 *
 * Trust: a file inside the repository (its `ratchet.jsonc`, or a `--config`
 * file that lies in it) is the repository's content, untrusted unless the
 * user passes --trust-config: it may not set the trust-gated keys, raise the
 * resource limits past fixed ceilings, or name an instructions file outside
 * the repository. A `--config` file outside the repository is the user's own
 * and trusted like the flags. "Inside" counts both the path as given and
 * where its symlinks lead, so a link cannot launder a repository's file.
 */
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import { parse, type ParseError, printParseErrorCode } from "jsonc-parser";
import type { Config } from "./config.ts";
import { validateValues } from "./schema.ts";
import { checkUntrusted } from "./trust.ts";
import { type ConfigPurpose, finalizeConfig } from "./finalize.ts";
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
  /** Follows symlinks (default Deno.realPath); tests fake it. */
  realPath?: (path: string) => Promise<string>;
}

/** The loaded configuration and where it came from. */
export interface LoadedConfig {
  config: Config;
  /** Absolute path of the file read, or null. */
  configFile: string | null;
  /**
   * The config file's path relative to the repository root when it lies in
   * the repository (protected from the model), else null. Without
   * `--config` it is ratchet.jsonc, whether or not the file exists.
   */
  configInRepo: string | null;
  /** The file's gated keys were allowed (--trust-config, or a --config file outside the repository). */
  trusted: boolean;
}

/** True when `path` is `root` or lies below it (both absolute). */
function isWithin(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === "" ||
    (!isAbsolute(rel) && rel !== ".." && !rel.startsWith(`..${sep}`));
}

/** Where symlinks lead `path`, or the path itself when it does not exist. */
async function realOrSelf(
  realPath: (path: string) => Promise<string>,
  path: string,
): Promise<string> {
  try {
    return await realPath(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return path;
    throw error;
  }
}

/**
 * The repository-relative path of `path` when it lies in the repository,
 * as given or once its symlinks are followed; null when it lies outside.
 */
async function pathInRepo(
  realPath: (path: string) => Promise<string>,
  repoRoot: string,
  path: string,
): Promise<string | null> {
  if (isWithin(repoRoot, path)) return relative(repoRoot, path) || ".";
  const realRoot = await realOrSelf(realPath, repoRoot);
  const real = await realOrSelf(realPath, path);
  return isWithin(realRoot, real) ? relative(realRoot, real) || "." : null;
}

/**
 * An untrusted file's `instructions-file` must name a file inside the
 * repository: no absolute path, no `..`, no symlink that leaves it. Its
 * contents go into the system prompt (and to the API), so a repository could
 * otherwise read `~/.aws/credentials` into it.
 */
async function checkUntrustedInstructionsFile(
  value: string,
  file: string,
  options: LoadConfigOptions,
  label: string,
): Promise<void> {
  const refuse = (why: string) =>
    new ConfigError(
      `Refusing "instructions-file": ${
        JSON.stringify(value)
      } from ${label}: ${why}; a repository's config may name only a file inside the repository`,
      {
        key: "instructions-file",
        hint:
          "Pass --instructions-file on the command line, or add --trust-config if you trust this repository.",
      },
    );
  if (isAbsolute(value) || /^[A-Za-z]:/.test(value)) {
    throw refuse("it is an absolute path");
  }
  if (value.split(/[\\/]/).includes("..")) {
    throw refuse('it climbs with ".."');
  }
  if (!isWithin(options.repoRoot, file)) {
    throw refuse("it lies outside the repository");
  }
  const realPath = options.realPath ?? Deno.realPath;
  const realRoot = await realOrSelf(realPath, options.repoRoot);
  const real = await realOrSelf(realPath, file);
  if (!isWithin(realRoot, real)) {
    throw refuse(`a symlink leads it to ${real}, outside the repository`);
  }
  // Inside, but not the repository's content: git's own files (a remote's
  // URL may carry a token) and ratchet's state.
  for (
    const rel of [relative(options.repoRoot, file), relative(realRoot, real)]
  ) {
    const top = rel.split(/[\\/]/)[0];
    if (top === ".git" || top === ".ratchet") {
      throw refuse(`it lies in ${top}, which is not the repository's content`);
    }
  }
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
  const realPath = options.realPath ?? Deno.realPath;
  const inRepo = await pathInRepo(realPath, options.repoRoot, path);
  // A --config file outside the repository is the user's; anything in the
  // repository is the repository's (see the module comment).
  const trusted = options.trustConfig || (explicit && inRepo === null);
  let fileValues: Partial<Config> = {};
  if (text !== null) {
    const raw = parseJsonc(text, label);
    if (!trusted) checkUntrusted(raw, label);
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
    const fromFile = options.flags.instructionsFile === undefined &&
      fileValues.instructionsFile !== undefined;
    if (fromFile && !trusted) {
      await checkUntrustedInstructionsFile(
        config.instructionsFile,
        file,
        options,
        label,
      );
    }
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
  return {
    config,
    configFile: text === null ? null : path,
    configInRepo: inRepo,
    trusted,
  };
}
