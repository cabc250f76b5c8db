/**
 * Which repository paths the model may not change. One policy serves all
 * three integrity layers: the tools refuse these paths, the containers mount
 * them read-only, and the diff check rejects candidates that touched them.
 */
import picomatch from "picomatch";

/** What a run protects, from its configuration. Paths are repo-relative. */
export interface ProtectionPolicy {
  /** Allowlist: when non-empty, only these may change. */
  editable: readonly string[];
  /** Denylist: never changed. */
  harness: readonly string[];
  /** Writable in trials even under `editable`; the model still may not edit them unless editable. */
  scratch: readonly string[];
  /** The report file (repo-relative) when `--report-source` is a path. */
  reportPath: string | null;
  /**
   * The run's config file (repo-relative): `ratchet.jsonc`, or the `--config`
   * file when it lies in the repository; null when it lies outside. The
   * repository's `ratchet.jsonc` is protected whatever this says: it is what
   * the next `ratchet run` reads.
   */
  configPath: string | null;
}

/** The config file ratchet reads at the repository root. */
export const REPO_CONFIG_FILE = "ratchet.jsonc";

/** Normalize a repo-relative path to posix form without `./` or trailing `/`. */
export function normalizeRelPath(path: string): string {
  const parts: string[] = [];
  for (const part of path.replaceAll("\\", "/").split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (parts.length === 0) return "..";
      parts.pop();
      continue;
    }
    parts.push(part);
  }
  return parts.join("/");
}

/** The path itself and each of its ancestor directories, deepest first. */
function selfAndAncestors(path: string): string[] {
  const out: string[] = [];
  let p = path;
  while (p !== "") {
    out.push(p);
    const i = p.lastIndexOf("/");
    p = i === -1 ? "" : p.slice(0, i);
  }
  return out;
}

/**
 * True when `path` matches one of `globs`, or lies inside a directory that
 * does (a glob naming a directory covers what is in it).
 */
export function matchesAny(path: string, globs: readonly string[]): boolean {
  return matcherOf(globs)(path);
}

/**
 * `matchesAny` with the globs compiled once, for callers that test many
 * paths (a whole tree).
 */
export function matcherOf(
  globs: readonly string[],
): (path: string) => boolean {
  if (globs.length === 0) return () => false;
  const isMatch = picomatch(globs.map(normalizeRelPath), { dot: true });
  return (path) =>
    selfAndAncestors(normalizeRelPath(path)).some((p) => isMatch(p));
}

/**
 * Why the model may not change `path` (repo-relative), or null when it may.
 * The reasons are shown to the model and recorded, so they name the rule.
 */
export function protectedReason(
  path: string,
  policy: ProtectionPolicy,
): string | null {
  const rel = normalizeRelPath(path);
  if (rel === ".." || rel.startsWith("../")) {
    return `${path} is outside the repository`;
  }
  const top = rel.split("/")[0];
  if (top === ".git") return `${path} is inside .git, which is protected`;
  if (top === ".ratchet") {
    return `${path} is inside .ratchet, ratchet's own state`;
  }
  if (policy.reportPath !== null) {
    const report = normalizeRelPath(policy.reportPath);
    if (rel === report) {
      return `${path} is the report file, which ratchet reads`;
    }
  }
  const config = policy.configPath === null
    ? null
    : normalizeRelPath(policy.configPath);
  if (rel === REPO_CONFIG_FILE || (config !== null && rel === config)) {
    return `${path} is ratchet's config file, which only the user edits`;
  }
  if (matchesAny(rel, policy.harness)) {
    return `${path} is part of the evaluation harness (--harness)`;
  }
  if (
    policy.editable.length > 0 && rel !== "" &&
    !matchesAny(rel, policy.editable)
  ) {
    return `${path} is not in the editable set (--editable ${
      policy.editable.join(", ")
    })`;
  }
  return null;
}
