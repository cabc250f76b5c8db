/**
 * Validation of configuration values (pure). Values arrive in "file form":
 * kebab-case keys as in ratchet.jsonc, JSON-typed values. Flags are coerced
 * into that form first, so one validator serves both sources and every error
 * names the key, the bad value and what is allowed.
 */
import { z } from "zod";
import { type Config, DEFAULT_MODEL, type MountSpec } from "./config.ts";
import {
  FILE_ONLY_KEYS,
  type OptionDef,
  OPTIONS,
  TRUST_GATED_FILE_ONLY,
} from "./options.ts";
import { ConfigError, UsageError } from "../errors.ts";
import { parseGpus } from "./gpus.ts";
import { STAT_MIN_PER_SIDE, statStartPerSide } from "../core/measure_plan.ts";
import { reportFileOf } from "../core/report_source.ts";
import {
  formatGuardSpec,
  GUARD_FORMAT,
  parseGuardSpec,
} from "../core/guards.ts";

/** Defaults of every optional option (spec section 3). */
export const DEFAULTS: Omit<
  Config,
  "runCommand" | "direction" | "metricName" | "reportSource"
> = {
  trials: 1,
  iterations: 20,
  threshold: null,
  patience: 0,
  minImprovement: 0,
  maxConsecutiveCrashes: 3,
  trialTimeoutSeconds: null,
  critic: false,
  instructions: "",
  instructionsFile: null,
  editable: [],
  harness: [],
  scratch: [],
  image: null,
  dockerfile: null,
  prepareCommand: null,
  setupCommand: null,
  checkCommand: null,
  metricPattern: null,
  guard: [],
  decision: "stat",
  confidence: 0.95,
  minEffect: 0,
  maxTrials: 10,
  model: DEFAULT_MODEL,
  maxCostUsd: 10,
  maxToolCalls: 60,
  bashTimeoutSeconds: 120,
  cpus: 2,
  memory: 4 * 1024 ** 3,
  pidsLimit: 4096,
  shmSize: 1024 ** 3,
  gpus: null,
  network: "none",
  mount: [],
  passEnv: [],
  cache: [],
  maxFileSize: 10 * 1024 ** 2,
  prices: {},
};

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
};

/** Parse `4g`, `512m`, `1.5g` or a byte count; null when malformed. */
export function parseSize(text: string): number | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$/.exec(text);
  if (!m) return null;
  const unit = SIZE_UNITS[(m[2] ?? "").toLowerCase()];
  if (unit === undefined) return null;
  const bytes = Math.round(Number(m[1]) * unit);
  return bytes > 0 ? bytes : null;
}

/** Format bytes the way users write them (`4g`, `512m`). */
export function formatSize(bytes: number): string {
  for (
    const [suffix, unit] of [["t", 1024 ** 4], ["g", 1024 ** 3], [
      "m",
      1024 ** 2,
    ], ["k", 1024]] as const
  ) {
    if (bytes % unit === 0) return `${bytes / unit}${suffix}`;
  }
  return String(bytes);
}

/** Parse `SRC:DST[:ro]`; null when malformed. */
export function parseMount(text: string): MountSpec | null {
  const parts = text.split(":");
  if (parts.length < 2 || parts.length > 3) return null;
  const [source, target, mode] = parts as [string, string, string?];
  if (source === "" || !target.startsWith("/")) return null;
  if (mode !== undefined && mode !== "ro" && mode !== "rw") return null;
  return { source, target, readOnly: mode === "ro" };
}

function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text;
}

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

/** Config keys whose file values a repo may set only under --trust-config. */
export const TRUST_GATED: readonly string[] = [
  ...OPTIONS.filter((o) => o.trustGated).map((o) => o.name),
  ...TRUST_GATED_FILE_ONLY,
];

/** Ceilings for resource limits a repo's file may set without trust. */
export const UNTRUSTED_LIMITS = {
  cpus: 16,
  memory: 64 * 1024 ** 3,
  "pids-limit": 65536,
  "shm-size": 16 * 1024 ** 3,
  "max-file-size": 1024 ** 3,
} as const;

/**
 * Refuse what an untrusted repo file may not set: the trust-gated keys and
 * resource limits beyond sane ceilings (an attacker's `"memory": "none"`).
 */
export function checkUntrusted(
  values: Record<string, unknown>,
  origin: string,
): void {
  for (const name of Object.keys(values)) {
    if (TRUST_GATED.includes(name)) {
      const fileOnly = TRUST_GATED_FILE_ONLY.includes(name);
      throw new ConfigError(
        `Refusing "${name}" from ${origin}: a repository's config may not set it`,
        {
          key: name,
          hint: fileOnly
            ? `Set "${name}" in a config file of yours outside the repository (--config FILE), or add --trust-config if you trust this repository.`
            : `Pass --${name} on the command line, or add --trust-config if you trust this repository.`,
        },
      );
    }
  }
  for (const [name, ceiling] of Object.entries(UNTRUSTED_LIMITS)) {
    if (!(name in values)) continue;
    const raw = values[name];
    const bytes = typeof raw === "string"
      ? (raw === "none" ? Infinity : parseSize(raw))
      : raw === null
      ? Infinity
      : raw;
    if (typeof bytes === "number" && bytes > ceiling) {
      throw new ConfigError(
        `Refusing "${name}": ${
          show(raw)
        } from ${origin} is above the untrusted ceiling of ${
          name === "memory" || name === "shm-size" || name === "max-file-size"
            ? formatSize(ceiling)
            : ceiling
        }`,
        {
          key: name,
          hint:
            `Pass --${name} on the command line, or add --trust-config if you trust this repository.`,
        },
      );
    }
  }
}

/** Which command the configuration is for: required keys differ. */
export type ConfigPurpose = "run" | "measure";

/**
 * Fill defaults, check required keys and cross-field rules, and return the
 * complete Config. `layers` go from lowest to highest precedence.
 */
export function finalizeConfig(
  layers: readonly Partial<Config>[],
  purpose: ConfigPurpose,
): Config {
  const merged: Record<string, unknown> = { ...DEFAULTS };
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) {
      if (v !== undefined) merged[k] = v;
    }
  }
  const missing = OPTIONS.filter((o) =>
    (o.required === "all" || (o.required === "run" && purpose === "run")) &&
    (merged[o.key] === undefined || merged[o.key] === "")
  );
  if (missing.length > 0) {
    throw new ConfigError(
      `Missing required ${missing.length === 1 ? "option" : "options"}: ${
        missing.map((o) => `--${o.name}`).join(", ")
      }`,
      {
        key: missing[0]!.name,
        hint: `Pass ${
          missing.map((o) => `--${o.name} ${o.arg}`).join(" ")
        } or set ${missing.length === 1 ? "it" : "them"} in ratchet.jsonc.`,
      },
    );
  }
  if (merged.direction === undefined) merged.direction = "max";
  const config = merged as unknown as Config;
  checkCrossField(config, purpose);
  return config;
}

function checkCrossField(config: Config, purpose: ConfigPurpose): void {
  const startPerSide = statStartPerSide(config.trials);
  // A run's rule: each side starts at max(trials, 3) and grows to
  // max-trials. `measure` and `calibrate` read --trials as "how many runs of
  // the checkout" and have no sides, so the rule is not theirs.
  if (
    purpose === "run" && config.decision === "stat" &&
    config.maxTrials < startPerSide
  ) {
    throw new ConfigError(
      `--max-trials ${config.maxTrials} is below the starting ${startPerSide} trials per side`,
      {
        key: "max-trials",
        hint:
          `Under --decision stat each side starts with max(--trials, ${STAT_MIN_PER_SIDE}) = ${startPerSide} trials; set --max-trials to at least ${startPerSide}.`,
      },
    );
  }
  for (const name of config.passEnv) {
    if (/^ANTHROPIC_/i.test(name)) {
      throw new ConfigError(`Refusing --pass-env ${name}`, {
        key: "pass-env",
        hint: "ANTHROPIC_* variables never enter a container.",
      });
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
      throw new ConfigError(`Invalid --pass-env name "${name}"`, {
        key: "pass-env",
        hint: "Name an environment variable, such as DATA_DIR.",
      });
    }
  }
  if (config.metricPattern !== null) {
    let groups = 0;
    try {
      groups = (new RegExp(`${config.metricPattern}|`).exec("")?.length ?? 1) -
        1;
    } catch (error) {
      throw new ConfigError(
        `Invalid --metric-pattern ${show(config.metricPattern)}: ${
          (error as Error).message
        }`,
        {
          key: "metric-pattern",
          hint: "Give a JavaScript regular expression.",
          cause: error,
        },
      );
    }
    if (groups < 1) {
      throw new ConfigError(
        `--metric-pattern ${show(config.metricPattern)} has no capture group`,
        {
          key: "metric-pattern",
          hint: 'Put the number in one group, e.g. "score=([0-9.]+)".',
        },
      );
    }
  }
  const source = config.reportSource;
  if (reportFileOf(source) !== null) {
    if (source.startsWith("/") || source.split(/[\\/]/).includes("..")) {
      throw new ConfigError(
        `--report-source ${show(source)} is outside the repository`,
        {
          key: "report-source",
          hint:
            "Use stdout, stderr, wall, or a path relative to the repository root without '..'.",
        },
      );
    }
  }
  if (config.image !== null && config.dockerfile !== null) {
    throw new ConfigError(
      `--image ${show(config.image)} and --dockerfile ${
        show(config.dockerfile)
      } cannot both be set`,
      {
        key: "image",
        hint:
          "Keep one: --image uses an existing image, --dockerfile builds one.",
      },
    );
  }
  // The same parser as the Docker adapter's, so a bad value stops here
  // (exit 2, nothing started) and not at the first container.
  if (config.gpus !== null) parseGpus(config.gpus);
  const both = config.editable.filter((g) => config.harness.includes(g));
  if (both.length > 0) {
    throw new ConfigError(
      `${show(both[0])} is both --editable and --harness`,
      {
        key: "editable",
        hint:
          "A path is either the subject (editable) or the harness (read-only), not both.",
      },
    );
  }
  checkGuards(config);
  if (config.decision === "mean" && config.trials < 1) {
    throw new ConfigError("--trials must be at least 1", { key: "trials" });
  }
}

/**
 * Guards must name metrics other than the primary one (compared as the
 * line rule compares names: case-insensitively) and each other.
 */
function checkGuards(config: Config): void {
  const seen = new Set<string>();
  for (const g of config.guard) {
    const key = g.name.toLowerCase();
    if (key === config.metricName.toLowerCase()) {
      throw new ConfigError(
        `--guard ${
          show(formatGuardSpec(g))
        } names the metric itself (--metric-name ${show(config.metricName)})`,
        {
          key: "guard",
          hint:
            "A guard is a second number from the same report that must not get worse (accuracy, memory, size); the metric is already decided by --direction.",
        },
      );
    }
    if (seen.has(key)) {
      throw new ConfigError(`--guard ${show(g.name)} is given twice`, {
        key: "guard",
        hint: "Give each guard once, with the tolerance you want.",
      });
    }
    seen.add(key);
  }
}

/** The file form of a Config (kebab-case keys), as written to config.json. */
export function toFileForm(config: Config): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const def of OPTIONS) {
    const value = config[def.key];
    if (def.name === "mount") {
      out[def.name] = config.mount.map((m) =>
        `${m.source}:${m.target}${m.readOnly ? ":ro" : ""}`
      );
    } else if (def.name === "guard") {
      out[def.name] = config.guard.map(formatGuardSpec);
    } else if (def.kind === "size" || def.kind === "nullable-size") {
      out[def.name] = value === null ? "none" : formatSize(value as number);
    } else {
      out[def.name] = value;
    }
  }
  out.prices = config.prices;
  return out;
}

/** Read a Config back from its file form (config.json round trip). */
export function fromFileForm(values: Record<string, unknown>): Config {
  return finalizeConfig(
    [validateValues(values, ".ratchet/config.json")],
    "run",
  );
}
