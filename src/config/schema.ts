/**
 * Validation of configuration values (pure). Values arrive in "file form":
 * kebab-case keys as in ratchet.jsonc, JSON-typed values. Flags are coerced
 * into that form first, so one validator serves both sources and every error
 * names the key, the bad value and what is allowed.
 *
 * Rules between options are checked once every layer is merged
 * (finalize.ts); what a repository's own file may set, in trust.ts.
 */
import { z } from "zod";
import type { Config } from "./config.ts";
import { FILE_ONLY_KEYS, type OptionDef, OPTIONS } from "./options.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { GUARD_FORMAT, parseGuardSpec } from "../core/guards.ts";
import { DEFAULTS } from "./defaults.ts";
import { parseMount, parseSize } from "./value_text.ts";
import { show } from "./_show.ts";

/** What the option accepts, in words, for error messages. */
export function allowedText(def: OptionDef): string {
  if (def.choices) {
    return `one of ${def.choices.map((c) => `"${c}"`).join(", ")}`;
  }
  const range = (what: string) => {
    const lo = def.min, hi = def.max;
    if (def.exclusive) return `${what} strictly between ${lo} and ${hi}`;
    if (lo !== undefined && hi !== undefined) {
      return `${what} from ${lo} to ${hi}`;
    }
    if (lo !== undefined) return `${what} of at least ${lo}`;
    return what;
  };
  switch (def.kind) {
    case "int":
      return range("a whole number");
    case "number":
      return range("a number");
    case "boolean":
      return "true or false";
    case "list":
      return def.name === "mount"
        ? 'a list of "SRC:DST" or "SRC:DST:ro" strings'
        : def.name === "guard"
        ? `a list of "${GUARD_FORMAT}" strings, e.g. "accuracy:max:0.01"`
        : "a list of strings";
    case "size":
      return 'a size such as "512m" or "4g"';
    case "nullable-size":
      return 'a size such as "512m" or "4g", or "none"';
    case "string":
      return "a string";
  }
}

function schemaFor(def: OptionDef): z.ZodType {
  switch (def.kind) {
    case "string":
      return def.choices
        ? z.enum(def.choices as [string, ...string[]])
        : z.string();
    case "int":
    case "number": {
      let s = z.number();
      if (def.kind === "int") s = s.int();
      if (def.min !== undefined) {
        s = def.exclusive ? s.gt(def.min) : s.gte(def.min);
      }
      if (def.max !== undefined) {
        s = def.exclusive ? s.lt(def.max) : s.lte(def.max);
      }
      return s.refine(Number.isFinite);
    }
    case "boolean":
      return z.boolean();
    case "list":
      return z.array(z.string().min(1));
    case "size":
      return z.union([z.string(), z.number().int().positive()]);
    case "nullable-size":
      return z.union([z.string(), z.number().int().positive(), z.null()]);
  }
}

const priceSchema = z.record(
  z.string(),
  z.object({
    input: z.number().nonnegative(),
    output: z.number().nonnegative(),
    cache_write: z.number().nonnegative(),
    cache_read: z.number().nonnegative(),
  }).strict(),
);

/** Suggest the closest known name for a typo. */
function closest(name: string, names: readonly string[]): string | null {
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of names) {
    const d = editDistance(name, candidate);
    if (d < bestScore) {
      bestScore = d;
      best = candidate;
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 3)) ? best : null;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j]!;
      row[j] = Math.min(
        row[j]! + 1,
        row[j - 1]! + 1,
        prev + (a[i - 1] === b[j - 1] ? 0 : 1),
      );
      prev = tmp;
    }
  }
  return row[b.length]!;
}

/** Every key a config file may hold. */
export const FILE_KEYS: readonly string[] = [
  ...OPTIONS.map((o) => o.name),
  ...FILE_ONLY_KEYS,
];

/**
 * Validate file-form values from `origin` (a file name, or "--flags") and
 * convert them to Config fields. Throws ConfigError naming the key, the value
 * and what is allowed.
 */
export function validateValues(
  values: Record<string, unknown>,
  origin: string,
): Partial<Config> {
  const out: Partial<Config> = {};
  const put = <K extends keyof Config>(key: K, value: Config[K]) => {
    out[key] = value;
  };
  for (const [name, value] of Object.entries(values)) {
    if (name === "prices") {
      const parsed = priceSchema.safeParse(value);
      if (!parsed.success) {
        throw new ConfigError(
          `Invalid "prices" in ${origin}: ${show(value)}`,
          {
            key: "prices",
            hint:
              'Use { "MODEL": { "input": N, "output": N, "cache_write": N, "cache_read": N } } in USD per million tokens.',
          },
        );
      }
      put("prices", parsed.data);
      continue;
    }
    const def = OPTIONS.find((o) => o.name === name);
    if (!def) {
      if (/api[-_]?key|anthropic/i.test(name)) {
        throw new ConfigError(
          `Refusing key "${name}" in ${origin}: an API key never goes into configuration`,
          {
            key: name,
            hint: "Set ANTHROPIC_API_KEY in the environment instead.",
          },
        );
      }
      const near = closest(name, FILE_KEYS);
      throw new ConfigError(`Unknown key "${name}" in ${origin}`, {
        key: name,
        hint: near
          ? `Did you mean "${near}"? Run "ratchet run --help" for every option.`
          : 'Run "ratchet run --help" for every option.',
      });
    }
    if (value === null && def.kind !== "nullable-size") {
      // null means "not set" for optional values such as threshold.
      if (def.required) {
        throw invalid(def, value, origin);
      }
      put(def.key, (DEFAULTS as Record<string, unknown>)[def.key] as never);
      continue;
    }
    const parsed = schemaFor(def).safeParse(value);
    if (!parsed.success) throw invalid(def, value, origin);
    put(def.key, convert(def, parsed.data, origin) as never);
  }
  return out;
}

function invalid(def: OptionDef, value: unknown, origin: string): ConfigError {
  // A flag is named as typed (`--trials`); a file's key as written there.
  if (origin === "flags") {
    return new ConfigError(
      `Invalid value for --${def.name}: ${show(value)}`,
      { key: def.name, hint: `--${def.name} must be ${allowedText(def)}.` },
    );
  }
  return new ConfigError(
    `Invalid value for "${def.name}" in ${origin}: ${show(value)}`,
    { key: def.name, hint: `"${def.name}" must be ${allowedText(def)}.` },
  );
}

function convert(def: OptionDef, value: unknown, origin: string): unknown {
  switch (def.kind) {
    case "size":
    case "nullable-size": {
      if (value === null || value === "none") {
        if (def.kind === "nullable-size") return null;
        throw invalid(def, value, origin);
      }
      if (typeof value === "number") return value;
      const bytes = parseSize(String(value));
      if (bytes === null) throw invalid(def, value, origin);
      return bytes;
    }
    case "list":
      if (def.name === "mount") {
        return (value as string[]).map((text) => {
          const m = parseMount(text);
          if (!m) throw invalid(def, text, origin);
          return m;
        });
      }
      if (def.name === "guard") {
        return (value as string[]).map((text) => {
          const g = parseGuardSpec(text);
          if (!g.ok) {
            throw new ConfigError(
              origin === "flags"
                ? `Invalid value for --guard: ${g.message}`
                : `Invalid value for "guard" in ${origin}: ${g.message}`,
              {
                key: "guard",
                hint:
                  `Write each guard as ${GUARD_FORMAT}, e.g. --guard accuracy:max or --guard peak_mem_mb:min:0.05 (TOL is relative: 0.05 = 5% worse at most).`,
              },
            );
          }
          return g.guard;
        });
      }
      return value;
    default:
      return value;
  }
}

/**
 * Coerce a flag's text into its file-form value, so flags and files share one
 * validator. Booleans and lists arrive already typed from the parser.
 */
export function coerceFlag(
  def: OptionDef,
  raw: string | string[] | boolean,
): unknown {
  if (def.kind === "int" || def.kind === "number") {
    const text = String(raw).trim();
    const n = text === "" ? NaN : Number(text);
    if (!Number.isFinite(n)) {
      throw new UsageError(`Invalid value for --${def.name}: "${raw}"`, {
        hint: `--${def.name} must be ${allowedText(def)}.`,
      });
    }
    return n;
  }
  return raw;
}
