/**
 * The complete Config from its layers: defaults filled, required options
 * checked, then the rules between options (cross-field) that no single
 * value's validation can see.
 */
import { STAT_MIN_PER_SIDE, statStartPerSide } from "../core/measure_plan.ts";
import { reportFileOf } from "../core/report_source.ts";
import type { Config } from "./config.ts";
import { OPTIONS } from "./options.ts";
import { ConfigError } from "../errors.ts";
import { parseGpus } from "./gpus.ts";
import { formatGuardSpec } from "../core/guards.ts";
import { DEFAULTS } from "./defaults.ts";
import { show } from "./_show.ts";

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
