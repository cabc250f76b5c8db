/**
 * How a tree is laid out in its image (spec section 5, "Read-only"): for every
 * entry, the owner and the mode that make the protected paths read-only by the
 * filesystem alone, on any engine, local or remote.
 *
 * The trial runs as the repository's owner (the "trial user") with every
 * capability dropped and `no-new-privileges`. Protected entries belong to
 * another user (the "keeper": root, or `nobody` when the trial user is root)
 * and carry no write bit. Without CAP_DAC_OVERRIDE, CAP_FOWNER and CAP_CHOWN,
 * even root inside the container cannot write them, change their mode, owner
 * or times, or replace them:
 * - writing, truncating, `chmod`, `chown`, `touch -d` → EACCES / EPERM;
 * - `rm`, `mv`, renaming over them → their directory is either read-only
 *   (0555, keeper-owned) or sticky and keeper-owned (1777): in a sticky
 *   directory only the owner of an entry or of the directory may unlink or
 *   rename it;
 * - a hard link to them cannot be written either (same inode, same owner).
 *
 * Directories:
 * - covered by a harness glob (or, under `--editable`, outside every writable
 *   path): keeper-owned 0555, nothing can be created, removed or renamed in
 *   them;
 * - writable and holding no protected entry: the trial user's, 0755;
 * - writable but holding a protected entry somewhere below: keeper-owned
 *   1777 (sticky), so new files can be made and the trial user's own entries
 *   changed, while the protected ones (and the directories leading to them,
 *   keeper-owned too) stay put.
 *
 * The report file is left out (a stale one must not count), `--scratch`
 * paths and the report's directory are created when missing, and nothing
 * here touches the host: the layout is sent to the engine as a tar stream.
 */
import { matcherOf, normalizeRelPath, REPO_CONFIG_FILE } from "./protect.ts";

/** What an entry of a tree is. */
export type NodeKind = "file" | "dir" | "symlink";

/** One entry of a tree as its source lists it. */
export interface LayoutEntry {
  /** Repo-relative, normalized, never "". */
  path: string;
  kind: NodeKind;
  /** The executable bit (files only). */
  executable: boolean;
}

/** A numeric user and group. */
export interface Ident {
  uid: number;
  gid: number;
}

/** Which paths are protected in trials (from the run's protection policy). */
export interface LayoutPolicy {
  harness: readonly string[];
  /** Under a non-empty allowlist, everything else is read-only. */
  editable: readonly string[];
  /** Writable in trials even under `--editable`; created when missing. */
  scratch: readonly string[];
  /** Left out of the tree; its directory is created and writable. */
  reportPath: string | null;
  /**
   * The configuration file when it lies in the repository; the root
   * `ratchet.jsonc` is protected whatever this says (as in `protectedReason`).
   */
  configPath: string | null;
}

/** An entry with the owner and mode it gets in the image. */
export interface PlacedEntry {
  /** Repo-relative; "" is the tree's root (`/work`). */
  path: string;
  kind: NodeKind;
  uid: number;
  gid: number;
  /** Permission bits, including the sticky bit. */
  mode: number;
  /** True for directories this layout adds (scratch, the report's directory). */
  created: boolean;
}

/** The owner of protected entries: never the trial user. */
export function keeperOf(trial: Ident): Ident {
  return trial.uid === 0 ? { uid: 65534, gid: 65534 } : { uid: 0, gid: 0 };
}

/** Parent of a normalized relative path ("" for a top-level entry). */
export function parentOf(rel: string): string {
  const i = rel.lastIndexOf("/");
  return i === -1 ? "" : rel.slice(0, i);
}

/** True when `rel` is `base` or inside it ("" contains everything). */
export function isWithin(rel: string, base: string): boolean {
  return base === "" || rel === base || rel.startsWith(base + "/");
}

/** Proper ancestors of `rel`, outermost first, starting with "". */
function ancestorsOf(rel: string): string[] {
  const out = [""];
  const parts = rel.split("/");
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join("/"));
  return out;
}

function depth(rel: string): number {
  return rel === "" ? 0 : rel.split("/").length;
}

/**
 * Place every entry of a tree (pure). The result starts with the root and
 * lists each directory before what it holds, ready to be streamed as a tar.
 */
export function planTreeLayout(
  entries: readonly LayoutEntry[],
  policy: LayoutPolicy,
  trial: Ident,
): PlacedEntry[] {
  const keeper = keeperOf(trial);
  const harness = matcherOf(policy.harness);
  const editable = matcherOf(policy.editable);
  const editableMode = policy.editable.length > 0;
  const scratch = policy.scratch.map(normalizeRelPath).filter((p) =>
    p !== "" && p !== ".." && !p.startsWith("../")
  );
  const report = policy.reportPath === null
    ? null
    : normalizeRelPath(policy.reportPath);
  const reportDir = report === null ? null : parentOf(report);
  const config = policy.configPath === null
    ? null
    : normalizeRelPath(policy.configPath);

  // The tree without the report (and anything under it), plus the
  // directories that must exist: scratch paths and the report's directory.
  const kinds = new Map<string, { kind: NodeKind; executable: boolean }>();
  const created = new Set<string>();
  for (const e of entries) {
    if (report !== null && isWithin(e.path, report)) continue;
    kinds.set(e.path, { kind: e.kind, executable: e.executable });
  }
  const ensureDir = (rel: string) => {
    for (const a of [...ancestorsOf(rel), rel]) {
      if (a === "") continue;
      const known = kinds.get(a);
      // An entry of another kind on the way (a file where a directory must
      // be) stays as it is: the trial then fails to write there, visibly.
      if (known === undefined) {
        kinds.set(a, { kind: "dir", executable: false });
        created.add(a);
      } else if (known.kind !== "dir") return;
    }
  };
  for (const s of scratch) if (!kinds.has(s)) ensureDir(s);
  if (reportDir !== null && reportDir !== "") ensureDir(reportDir);

  const harnessCovered = (rel: string) => rel !== "" && harness(rel);
  const inScratch = (rel: string) => scratch.some((s) => isWithin(rel, s));
  const inReportDir = (rel: string) =>
    reportDir !== null && reportDir !== "" && isWithin(rel, reportDir);
  /** May this entry (file, symlink or directory contents) be changed? */
  const writable = (rel: string): boolean => {
    if (harnessCovered(rel) || rel === config || rel === REPO_CONFIG_FILE) {
      return false;
    }
    if (!editableMode) return true;
    if (rel === "") return reportDir === "";
    if (inScratch(rel) || inReportDir(rel)) return true;
    // Outside the allowlist: read-only (a directory stays traversable).
    return editable(rel);
  };

  // Which directories hold a protected entry somewhere below them.
  const holdsProtected = new Set<string>();
  for (const path of kinds.keys()) {
    if (!writable(path)) {
      for (const a of ancestorsOf(path)) holdsProtected.add(a);
    }
  }

  const place = (path: string, kind: NodeKind, executable: boolean) => {
    const ok = writable(path);
    if (kind === "dir") {
      if (!ok) return { ...keeper, mode: 0o555 };
      return holdsProtected.has(path)
        ? { ...keeper, mode: 0o1777 }
        : { ...trial, mode: 0o755 };
    }
    if (kind === "symlink") {
      return ok ? { ...trial, mode: 0o777 } : { ...keeper, mode: 0o777 };
    }
    const exec = executable ? 0o111 : 0;
    return ok
      ? { ...trial, mode: 0o644 | exec }
      : { ...keeper, mode: 0o444 | exec };
  };

  const out: PlacedEntry[] = [{
    path: "",
    kind: "dir",
    created: false,
    ...place("", "dir", false),
  }];
  const sorted = [...kinds.keys()].sort((a, b) =>
    depth(a) - depth(b) || (a < b ? -1 : a > b ? 1 : 0)
  );
  for (const path of sorted) {
    const info = kinds.get(path)!;
    out.push({
      path,
      kind: info.kind,
      created: created.has(path),
      ...place(path, info.kind, info.executable),
    });
  }
  return out;
}
