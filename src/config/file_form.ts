/**
 * A Config in file form (kebab-case keys, sizes and mounts as text), as
 * `.ratchet/config.json` holds it, and back.
 */
import type { Config } from "./config.ts";
import { OPTIONS } from "./options.ts";
import { formatGuardSpec } from "../core/guards.ts";
import { formatSize } from "./value_text.ts";
import { validateValues } from "./schema.ts";
import { finalizeConfig } from "./finalize.ts";

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
