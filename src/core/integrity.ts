/**
 * The third integrity layer (spec section 6): after a proposal ratchet reads
 * the candidate's changes from git itself and rejects, before any trial, a
 * candidate that changed a protected path, added a file matching a harness
 * glob, or made a symlink that points outside the tree. The first two layers
 * (tool refusals, read-only mounts) can be bypassed by a clever program; git's
 * view of the committed tree cannot.
 */
import {
  matchesAny,
  normalizeRelPath,
  protectedReason,
  type ProtectionPolicy,
} from "./protect.ts";

/** Git file mode of a symbolic link. */
export const SYMLINK_MODE = "120000";

/** One changed path between the incumbent's tree and the candidate's. */
export interface FileChange {
  /** Repo-relative path after the change (the destination of a rename). */
  path: string;
  /** Added, modified, deleted, type changed (e.g. file ↔ symlink), renamed. */
  status: "A" | "M" | "D" | "T" | "R";
  /** Source path of a rename. */
  oldPath?: string;
  /** Git mode after the change (`100644`, `100755`, `120000`, …); null when deleted. */
  newMode: string | null;
  /** Target of the symlink after the change, when `newMode` is `120000`. */
  symlinkTarget: string | null;
}

/** Why a candidate is `rejected` (spec section 8 `reason`) and what it did. */
export interface IntegrityViolation {
  reason: "protected_path" | "harness_added" | "symlink_outside";
  /** Names the path and the rule it broke; recorded and shown to the model. */
  detail: string;
}

/**
 * True when a symlink at `linkPath` (repo-relative) pointing to `target`
 * resolves outside the tree: an absolute target, or `..` steps that climb
 * above the root, counted from the link's own directory.
 */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  if (target === "") return true;
  const t = target.replaceAll("\\", "/");
  // `/x`, `//host/share` and Windows drive paths are all absolute.
  if (t.startsWith("/") || /^[A-Za-z]:/.test(t)) return true;
  const dir = normalizeRelPath(linkPath).split("/").slice(0, -1);
  const resolved = normalizeRelPath([...dir, t].join("/"));
  return resolved === ".." || resolved.startsWith("../");
}

const VERBS: Record<FileChange["status"], string> = {
  A: "added",
  M: "modified",
  D: "deleted",
  T: "changed the type of",
  R: "renamed",
};

/** The harness globs that `path` matches, for naming the rule in a detail. */
function matchingHarnessGlobs(
  path: string,
  policy: ProtectionPolicy,
): string[] {
  return policy.harness.filter((glob) => matchesAny(path, [glob]));
}

/** Every violation of one change, most specific first. */
function violationsOf(
  change: FileChange,
  policy: ProtectionPolicy,
): IntegrityViolation[] {
  const out: IntegrityViolation[] = [];
  const verb = VERBS[change.status];

  // Renaming a protected file away is as bad as deleting it.
  if (change.status === "R" && change.oldPath !== undefined) {
    const why = protectedReason(change.oldPath, policy);
    if (why !== null) {
      out.push({
        reason: "protected_path",
        detail: `renamed ${change.oldPath} to ${change.path}: ${why}`,
      });
    }
  }

  // A new file where the harness globs reach (a new conftest.py, a new
  // test file) can change how the harness behaves without touching a single
  // existing harness file; the destination of a rename is a new file too.
  const created = change.status === "A" || change.status === "R";
  const harnessGlobs = created ? matchingHarnessGlobs(change.path, policy) : [];
  if (harnessGlobs.length > 0) {
    out.push({
      reason: "harness_added",
      detail: `${verb} ${
        change.status === "R" ? `${change.oldPath ?? "?"} to ` : ""
      }${change.path}, which matches the harness glob ${
        harnessGlobs.join(", ")
      } (--harness)`,
    });
  } else {
    const why = protectedReason(change.path, policy);
    if (why !== null) {
      out.push({
        reason: "protected_path",
        detail: `${verb} ${change.path}: ${why}`,
      });
    }
  }

  if (change.status !== "D" && change.newMode === SYMLINK_MODE) {
    const target = change.symlinkTarget;
    // An unknown target cannot be shown to stay inside: fail closed.
    if (target === null || symlinkEscapes(change.path, target)) {
      out.push({
        reason: "symlink_outside",
        detail: target === null
          ? `${verb} symlink ${change.path} whose target could not be read`
          : `${verb} symlink ${change.path} -> ${target}, which points outside the repository`,
      });
    }
  }
  return out;
}

/**
 * Check a candidate's changes against the run's protection policy. Returns
 * the first violation (in change order; the detail counts the others), or
 * null when the candidate may be measured.
 */
export function checkCandidateChanges(
  changes: readonly FileChange[],
  policy: ProtectionPolicy,
): IntegrityViolation | null {
  const all = changes.flatMap((change) => violationsOf(change, policy));
  const first = all[0];
  if (first === undefined) return null;
  const more = all.length - 1;
  return more === 0 ? first : {
    reason: first.reason,
    detail: `${first.detail} (and ${more} more violation${
      more === 1 ? "" : "s"
    }: ${all.slice(1, 4).map((v) => v.detail).join("; ")}${
      more > 3 ? "; …" : ""
    })`,
  };
}
