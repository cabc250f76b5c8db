/**
 * The prepare step (spec section 3, `--prepare-command`): installs what the
 * trials need, once, with network, as root with the engine's default
 * capabilities, on top of the trial image with the start tree at /work. The
 * stopped container is committed as the run's trial image.
 *
 * Only what the command created under /work that the tree does not hold
 * (`node_modules/`, `.venv/`, downloaded data) is kept: before the commit the
 * tree's own files are removed again, so every candidate's tree is laid over
 * the prepared layer with its own tracked files (a file the candidate deleted
 * does not come back, a lockfile the command rewrote does not leak), and
 * what remains is given to the trial user.
 *
 * The result is cached by (base image id, command, start tree, trial user,
 * the values of `--pass-env`): a second run or a `measure` of the same
 * commit reuses it and says so. The last two prepared images of a
 * repository are kept; older ones are removed when a new one is made.
 */
import { createHash } from "node:crypto";
import { type Ident, planTreeLayout } from "../core/tree_layout.ts";
import { EnvironmentError } from "../errors.ts";
import type {
  ContainerRuntime,
  FsChange,
  ProgressSink,
} from "../infra/runtime.ts";
import type { GitContext } from "../infra/git/context.ts";
import { packTar, type TarItem } from "../infra/tar.ts";
import {
  prepareSpec,
  type SpecContext,
  trialEnv,
  WORK_DIR,
} from "./container_spec.ts";
import {
  ContentReader,
  listSource,
  type SourceEntry,
  type TreeSource,
} from "./tree_source.ts";

/** Lines of the prepare command's output quoted when it fails. */
const TAIL_LINES = 30;
/** Output cap of the prepare step, per stream (as for trials). */
const PREPARE_OUTPUT_CAP = 10 * 1024 * 1024;
/** Prepared images kept per repository. */
export const PREPARED_KEPT = 2;
/** Where the cleanup script goes in the prepare container. */
const CLEANUP = "/.ratchet-prepare/cleanup";
/** Paths per `rm` line of the cleanup script (well under ARG_MAX). */
const RM_BATCH = 200;

/** What the prepare step needs. */
export interface PrepareInput {
  runtime: ContainerRuntime;
  spec: SpecContext;
  baseImage: string;
  command: string;
  /** The start tree. */
  source: TreeSource;
  /** What the start tree is read from git with. */
  git: GitContext;
  trialUser: Ident;
  /** Names the repository among prepared images (see `repoKeyOf`). */
  repoKey: string;
  signal?: AbortSignal;
  onProgress?: ProgressSink;
  fault?: (point: string) => void;
}

/** The run's trial image after the prepare step. */
export interface Prepared {
  image: string;
  reused: boolean;
  /**
   * Top-level paths (repo-relative) the command created: what the model's
   * sandbox must not carry back into a candidate.
   */
  roots: string[];
}

/** The label naming a repository among prepared images. */
export function repoKeyOf(repoRoot: string): string {
  return createHash("sha256").update(repoRoot).digest("hex").slice(0, 16);
}

/** A POSIX-sh single-quoted word. */
function quote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script that removes the tree's own files after the command and gives
 * the rest to the trial user (pure).
 */
export function cleanupScript(
  entries: readonly SourceEntry[],
  trialUser: Ident,
): string {
  const lines = ["cd /work || exit 1"];
  const files = entries.filter((e) => e.kind !== "dir").map((e) => e.path);
  for (let i = 0; i < files.length; i += RM_BATCH) {
    lines.push(`rm -f -- ${files.slice(i, i + RM_BATCH).map(quote).join(" ")}`);
  }
  // Deepest first; a directory the command put something in stays.
  const dirs = entries.filter((e) => e.kind === "dir").map((e) => e.path)
    .sort((a, b) => b.split("/").length - a.split("/").length);
  for (let i = 0; i < dirs.length; i += RM_BATCH) {
    lines.push(
      `rmdir -- ${
        dirs.slice(i, i + RM_BATCH).map(quote).join(" ")
      } 2>/dev/null`,
    );
  }
  if (trialUser.uid !== 0) {
    lines.push(`chown -R ${trialUser.uid}:${trialUser.gid} /work || exit 1`);
  }
  lines.push("rm -rf /.ratchet-prepare", "exit 0");
  return lines.join("\n") + "\n";
}

/** The prepare container's main script: `$1` is the command. */
const PREPARE_SCRIPT = `cd ${WORK_DIR} || exit 125
sh -c "$1" < /dev/null
s=$?
[ "$s" -eq 0 ] || exit "$s"
sh ${CLEANUP} || exit 125
`;

/**
 * The top-level paths the command created, from the container's changes:
 * added paths under /work whose parent is /work or one of the tree's
 * directories, and that are not the tree's own (pure). A tracked path is
 * never a root, even where the command put a directory in its place: the
 * candidate's version of it always wins.
 */
export function preparedRoots(
  changes: readonly FsChange[],
  entries: readonly SourceEntry[],
): string[] {
  const treeDirs = new Set(
    entries.filter((e) => e.kind === "dir").map((e) => e.path),
  );
  treeDirs.add("");
  const tracked = new Set(entries.map((e) => e.path));
  const roots = new Set<string>();
  for (const c of changes) {
    if (c.kind === "deleted" || !c.path.startsWith(`${WORK_DIR}/`)) continue;
    const rel = c.path.slice(WORK_DIR.length + 1);
    if (tracked.has(rel)) continue;
    const parent = rel.includes("/") ? rel.slice(0, rel.lastIndexOf("/")) : "";
    if (treeDirs.has(parent)) roots.add(rel);
  }
  return [...roots].sort();
}

function tail(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes).trimEnd().split("\n").slice(
    -TAIL_LINES,
  ).join("\n");
}

/** Run the prepare step (or reuse its cached result). */
export async function prepareImage(input: PrepareInput): Promise<Prepared> {
  const progress = input.onProgress ?? (() => {});
  const { runtime } = input;
  const base = await runtime.inspectImage(input.baseImage);
  if (base === null) {
    throw new EnvironmentError(
      `The trial image ${input.baseImage} disappeared before the prepare step`,
      { hint: "Run again; ratchet rebuilds or pulls it." },
    );
  }
  const listing = await listSource(input.git, input.source);
  const env = trialEnv(input.spec.config.passEnv, input.spec.env);
  const key = createHash("sha256").update(JSON.stringify([
    base.id,
    input.command,
    listing.identity,
    input.trialUser,
    Object.entries(env).sort(),
  ])).digest("hex").slice(0, 24);
  const tag = `ratchet-prepared:${key}`;
  const existing = await runtime.inspectImage(tag);
  if (existing !== null) {
    progress(
      `Reusing the prepared image ${tag} (same trial image, --prepare-command and start tree)`,
    );
    return {
      image: tag,
      reused: true,
      roots: JSON.parse(existing.labels["ratchet.prepared-roots"] ?? "[]"),
    };
  }

  progress(
    `Running --prepare-command on ${input.baseImage} (with network, as root): ${input.command}`,
  );
  // The start tree as the trial user's, nothing protected: the command may
  // need to write anywhere in it.
  const placed = planTreeLayout(
    listing.entries.map((e) => ({
      path: e.path,
      kind: e.kind,
      executable: e.executable,
    })),
    {
      harness: [],
      editable: [],
      scratch: [],
      reportPath: null,
      configPath: null,
    },
    input.trialUser,
  );
  const byPath = new Map(listing.entries.map((e) => [e.path, e]));
  let roots: string[] = [];
  await using reader = new ContentReader(input.git);
  function* items(): Generator<TarItem> {
    for (const p of placed) {
      const base = {
        path: p.path === "" ? "work" : `work/${p.path}`,
        mode: p.mode,
        uid: p.uid,
        gid: p.gid,
        mtime: 1_000_000_000,
      };
      const source = byPath.get(p.path);
      if (p.kind === "dir") yield { ...base, kind: "dir" };
      else if (p.kind === "symlink") {
        yield {
          ...base,
          kind: "symlink",
          linkTarget: source?.linkTarget ?? "",
        };
      } else {
        yield {
          ...base,
          kind: "file",
          stream: { size: source!.size, chunks: () => reader.chunks(source!) },
        };
      }
    }
  }
  const result = await runtime.run(
    prepareSpec(input.spec, {
      image: input.baseImage,
      script: PREPARE_SCRIPT,
      command: input.command,
    }),
    {
      timeoutMs: null,
      outputCapBytes: PREPARE_OUTPUT_CAP,
      ...(input.signal === undefined ? {} : { signal: input.signal }),
      files: [
        {
          path: ".ratchet-prepare",
          kind: "dir",
          mode: 0o700,
          uid: 0,
          gid: 0,
        },
        {
          path: CLEANUP.slice(1),
          kind: "file",
          mode: 0o600,
          uid: 0,
          gid: 0,
          data: new TextEncoder().encode(
            cleanupScript(listing.entries, input.trialUser),
          ),
        },
      ],
      content: () => packTar(items()),
      changes: true,
      commit: {
        tag,
        labels: (changes) => {
          roots = preparedRoots(changes, listing.entries);
          return {
            // Not the run's: the image outlives it as a cache.
            "ratchet.run": "",
            "ratchet.role": "prepared",
            "ratchet.repo": input.repoKey,
            "ratchet.prepare-key": key,
            "ratchet.prepared-roots": JSON.stringify(roots),
          };
        },
      },
    },
  );
  const failure = result.timedOut
    ? "timed out"
    : result.oomKilled
    ? "was killed for lack of memory"
    : result.exitCode !== 0
    ? `exited with code ${result.exitCode}`
    : null;
  if (failure !== null) {
    const out = tail(result.stdout);
    const err = tail(result.stderr);
    const text = [out && `[stdout]\n${out}`, err && `[stderr]\n${err}`]
      .filter((s) => s).join("\n");
    throw new EnvironmentError(
      `--prepare-command ${failure}: ${input.command}` +
        (text === "" ? "" : `\nLast lines of its output:\n${text}`),
      {
        hint: result.oomKilled
          ? "Raise --memory, or make the command use less memory."
          : `Fix the command (try it with \`docker run --rm -it ${input.baseImage} sh\`), then run again.`,
      },
    );
  }
  input.fault?.("prepare.committed");
  progress(`Prepared image ${tag}`);
  await prunePrepared(runtime, input.repoKey, tag);
  return { image: tag, reused: false, roots };
}

/** Keep the newest PREPARED_KEPT prepared images of a repository (and `keep`). */
async function prunePrepared(
  runtime: ContainerRuntime,
  repoKey: string,
  keep: string,
): Promise<void> {
  const images = await runtime.listImages({
    "ratchet.role": "prepared",
    "ratchet.repo": repoKey,
  });
  images.sort((a, b) => b.created - a.created);
  let kept = 0;
  for (const image of images) {
    if (image.name === keep || kept < PREPARED_KEPT - 1) {
      if (image.name !== keep) kept++;
      continue;
    }
    // An image another run still builds on cannot go: it goes next time.
    await runtime.removeImage(image.name).catch(() => {});
  }
}
