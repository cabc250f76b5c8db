/**
 * argv → a typed Command (pure). Flags come from the option table so the
 * parser, the config file and the help cannot disagree.
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import type { Config } from "../config/config.ts";
import { type OptionDef, OPTIONS } from "../config/options.ts";
import { coerceFlag, validateValues } from "../config/schema.ts";
import { NEGATABLE, negationFlag } from "../config/negations.ts";
import { UsageError } from "../errors.ts";

/** Commands of spec section 2. */
export const COMMANDS = [
  "run",
  "resume",
  "status",
  "log",
  "report",
  "apply",
  "measure",
  "calibrate",
  "init",
  "instruct",
] as const;
export type CommandName = typeof COMMANDS[number];

/** Flags shared by the commands that load a configuration. */
export interface ConfigFlags {
  /** Validated values given as flags (highest precedence). */
  flags: Partial<Config>;
  configPath: string | null;
  trustConfig: boolean;
}

/** A parsed invocation. */
export type Command =
  | { name: "help"; topic: CommandName | null }
  | { name: "version" }
  | ({ name: "run"; json: boolean; verbose: boolean } & ConfigFlags)
  | {
    name: "resume";
    /** The run settings a resume may change (see RESUME_OPTIONS), validated. */
    flags: Partial<Config>;
    json: boolean;
    verbose: boolean;
  }
  | { name: "status"; json: boolean }
  | { name: "log"; json: boolean }
  | { name: "report"; out: string | null }
  | { name: "apply" }
  | (
    & { name: "measure"; trials: number; json: boolean; verbose: boolean }
    & ConfigFlags
  )
  | (
    & {
      name: "calibrate";
      trials: number;
      json: boolean;
      write: boolean;
      verbose: boolean;
    }
    & ConfigFlags
  )
  | { name: "init"; force: boolean }
  | { name: "instruct"; text: string };

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * What `resume` may change: how long the run goes on and what it may spend,
 * when it stops early, and the model. Everything else (the command, the
 * metric, the harness, the rule, the limits) is fixed for the run: its
 * records are only comparable under the settings that made them.
 */
export const RESUME_OPTIONS = [
  "iterations",
  "max-cost-usd",
  "patience",
  "threshold",
  "model",
] as const;

function optionSpec(def: OptionDef): Options[string] {
  if (def.kind === "boolean") return { type: "boolean" };
  return def.kind === "list"
    ? { type: "string", multiple: true }
    : { type: "string" };
}

/** The options each command accepts, besides --help. */
function optionsFor(command: CommandName): Options {
  const common: Options = { help: { type: "boolean", short: "h" } };
  const configOptions = (filter: (d: OptionDef) => boolean): Options => {
    const out: Options = {
      ...common,
      config: { type: "string" },
      "trust-config": { type: "boolean" },
      json: { type: "boolean" },
      verbose: { type: "boolean", short: "v" },
    };
    for (const def of OPTIONS.filter(filter)) out[def.name] = optionSpec(def);
    for (const def of NEGATABLE.filter(filter)) {
      out[negationFlag(def)] = { type: "boolean" };
    }
    return out;
  };
  switch (command) {
    case "run":
      return configOptions(() => true);
    case "measure":
    case "calibrate": {
      const out = configOptions((d) => d.measure === true);
      if (command === "calibrate") out.write = { type: "boolean" };
      return out;
    }
    case "resume": {
      const out: Options = {
        ...common,
        json: { type: "boolean" },
        verbose: { type: "boolean", short: "v" },
      };
      const resumable = (d: OptionDef) =>
        (RESUME_OPTIONS as readonly string[]).includes(d.name);
      for (const def of OPTIONS.filter(resumable)) {
        out[def.name] = optionSpec(def);
      }
      for (const def of NEGATABLE.filter(resumable)) {
        out[negationFlag(def)] = { type: "boolean" };
      }
      return out;
    }
    case "status":
    case "log":
      return { ...common, json: { type: "boolean" } };
    case "report":
      return { ...common, out: { type: "string" } };
    case "init":
      return { ...common, force: { type: "boolean" } };
    case "apply":
    case "instruct":
      return common;
  }
}

function flagHint(command: CommandName): string {
  return `Run "ratchet ${command} --help" for its flags.`;
}

/** Map node:util's parse errors to UsageError naming the flag. */
function parseOrThrow(
  command: CommandName,
  args: string[],
  options: Options,
  allowPositionals: boolean,
) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    const message = (error as Error).message;
    const unknown = /Unknown option '([^']+)'/.exec(message);
    if (unknown && command === "resume") throw notOnResume(unknown[1]!, error);
    if (unknown) {
      throw new UsageError(
        `Unknown flag ${unknown[1]} for "ratchet ${command}"`,
        { hint: flagHint(command), cause: error },
      );
    }
    const missing = /Option '(?:-\w, )?(--[\w-]+)[^']*' argument missing/.exec(
      message,
    );
    if (missing) {
      throw new UsageError(`Flag ${missing[1]} needs a value`, {
        hint: flagHint(command),
        cause: error,
      });
    }
    const ambiguous = /Option '(?:-\w, )?(--[\w-]+)' argument is ambiguous/
      .exec(message);
    if (ambiguous) throw ambiguousValue(command, ambiguous[1]!, args, error);
    const positional = /Unexpected argument '([^']+)'/.exec(message);
    if (positional) {
      throw new UsageError(
        `Unexpected argument "${positional[1]}" for "ratchet ${command}"`,
        { hint: flagHint(command), cause: error },
      );
    }
    throw new UsageError(message, { hint: flagHint(command), cause: error });
  }
}

/**
 * `--trials -1`: node:util reads "-1" as a flag. A number out of the
 * option's range is reported like any bad value (naming the range); one in
 * range (`--threshold -5`) gets the `=` spelling that passes it.
 */
function ambiguousValue(
  command: CommandName,
  flag: string,
  args: readonly string[],
  cause: unknown,
): UsageError {
  const value = args[args.indexOf(flag) + 1] ?? "";
  const def = OPTIONS.find((o) => `--${o.name}` === flag);
  if (
    def !== undefined && (def.kind === "int" || def.kind === "number") &&
    /^-\d/.test(value)
  ) {
    // Throws the usual "Invalid value for --flag" when out of range.
    validateValues({ [def.name]: coerceFlag(def, value) }, "flags");
  }
  return new UsageError(
    `Flag ${flag} got "${value}", which looks like a flag itself`,
    {
      hint: `Write ${flag}=${value} to pass a value that starts with "-". ${
        flagHint(command)
      }`,
      cause,
    },
  );
}

/**
 * A flag `resume` does not take: a run setting fixed for the run says so
 * and what to do instead; anything else is an unknown flag.
 */
function notOnResume(flag: string, cause: unknown): UsageError {
  const accepted = RESUME_OPTIONS.map((n) => `--${n}`).join(", ");
  const name = flag.replace(/^--(no-)?/, "");
  const known = OPTIONS.some((o) => o.name === name) ||
    ["config", "trust-config"].includes(name);
  if (known) {
    return new UsageError(
      `"ratchet resume" cannot change ${flag}: it is fixed for the run`,
      {
        hint:
          `resume accepts ${accepted} (and --no-threshold); to change ${flag}, start a new run with "ratchet run".`,
        cause,
      },
    );
  }
  return new UsageError(`Unknown flag ${flag} for "ratchet resume"`, {
    hint: `resume accepts ${accepted}, --no-threshold, --json and --verbose.`,
    cause,
  });
}

/**
 * The option values given as flags, in file form: `--NAME VALUE` coerced,
 * `--no-NAME` as null (the option's default). Both for one option is a
 * UsageError naming them.
 */
function flagValues(values: Record<string, unknown>): Record<string, unknown> {
  const fileForm: Record<string, unknown> = {};
  for (const def of OPTIONS) {
    const raw = values[def.name];
    if (raw === undefined) continue;
    fileForm[def.name] = coerceFlag(def, raw as string | string[] | boolean);
  }
  for (const def of NEGATABLE) {
    const flag = negationFlag(def);
    if (values[flag] !== true) continue;
    if (def.name in fileForm) {
      throw new UsageError(`--${def.name} and --${flag} are both given`, {
        hint:
          `Keep one: --${flag} resets what ratchet.jsonc set for ${def.name}.`,
      });
    }
    fileForm[def.name] = null;
  }
  return fileForm;
}

function configFlags(values: Record<string, unknown>): ConfigFlags {
  return {
    flags: validateValues(flagValues(values), "flags"),
    configPath: (values.config as string | undefined) ?? null,
    trustConfig: values["trust-config"] === true,
  };
}

/** Parse ratchet's argv (without the program name). */
export function parseCommand(argv: readonly string[]): Command {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h") {
    return { name: "help", topic: null };
  }
  if (first === "help") {
    const topic = rest[0];
    if (topic === undefined) return { name: "help", topic: null };
    if (!(COMMANDS as readonly string[]).includes(topic)) {
      throw unknownCommand(topic);
    }
    return { name: "help", topic: topic as CommandName };
  }
  if (first === "--version" || first === "-V" || first === "version") {
    return { name: "version" };
  }
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw unknownCommand(first);
  }
  const command = first as CommandName;
  const options = optionsFor(command);
  const { values, positionals } = parseOrThrow(
    command,
    [...rest],
    options,
    command === "instruct",
  );
  if (values.help === true) return { name: "help", topic: command };
  const v = values as Record<string, unknown>;
  switch (command) {
    case "run":
      return {
        name: "run",
        json: v.json === true,
        verbose: v.verbose === true,
        ...configFlags(v),
      };
    case "measure":
    case "calibrate": {
      const cf = configFlags(v);
      // --trials means "how many runs of the checkout" for these commands.
      const trials = cf.flags.trials ?? (command === "measure" ? 5 : 10);
      if (command === "calibrate" && trials < 3) {
        throw new UsageError(
          `calibrate needs at least 3 trials, got ${trials}`,
          {
            hint: "Pass --trials 10 or more for a useful noise estimate.",
          },
        );
      }
      const base = {
        trials,
        json: v.json === true,
        verbose: v.verbose === true,
        ...cf,
      };
      return command === "measure"
        ? { name: "measure", ...base }
        : { name: "calibrate", write: v.write === true, ...base };
    }
    case "resume":
      return {
        name: "resume",
        flags: validateValues(flagValues(v), "flags"),
        json: v.json === true,
        verbose: v.verbose === true,
      };
    case "status":
    case "log":
      return { name: command, json: v.json === true };
    case "report":
      return { name: "report", out: (v.out as string | undefined) ?? null };
    case "apply":
      return { name: "apply" };
    case "init":
      return { name: "init", force: v.force === true };
    case "instruct": {
      const text = positionals.join(" ").trim();
      if (text === "") {
        throw new UsageError("instruct needs the note's text", {
          hint: 'Run ratchet instruct "Try caching the parsed config".',
        });
      }
      return { name: "instruct", text };
    }
  }
}

function unknownCommand(name: string): UsageError {
  return new UsageError(`Unknown command "${name}"`, {
    hint: `Commands: ${COMMANDS.join(", ")}. Run "ratchet --help".`,
  });
}
