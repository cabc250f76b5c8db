/**
 * What a repository's own config file may not set unless the user passes
 * --trust-config: the trust-gated keys, and resource limits above ceilings.
 */
import { OPTIONS, TRUST_GATED_FILE_ONLY } from "./options.ts";
import { ConfigError } from "../errors.ts";
import { formatSize, parseSize } from "./value_text.ts";
import { show } from "./_show.ts";

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
