/**
 * The text forms of values users write (sizes such as `4g`, mounts such as
 * `data:/data:ro`): parsed to Config values and formatted back (pure).
 */
import type { MountSpec } from "./config.ts";

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
