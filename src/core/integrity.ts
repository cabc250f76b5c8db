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
/** Git file mode of a submodule (a commit, no content in this repository). */
export const GITLINK_MODE = "160000";

/** Most links followed while resolving one path (Linux's MAXSYMLINKS). */
export const MAX_LINK_HOPS = 40;
/** Longest symlink target a Linux system creates or follows (PATH_MAX − 1). */
export const MAX_LINK_TARGET = 4095;

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
  /** Size in bytes after the change (a symlink: its target's length); null when deleted or unknown. */
  size: number | null;
}

/** Every symlink of one tree: repo-relative path → target. */
export type TreeLinks = ReadonlyMap<string, string>;

/** A file the candidate left that is above the file-size cap; git never read it. */
export interface OversizedFile {
  /** Repo-relative path. */
  path: string;
  /** Its size in bytes. */
  size: number;
}

/** What the check needs besides the changes. */
export interface CandidateContext {
  /** Every symlink of the incumbent's tree (`before`) and of the candidate's (`after`). */
  links: { before: TreeLinks; after: TreeLinks };
  /** Largest new or changed file allowed, in bytes (`--max-file-size`); null: no cap. */
  maxFileBytes: number | null;
  /** Files found above the cap before the candidate's tree was written (left out of it). */
  oversized?: readonly OversizedFile[];
}

/** Why a candidate is `rejected` (spec section 8 `reason`) and what it did. */
export interface IntegrityViolation {
  reason:
    | "protected_path"
    | "harness_added"
    | "symlink_outside"
    | "file_too_large";
  /** Names the path and the rule it broke; recorded and shown to the model. */
  detail: string;
}

/** Where a path ends up once every symlink on the way is followed inside the tree. */
export type Resolution =
  /** Stays in the tree (`path` is repo-relative, "" for the root; it need not exist). */
  | { kind: "inside"; path: string; via: string[] }
  /** Leaves the tree: an absolute target, or `..` above the root. */
  | { kind: "outside"; via: string[]; step: string }
  /** Cannot be followed to an end (a loop, an empty or overlong target). */
  | { kind: "unresolvable"; via: string[]; why: string };

/** Path components, with `\\` taken as a separator too (a Windows checkout would). */
function components(path: string): string[] {
  return path.replaceAll("\\", "/").split("/");
}

/** An absolute target: `/x`, `//host/share`, a Windows drive (`C:`). */
function isAbsoluteTarget(target: string): boolean {
  const t = target.replaceAll("\\", "/");
  return t.startsWith("/") || /^[A-Za-z]:/.test(t);
}

/**
 * Resolve the repo-relative `path` inside a tree whose symlinks are `links`,
 * component by component as the kernel does: each component that names a
 * link is replaced by the link's target (relative to the link's directory),
 * so `..` after a link to a directory climbs from where the link points, and
 * a link through another link is followed. Components that name no link are
 * taken as directories (whether or not they exist: a trial can create them),
 * which can only make more paths count as leaving. The final component is
 * followed too. Pure; at most MAX_LINK_HOPS links are followed.
 */
export function resolveInTree(links: TreeLinks, path: string): Resolution {
  const resolved: string[] = [];
  // Components still to walk, next one last.
  const pending = components(path).reverse();
  const via: string[] = [];
  while (pending.length > 0) {
    const part = pending.pop()!;
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (resolved.length === 0) {
        return {
          kind: "outside",
          via,
          step: "a `..` above the repository root",
        };
      }
      resolved.pop();
      continue;
    }
    resolved.push(part);
    const here = resolved.join("/");
    const target = links.get(here);
    if (target === undefined) continue;
    if (via.length >= MAX_LINK_HOPS) {
      return {
        kind: "unresolvable",
        via,
        why: `more than ${MAX_LINK_HOPS} links on the way (a loop)`,
      };
    }
    via.push(`${here} -> ${target}`);
    if (target === "") {
      return { kind: "unresolvable", via, why: `${here} has an empty target` };
    }
    if (target.length > MAX_LINK_TARGET) {
      return {
        kind: "unresolvable",
        via,
        why: `${here}'s target is longer than ${MAX_LINK_TARGET} characters`,
      };
    }
    if (isAbsoluteTarget(target)) {
      return { kind: "outside", via, step: `the absolute target of ${here}` };
    }
    // The target is relative to the link's own directory.
    resolved.pop();
    pending.push(...components(target).reverse());
  }
  return { kind: "inside", path: resolved.join("/"), via };
}

/**
 * True when a symlink at `linkPath` pointing to `target` resolves outside a
 * tree that has no other links (the textual case of {@linkcode resolveInTree}).
 */
export function symlinkEscapes(linkPath: string, target: string): boolean {
  const links = new Map([[normalizeRelPath(linkPath), target]]);
  return resolveInTree(links, linkPath).kind !== "inside";
}

/** Bytes the way a person reads them: `4.0 GiB`, `12.5 MiB`, `900 B`. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** The detail of a file above the cap: the file, its size and the cap. */
export function oversizeDetail(
  verb: string,
  path: string,
  size: number,
  cap: number,
): string {
  return `${verb} ${path}: ${
    formatBytes(size)
  } (${size} bytes), above the file-size cap of ${
    formatBytes(cap)
  } (${cap} bytes); raise it with --max-file-size if the file belongs in the repository`;
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

/** A target as shown in a detail (a hostile one can be very long). */
function shown(target: string): string {
  return target.length > 160 ? `${target.slice(0, 157)}...` : target;
}

/**
 * What a resolution of a link that does not stay inside says, for a detail;
 * the links followed after the link itself are named.
 */
function leaving(r: Exclude<Resolution, { kind: "inside" }>): string {
  const others = r.via.slice(1);
  const chain = others.length > 0
    ? `; then through ${others.slice(0, 3).map(shown).join(", ")}${
      others.length > 3 ? `, … (${others.length} links in all)` : ""
    }`
    : "";
  return r.kind === "outside"
    ? `resolves outside the repository (${r.step}${chain})`
    : `cannot be resolved (${r.why}${chain}), so it cannot be shown to stay inside the repository`;
}

/**
 * The symlink violations of the candidate's tree, by link path: every link
 * of the tree is resolved inside it ({@linkcode resolveInTree}). A link that
 * does not stay inside is a violation when the candidate made or changed it,
 * or when it stayed inside in the incumbent's tree (a changed link now makes
 * it leave); a link the repository already had, leaving as it did before, is
 * the repository's own business.
 */
function linkViolations(
  changes: readonly FileChange[],
  links: CandidateContext["links"],
): Map<string, IntegrityViolation> {
  const after = new Map(links.after);
  const verbs = new Map<string, string>();
  const out = new Map<string, IntegrityViolation>();
  // The changes are git's word on these paths: make the map agree with them.
  for (const change of changes) {
    if (change.status === "R" && change.oldPath !== undefined) {
      after.delete(change.oldPath);
    }
    if (change.status === "D" || change.newMode !== SYMLINK_MODE) {
      after.delete(change.path);
      continue;
    }
    verbs.set(change.path, VERBS[change.status]);
    if (change.symlinkTarget === null) {
      after.delete(change.path);
      out.set(change.path, {
        reason: "symlink_outside",
        detail: `${
          VERBS[change.status]
        } symlink ${change.path} whose target could not be read`,
      });
    } else {
      after.set(change.path, change.symlinkTarget);
    }
  }
  for (const [path, target] of after) {
    const r = resolveInTree(after, path);
    if (r.kind === "inside") continue;
    const verb = verbs.get(path);
    const changed = verb !== undefined || links.before.get(path) !== target;
    if (!changed && resolveInTree(links.before, path).kind !== "inside") {
      continue;
    }
    out.set(path, {
      reason: "symlink_outside",
      detail: changed
        ? `${verb ?? "changed"} symlink ${path} -> ${shown(target)}, which ${
          leaving(r)
        }`
        : `the unchanged symlink ${path} -> ${shown(target)} now ${
          leaving(r)
        }: a changed link on its way makes it leave`,
    });
  }
  return out;
}

/** Every violation of one change, most specific first. */
function violationsOf(
  change: FileChange,
  policy: ProtectionPolicy,
  context: CandidateContext,
  links: Map<string, IntegrityViolation>,
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

  const link = links.get(change.path);
  if (link !== undefined) {
    out.push(link);
    links.delete(change.path);
  }

  const cap = context.maxFileBytes;
  if (cap !== null && change.status !== "D") {
    if (change.size === null) {
      out.push({
        reason: "file_too_large",
        detail: `${verb} ${change.path}, whose size could not be read`,
      });
    } else if (change.size > cap) {
      out.push({
        reason: "file_too_large",
        detail: oversizeDetail(verb, change.path, change.size, cap),
      });
    }
  }
  return out;
}

/**
 * Check a candidate's changes against the run's protection policy, its
 * trees' symlinks and the file-size cap. Returns the first violation (files
 * above the cap first, then in change order; the detail counts the others),
 * or null when the candidate may be measured.
 */
export function checkCandidateChanges(
  changes: readonly FileChange[],
  policy: ProtectionPolicy,
  context: CandidateContext,
): IntegrityViolation | null {
  const cap = context.maxFileBytes;
  const oversized = (context.oversized ?? []).map((f) => ({
    reason: "file_too_large" as const,
    detail: oversizeDetail(
      "wrote",
      f.path,
      f.size,
      cap ?? 0,
    ),
  }));
  const links = linkViolations(changes, context.links);
  const all = [
    ...oversized,
    ...changes.flatMap((change) =>
      violationsOf(change, policy, context, links)
    ),
    // Links no change names: unchanged ones a changed link makes leave.
    ...links.values(),
  ];
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
