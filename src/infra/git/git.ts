/**
 * Every git call ratchet makes (spec section 4). All of them go through
 * `runGitRaw`, which disables hooks (`core.hooksPath` pointing at an empty
 * directory ratchet owns), signing, fsmonitor and line-ending conversion,
 * never waits for input (no terminal prompt, no editor, stdin closed), and
 * ignores `GIT_DIR`-style variables inherited from a calling git so each call
 * acts on exactly the paths it is given.
 *
 * The user's checkout, branch and index are only ever read, except by
 * `squashApply` (`ratchet apply`, which the user asks for) and
 * `ensureExcluded` (one line in `.git/info/exclude`). The run's work happens
 * in its own worktree on its own branch; trial copies are materialised with a
 * temporary index.
 */
import { dirname, join, resolve } from "node:path";
import {
  type FileChange,
  GITLINK_MODE,
  type OversizedFile,
  SYMLINK_MODE,
} from "../../core/integrity.ts";
import type { DiffStat } from "../../core/state.ts";
import { EnvironmentError, ExitCode, RatchetError } from "../../errors.ts";

/** Author and committer of every commit on a run branch. */
export const RATCHET_IDENTITY = {
  name: "ratchet",
  email: "ratchet@localhost",
} as const;

/** A git command that exited with an unexpected status. */
export class GitError extends RatchetError {
  /** The git arguments (without ratchet's `-c` settings). */
  readonly args: readonly string[];
  /** git's exit status. */
  readonly status: number;
  readonly stderr: string;
  constructor(args: readonly string[], status: number, stderr: string) {
    const shown = args.map((a) => a.length > 80 ? `${a.slice(0, 77)}...` : a)
      .join(" ");
    super(
      `git ${shown} failed (exit ${status}): ${
        stderr.trim() || "(no message)"
      }`,
      ExitCode.internal,
    );
    this.args = args;
    this.status = status;
    this.stderr = stderr;
  }
}

/** A git call that did not finish within its time limit (exit 3). */
export class GitTimeoutError extends EnvironmentError {
  /** The git arguments (without ratchet's `-c` settings). */
  readonly args: readonly string[];
  readonly timeoutMs: number;
  constructor(args: readonly string[], timeoutMs: number) {
    const shown = args.slice(0, 6).map((a) =>
      a.length > 60 ? `${a.slice(0, 57)}...` : a
    ).join(" ");
    super(
      `git ${shown}${args.length > 6 ? " …" : ""} did not finish within ${
        timeoutMs / 1000
      } s and was killed`,
      {
        hint:
          `something made git hang (a stuck file system, a file it cannot read, a huge file); fix that, or allow git longer with ${GIT_TIMEOUT_ENV}=SECONDS`,
      },
    );
    this.args = args;
    this.timeoutMs = timeoutMs;
  }
}

/** Environment variable that sets the time limit of every git call, in seconds. */
export const GIT_TIMEOUT_ENV = "RATCHET_GIT_TIMEOUT_SECONDS";
/** Time limit of a git call unless GIT_TIMEOUT_ENV says otherwise. */
export const DEFAULT_GIT_TIMEOUT_MS = 300_000;

/** The time limit of every git call: GIT_TIMEOUT_ENV, else the default. */
export function gitTimeoutMs(
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): number {
  const raw = env(GIT_TIMEOUT_ENV);
  if (raw === undefined || raw.trim() === "") return DEFAULT_GIT_TIMEOUT_MS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0) {
    throw new EnvironmentError(
      `${GIT_TIMEOUT_ENV}=${JSON.stringify(raw)} is not a number of seconds`,
      { hint: `set it to a positive number, e.g. ${GIT_TIMEOUT_ENV}=600` },
    );
  }
  return Math.round(seconds * 1000);
}

/** Options of one git call. */
export interface GitOptions {
  /** Extra environment variables (added to ratchet's own). */
  env?: Record<string, string>;
  /** Written to git's stdin; without it stdin is closed. */
  input?: string | Uint8Array;
  /** Exit statuses that are answers rather than failures (default `[0]`). */
  okCodes?: readonly number[];
  /** Kill git and throw GitTimeoutError after this long (default: gitTimeoutMs()). */
  timeoutMs?: number;
}

/** What a git call printed. */
export interface GitOutput {
  status: number;
  stdout: Uint8Array;
  stderr: string;
}

// Variables that would point git at another repository, work tree or index
// than the paths a function is given (e.g. when ratchet runs from a hook).
const STRIPPED_ENV = new Set([
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_INDEX_FILE",
  "GIT_COMMON_DIR",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_NAMESPACE",
  "GIT_PREFIX",
]);

let hooksDir: Promise<string> | null = null;

/**
 * The empty directory `core.hooksPath` points at: created once per process
 * with a random name and mode 0700 under the OS temp dir, so no one else can
 * plant a hook in it; recreated if a temp cleaner removed it during a long
 * run; removed (if still empty) when the process exits.
 */
async function emptyHooksDir(): Promise<string> {
  if (hooksDir !== null) {
    const dir = await hooksDir;
    const info = await Deno.stat(dir).catch(() => null);
    if (info?.isDirectory) return dir;
  }
  hooksDir = Deno.makeTempDir({ prefix: "ratchet-no-hooks-" });
  const dir = await hooksDir;
  globalThis.addEventListener("unload", () => {
    try {
      Deno.removeSync(dir);
    } catch {
      // Already gone, or not empty: leave it rather than delete what we did not make.
    }
  });
  return dir;
}

const decoder = new TextDecoder();

/** Decode git's output as text. */
function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * The `git` command for `args` in `cwd` with ratchet's safety settings:
 * hooks off, no signing, no fsmonitor, no prompts, and no variable that
 * would point git elsewhere than `cwd`.
 */
async function gitCommand(
  cwd: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin: "null" | "piped" },
): Promise<Deno.Command> {
  const hooks = await emptyHooksDir();
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(Deno.env.toObject())) {
    if (!STRIPPED_ENV.has(k)) env[k] = v;
  }
  Object.assign(env, {
    GIT_TERMINAL_PROMPT: "0",
    GIT_EDITOR: "true",
    GIT_SEQUENCE_EDITOR: "true",
    GIT_ASKPASS: "true",
    GIT_PAGER: "cat",
  }, options.env ?? {});
  return new Deno.Command("git", {
    args: [
      "--no-pager",
      "-c",
      `core.hooksPath=${hooks}`,
      "-c",
      "commit.gpgsign=false",
      "-c",
      "tag.gpgsign=false",
      "-c",
      "core.fsmonitor=false",
      "-c",
      "core.autocrlf=false",
      ...args,
    ],
    cwd,
    env,
    clearEnv: true,
    stdin: options.stdin,
    stdout: "piped",
    stderr: "piped",
  });
}

/**
 * A long-lived git process (e.g. `cat-file --batch`) with ratchet's safety
 * settings and piped stdin/stdout; the caller ends it.
 */
export async function spawnGit(
  cwd: string,
  args: readonly string[],
): Promise<Deno.ChildProcess> {
  const command = await gitCommand(cwd, args, { stdin: "piped" });
  return command.spawn();
}

/**
 * Run git in `cwd` with ratchet's safety settings. Returns whatever git
 * printed; a status outside `okCodes` throws GitError with git's stderr.
 */
export async function runGitRaw(
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<GitOutput> {
  const command = await gitCommand(cwd, args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: options.input === undefined ? "null" : "piped",
  });
  const timeoutMs = options.timeoutMs ?? gitTimeoutMs();
  let output: Deno.CommandOutput;
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const child = command.spawn();
    // Every call is bounded: a git that hangs (a stuck file system, a FIFO
    // where a file was expected) is killed and reported, never waited on.
    timer = setTimeout(() => {
      timedOut = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }, timeoutMs);
    if (options.input !== undefined) {
      const writer = child.stdin.getWriter();
      const input = typeof options.input === "string"
        ? new TextEncoder().encode(options.input)
        : options.input;
      // A killed git closes its stdin: the write then fails, and the
      // timeout below is what gets reported.
      await writer.write(input).then(() => writer.close()).catch(() => {});
    }
    output = await child.output();
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      const cwdInfo = await Deno.stat(cwd).catch(() => null);
      if (cwdInfo === null) {
        throw new EnvironmentError(`directory ${cwd} does not exist`, {
          hint: "check the path, or run ratchet from inside your repository",
          cause: error,
        });
      }
      throw new EnvironmentError("git is not installed (not found on PATH)", {
        hint:
          "install git (https://git-scm.com) and make sure `git` is on PATH",
        cause: error,
      });
    }
    throw error;
  } finally {
    clearTimeout(timer);
  }
  if (timedOut) throw new GitTimeoutError(args, timeoutMs);
  const stderr = text(output.stderr);
  const okCodes = options.okCodes ?? [0];
  if (!okCodes.includes(output.code)) {
    throw new GitError(args, output.code, stderr);
  }
  return { status: output.code, stdout: output.stdout, stderr };
}

/** Run git and return its stdout as text without the trailing newline. */
export async function runGit(
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<string> {
  const out = await runGitRaw(cwd, args, options);
  return text(out.stdout).replace(/\r?\n$/, "");
}

/** Environment that makes commits authored and committed by `identity`. */
function identityEnv(
  identity: { name: string; email: string },
): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
  };
}

/** The top of the work tree containing `cwd`; EnvironmentError (exit 3) outside a repository. */
export async function findRepoRoot(cwd: string): Promise<string> {
  const out = await runGitRaw(cwd, ["rev-parse", "--show-toplevel"], {
    okCodes: [0, 128],
  });
  const root = text(out.stdout).trim();
  if (out.status !== 0 || root === "") {
    const said = out.stderr.trim().split("\n")[0] ?? "";
    const detail = /not a git repository/i.test(said) || said === ""
      ? ""
      : ` (git: ${said.replace(/^fatal:\s*/, "")})`;
    throw new EnvironmentError(
      `${cwd} is not inside a git repository${detail}`,
      {
        hint:
          "run ratchet inside a git work tree, or create one: git init && git add -A && git commit -m initial",
      },
    );
  }
  return root;
}

/** The commit `rev` names, or null when it names none. */
export async function resolveCommit(
  cwd: string,
  rev: string,
): Promise<string | null> {
  const out = await runGitRaw(
    cwd,
    ["rev-parse", "--verify", "--quiet", "--end-of-options", `${rev}^{commit}`],
    { okCodes: [0, 1, 128] },
  );
  return out.status === 0 ? text(out.stdout).trim() : null;
}

/** The tree of `treeish` (a commit or a tree). */
export async function treeOf(cwd: string, treeish: string): Promise<string> {
  return await runGit(cwd, [
    "rev-parse",
    "--verify",
    "--end-of-options",
    `${treeish}^{tree}`,
  ]);
}

/** `HEAD`'s commit; EnvironmentError (exit 3) when the repository has no commit yet. */
export async function headSha(root: string): Promise<string> {
  const sha = await resolveCommit(root, "HEAD");
  if (sha === null) {
    throw new EnvironmentError(
      `the repository at ${root} has no commits yet, and ratchet starts from HEAD`,
      {
        hint: "make a first commit: git add -A && git commit -m initial",
      },
    );
  }
  return sha;
}

/** The checked-out branch's short name (`main`, `ratchet/…`), or null on a detached HEAD. */
export async function currentBranch(root: string): Promise<string | null> {
  const out = await runGitRaw(root, ["symbolic-ref", "--quiet", "HEAD"], {
    okCodes: [0, 1],
  });
  if (out.status !== 0) return null;
  const ref = text(out.stdout).trim();
  return ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : ref;
}

/**
 * True when the work tree differs from HEAD: staged or unstaged changes to
 * tracked files and, unless `untracked` is false, untracked files. ratchet's
 * own `.ratchet/` never counts. Uses `--no-optional-locks` so merely asking
 * does not rewrite the user's index.
 */
export async function isDirty(
  root: string,
  options: { untracked?: boolean } = {},
): Promise<boolean> {
  const out = await runGitRaw(root, [
    "--no-optional-locks",
    "status",
    "--porcelain=v1",
    "-z",
    `--untracked-files=${options.untracked === false ? "no" : "normal"}`,
    "--",
    ".",
    ":(exclude).ratchet",
  ]);
  return out.stdout.length > 0;
}

/**
 * Add `entry` (e.g. `.ratchet/`) to the repository's `info/exclude` unless a
 * line already names it. The file is found with `--git-path`, so this works
 * from a linked worktree too. Returns whether a line was added.
 */
export async function ensureExcluded(
  root: string,
  entry: string,
): Promise<boolean> {
  const rel = await runGit(root, ["rev-parse", "--git-path", "info/exclude"]);
  const path = resolve(root, rel);
  let current = "";
  try {
    current = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  const bare = (line: string) => line.trim().replace(/^\/+|\/+$/g, "");
  if (current.split(/\r?\n/).some((line) => bare(line) === bare(entry))) {
    return false;
  }
  await Deno.mkdir(dirname(path), { recursive: true });
  const sep = current === "" || current.endsWith("\n") ? "" : "\n";
  await Deno.writeTextFile(path, `${sep}${entry}\n`, { append: true });
  return true;
}

/**
 * Create the run's worktree at `worktreePath` on the new branch `branch`
 * (e.g. `ratchet/<run_id>`) starting at `startSha`. The user's checkout,
 * branch and index are not touched, and a detached HEAD does not matter
 * because the start commit is explicit.
 */
export async function createWorktree(
  root: string,
  worktreePath: string,
  branch: string,
  startSha: string,
): Promise<void> {
  await Deno.mkdir(dirname(worktreePath), { recursive: true });
  await runGit(root, [
    "worktree",
    "add",
    "--quiet",
    "--no-track",
    "-b",
    branch,
    "--",
    worktreePath,
    startSha,
  ]);
}

/**
 * Remove the run's worktree (its branch stays). When the directory is
 * already gone, its leftover registration is removed too, so the branch no
 * longer looks checked out.
 */
export async function removeWorktree(
  root: string,
  worktreePath: string,
): Promise<void> {
  // Twice --force: remove even with untracked files or a lock.
  const out = await runGitRaw(
    root,
    ["worktree", "remove", "--force", "--force", "--", worktreePath],
    { okCodes: [0, 128] },
  );
  if (out.status === 0) return;
  const exists = await Deno.stat(worktreePath).then(() => true, () => false);
  if (exists) {
    throw new GitError(["worktree", "remove", worktreePath], 128, out.stderr);
  }
  // The directory is gone and git did not recognise the path (e.g. it was
  // registered under another spelling): drop registrations of missing dirs.
  await runGit(root, ["worktree", "prune"]);
}

/** The candidate's tree, and the files left out of it for being too large. */
export interface CandidateTree {
  tree: string;
  /** Files above the cap: never read by git, so absent from `tree`. */
  oversized: OversizedFile[];
}

/**
 * Regular files in the worktree that `git add --all` would read (untracked
 * but not ignored, or changed since the index) and that are larger than
 * `maxBytes`, found with lstat alone: nothing is read, so a 1 TB sparse file
 * costs what a small one does. A tracked file whose size is still its
 * committed size is left to git (it is the repository's own, merely
 * touched; if its content did change, the diff check sees its size).
 */
export async function oversizedFiles(
  worktree: string,
  maxBytes: number,
): Promise<OversizedFile[]> {
  const untracked = text(
    (await runGitRaw(worktree, [
      "ls-files",
      "-z",
      "--others",
      "--exclude-standard",
      "--",
      ".",
    ])).stdout,
  ).split("\0").filter((p) => p !== "");
  // "<mode> <sha> <stage>\t<path>" of each tracked file whose stat changed.
  const indexed = new Map<string, string>();
  for (
    const entry of text(
      (await runGitRaw(worktree, [
        "ls-files",
        "-z",
        "--stage",
        "--modified",
        "--",
        ".",
      ])).stdout,
    ).split("\0")
  ) {
    const tab = entry.indexOf("\t");
    const sha = entry.slice(0, tab).split(" ")[1];
    if (tab > 0 && sha !== undefined) indexed.set(entry.slice(tab + 1), sha);
  }
  const paths = [...new Set([...untracked, ...indexed.keys()])];
  const found: OversizedFile[] = [];
  // A few lstats at a time: a candidate may leave very many files.
  for (let i = 0; i < paths.length; i += 64) {
    const batch = paths.slice(i, i + 64);
    const infos = await Promise.all(
      batch.map((p) => Deno.lstat(join(worktree, p)).catch(() => null)),
    );
    infos.forEach((info, k) => {
      if (info?.isFile && info.size > maxBytes) {
        found.push({ path: batch[k]!, size: info.size });
      }
    });
  }
  const committed = await objectSizes(
    worktree,
    found.flatMap((f) => indexed.has(f.path) ? [indexed.get(f.path)!] : []),
  );
  return found.filter((f) => {
    const sha = indexed.get(f.path);
    return sha === undefined || committed.get(sha) !== f.size;
  }).sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
}

/**
 * Stage everything in the worktree, including untracked files and
 * deletions (`git add -A`; ignored files stay out), and return the tree sha.
 * Only the worktree's own index is written.
 */
export async function writeCandidateTree(worktree: string): Promise<string> {
  return (await stageCandidate(worktree, null)).tree;
}

/**
 * {@linkcode writeCandidateTree} with a file-size cap: files above
 * `maxFileBytes` are found first ({@linkcode oversizedFiles}) and left out,
 * unread. git would otherwise hash and compress every byte of them (a 4 GB
 * file took minutes and gigabytes of memory), and the diff check rejects
 * the candidate for them anyway. `null`: no cap.
 */
export async function stageCandidate(
  worktree: string,
  maxFileBytes: number | null,
): Promise<CandidateTree> {
  const oversized = maxFileBytes === null
    ? []
    : await oversizedFiles(worktree, maxFileBytes);
  if (oversized.length === 0) {
    await runGit(worktree, ["add", "--all", "--", "."]);
  } else {
    // The pathspecs go through stdin (NUL-separated): there may be many.
    const specs = [".", ...oversized.map((f) => `:(exclude,literal)${f.path}`)];
    await runGit(worktree, [
      "add",
      "--all",
      "--pathspec-from-file=-",
      "--pathspec-file-nul",
    ], { input: specs.join("\0") + "\0" });
  }
  return { tree: await runGit(worktree, ["write-tree"]), oversized };
}

/**
 * Commit `tree` on top of `parent` in the worktree, authored and committed by
 * `ratchet <ratchet@localhost>`, and advance the worktree's branch to it
 * (only if it still points at `parent`). The worktree's index is reset to
 * the new commit; its files are left as they are. Returns the commit sha.
 */
export async function commitCandidate(
  worktree: string,
  commit: { tree: string; parent: string; message: string },
): Promise<string> {
  const message = commit.message.endsWith("\n")
    ? commit.message
    : `${commit.message}\n`;
  const sha = await runGit(
    worktree,
    ["commit-tree", commit.tree, "-p", commit.parent, "-F", "-"],
    { input: message, env: identityEnv(RATCHET_IDENTITY) },
  );
  await runGit(worktree, [
    "update-ref",
    "-m",
    "ratchet: keep candidate",
    "HEAD",
    sha,
    commit.parent,
  ]);
  await runGit(worktree, ["reset", "--quiet", "--mixed", sha]);
  return sha;
}

/**
 * Put the worktree back to exactly commit `sha`: HEAD (and its branch) at
 * `sha`, index and files as committed, and every file the candidate left
 * behind removed, ignored ones included (`git clean -ffdx`: an ignored build
 * output the candidate produced must not leak into the next proposal, and
 * `-ff` also removes nested repositories).
 */
export async function resetWorktree(
  worktree: string,
  sha: string,
): Promise<void> {
  await runGit(worktree, ["reset", "--quiet", "--hard", sha]);
  await runGit(worktree, ["clean", "-ffdx", "--quiet"]);
}

// Settings that make diffs identical whatever the user's diff config says.
const DIFF_FLAGS = [
  "--no-color",
  "--no-ext-diff",
  "--no-textconv",
  "-M",
  "--src-prefix=a/",
  "--dst-prefix=b/",
];

/**
 * The patch from `from` to `to` (commits or trees), with binary files
 * included (`--binary`), as raw bytes so files in any encoding survive;
 * `git apply` on `from` reproduces `to`.
 */
export async function diffPatch(
  cwd: string,
  from: string,
  to: string,
): Promise<Uint8Array> {
  const out = await runGitRaw(cwd, [
    "diff",
    "--binary",
    ...DIFF_FLAGS,
    from,
    to,
    "--",
  ]);
  return out.stdout;
}

/**
 * Files changed and lines inserted/deleted from `from` to `to` (renames
 * count once; binary files count as changed with no lines).
 */
export async function diffStat(
  cwd: string,
  from: string,
  to: string,
): Promise<DiffStat> {
  const raw = text(
    (await runGitRaw(cwd, [
      "diff",
      "--numstat",
      "-z",
      ...DIFF_FLAGS,
      from,
      to,
      "--",
    ])).stdout,
  );
  const fields = raw.split("\0");
  const stat: DiffStat = { files: 0, insertions: 0, deletions: 0 };
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i] ?? "";
    if (field === "") continue;
    // "ins\tdel\tpath", or "ins\tdel\t" followed by old and new path for a rename.
    const [ins, del, path] = field.split("\t");
    if (path === "") i += 2;
    stat.files++;
    stat.insertions += Number(ins) || 0;
    stat.deletions += Number(del) || 0;
  }
  return stat;
}

/**
 * Read many objects in one git process (`cat-file --batch`): sha → content,
 * or null for an object the repository does not have.
 */
async function readObjects(
  root: string,
  shas: readonly string[],
): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  const wanted = [...new Set(shas)];
  if (wanted.length === 0) return out;
  const raw = (await runGitRaw(root, ["cat-file", "--batch"], {
    input: wanted.join("\n") + "\n",
  })).stdout;
  let at = 0;
  for (const sha of wanted) {
    const eol = raw.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = text(raw.subarray(at, eol));
    at = eol + 1;
    // "<sha> <type> <size>", or "<name> missing".
    const size = /^\S+ \S+ (\d+)$/.exec(header)?.[1];
    if (size === undefined) {
      out.set(sha, null);
      continue;
    }
    out.set(sha, raw.slice(at, at + Number(size)));
    at += Number(size) + 1;
  }
  return out;
}

/** Sizes of objects (`cat-file --batch-check`): sha → bytes, or null when missing. */
async function objectSizes(
  root: string,
  shas: readonly string[],
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  const wanted = [...new Set(shas)];
  if (wanted.length === 0) return out;
  const lines = text(
    (await runGitRaw(root, [
      "cat-file",
      "--batch-check=%(objectname) %(objectsize)",
    ], { input: wanted.join("\n") + "\n" })).stdout,
  ).split("\n");
  wanted.forEach((sha, i) => {
    const m = /^(\S+) (\d+)$/.exec(lines[i] ?? "");
    out.set(sha, m ? Number(m[2]) : null);
  });
  return out;
}

/**
 * Every symlink of `treeish` (a commit or a tree): repo-relative path →
 * target, read from git's objects, for resolving links inside the tree.
 */
export async function treeSymlinks(
  root: string,
  treeish: string,
): Promise<Map<string, string>> {
  const raw = text(
    (await runGitRaw(root, ["ls-tree", "-r", "-z", "--full-tree", treeish]))
      .stdout,
  );
  const entries: { path: string; sha: string }[] = [];
  for (const entry of raw.split("\0")) {
    // "<mode> <type> <sha>\t<path>"
    const tab = entry.indexOf("\t");
    if (tab < 0) continue;
    const [mode, , sha] = entry.slice(0, tab).split(" ");
    if (mode === SYMLINK_MODE && sha !== undefined) {
      entries.push({ path: entry.slice(tab + 1), sha });
    }
  }
  const blobs = await readObjects(root, entries.map((e) => e.sha));
  const links = new Map<string, string>();
  for (const e of entries) {
    const blob = blobs.get(e.sha);
    // A target git cannot produce: an empty one fails closed in the check.
    links.set(e.path, blob ? text(blob) : "");
  }
  return links;
}

const STATUSES: Record<string, FileChange["status"]> = {
  A: "A",
  M: "M",
  D: "D",
  T: "T",
  R: "R",
  C: "A", // a copy creates a new path; its source is untouched
};

/**
 * Every path changed from `from` to `to` (commits or trees), with renames
 * detected, the new mode and size, and for symlinks the target read from the
 * blob. This is git's own view of the candidate, for the integrity check.
 */
export async function changedFiles(
  root: string,
  from: string,
  to: string,
): Promise<FileChange[]> {
  const raw = text(
    (await runGitRaw(root, ["diff-tree", "-r", "-z", "--raw", "-M", from, to]))
      .stdout,
  );
  const fields = raw.split("\0");
  const changes: FileChange[] = [];
  const shas = new Map<FileChange, string>();
  let i = 0;
  while (i < fields.length) {
    const meta = fields[i++] ?? "";
    if (!meta.startsWith(":")) continue;
    // ":oldmode newmode oldsha newsha STATUS[score]"
    const [, newMode = "", , newSha = "", statusField = ""] = meta.slice(1)
      .split(" ");
    const letter = statusField.charAt(0);
    const status = STATUSES[letter] ?? "M";
    let oldPath: string | undefined;
    if (letter === "R" || letter === "C") oldPath = fields[i++] ?? "";
    const path = fields[i++] ?? "";
    const deleted = status === "D" || /^0+$/.test(newMode);
    const change: FileChange = {
      path,
      status,
      newMode: deleted ? null : newMode,
      symlinkTarget: null,
      // A submodule is a commit of another repository: no bytes here.
      size: deleted ? null : newMode === GITLINK_MODE ? 0 : null,
    };
    if (letter === "R" && oldPath !== undefined) change.oldPath = oldPath;
    if (!deleted && newMode !== GITLINK_MODE) shas.set(change, newSha);
    changes.push(change);
  }
  const sizes = await objectSizes(root, [...shas.values()]);
  const links = await readObjects(
    root,
    changes.filter((c) => c.newMode === SYMLINK_MODE).map((c) => shas.get(c)!),
  );
  for (const [change, sha] of shas) {
    change.size = sizes.get(sha) ?? null;
    if (change.newMode === SYMLINK_MODE) {
      const blob = links.get(sha);
      change.symlinkTarget = blob ? text(blob) : null;
    }
  }
  return changes;
}

/**
 * Write the files of `treeish` into `destDir` (created if needed), without
 * `.git`, keeping symlinks and executable bits. Uses a throwaway index
 * (`GIT_INDEX_FILE`) with `read-tree` + `checkout-index`, so no real index
 * or checkout is touched. Unlike `git archive` it ignores `export-ignore`
 * and `export-subst`, which a candidate could use to hide or rewrite files.
 */
export async function exportTree(
  root: string,
  treeish: string,
  destDir: string,
): Promise<void> {
  await Deno.mkdir(destDir, { recursive: true });
  const tmp = await Deno.makeTempDir({ prefix: "ratchet-index-" });
  try {
    const env = { GIT_INDEX_FILE: join(tmp, "index") };
    // A split index would leave shared index files in the repository.
    const settings = [
      "-c",
      "core.splitIndex=false",
      "-c",
      "core.symlinks=true",
    ];
    await runGit(root, [...settings, "read-tree", treeish], { env });
    await runGit(root, [
      ...settings,
      `--work-tree=${resolve(destDir)}`,
      "checkout-index",
      "--all",
      "--force",
      "--quiet",
    ], { env });
  } finally {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Commits on `branch` after `baseSha`, oldest first (first-parent line). */
export async function listBranchCommits(
  root: string,
  baseSha: string,
  branch: string,
): Promise<string[]> {
  const out = await runGit(root, [
    "rev-list",
    "--reverse",
    "--first-parent",
    `${baseSha}..${branch}`,
    "--",
  ]);
  return out === "" ? [] : out.split("\n");
}

/** The user's identity when git can work one out, else ratchet's. */
async function committerEnv(root: string): Promise<Record<string, string>> {
  const out = await runGitRaw(root, ["var", "GIT_COMMITTER_IDENT"], {
    okCodes: [0, 128],
  });
  return out.status === 0 ? {} : identityEnv(RATCHET_IDENTITY);
}

/**
 * `ratchet apply`: put the run's changes (the difference between `baseSha`,
 * where the run started, and the tip of `runBranch`) onto the user's current
 * branch, or detached HEAD, as ONE commit with `message`, and update the
 * checkout to it. Works like a cherry-pick of the squashed run: the user's
 * branch may have moved on since the run started.
 *
 * Refuses (EnvironmentError, exit 3) a work tree with uncommitted changes to
 * tracked files, changes that conflict with the current branch, and untracked
 * files the result would overwrite; in every refusal the checkout is left as
 * it was. Returns the new commit, or null when there is nothing to apply
 * (no kept change, or the changes are already there).
 */
export async function squashApply(
  root: string,
  runBranch: string,
  baseSha: string,
  message: string,
): Promise<string | null> {
  if (await isDirty(root, { untracked: false })) {
    throw new EnvironmentError(
      `the work tree at ${root} has uncommitted changes`,
      {
        hint: "commit or stash them (git stash), then run ratchet apply again",
      },
    );
  }
  const head = await headSha(root);
  const tip = await resolveCommit(root, `refs/heads/${runBranch}`);
  if (tip === null) {
    throw new EnvironmentError(`the run branch ${runBranch} does not exist`, {
      hint: "list the run branches with: git branch --list 'ratchet/*'",
    });
  }
  const [baseTree, tipTree, headTree] = await Promise.all([
    treeOf(root, baseSha),
    treeOf(root, tip),
    treeOf(root, head),
  ]);
  if (tipTree === baseTree) return null;

  // Two throwaway commits with `baseSha` as their only parent make it the
  // merge base, so the three-way merge applies exactly base→tip onto HEAD,
  // in memory (`merge-tree --write-tree`), without touching the checkout.
  const scratch = identityEnv(RATCHET_IDENTITY);
  const theirs = await runGit(
    root,
    ["commit-tree", tipTree, "-p", baseSha, "-m", "ratchet run"],
    { env: scratch },
  );
  const ours = await runGit(
    root,
    ["commit-tree", headTree, "-p", baseSha, "-m", "current branch"],
    { env: scratch },
  );
  const merge = await runGitRaw(
    root,
    ["merge-tree", "--write-tree", "--name-only", ours, theirs],
    { okCodes: [0, 1, 129] },
  );
  if (merge.status === 129) {
    throw new EnvironmentError(
      "ratchet apply needs git 2.38 or newer (git merge-tree --write-tree)",
      {
        hint: `upgrade git, or merge by hand: git merge --squash ${runBranch}`,
      },
    );
  }
  const lines = text(merge.stdout).split("\n");
  if (merge.status === 1) {
    const conflicted = [];
    for (const line of lines.slice(1)) {
      if (line === "") break;
      conflicted.push(line);
    }
    throw new EnvironmentError(
      `the run's changes conflict with your current branch in ${
        [...new Set(conflicted)].join(", ") || "some files"
      }`,
      {
        hint:
          `merge by hand: git merge --squash ${runBranch}, resolve, then git commit`,
      },
    );
  }
  const merged = (lines[0] ?? "").trim();
  if (merged === headTree) return null;

  const sha = await runGit(
    root,
    ["commit-tree", merged, "-p", head, "-F", "-"],
    {
      input: message.endsWith("\n") ? message : `${message}\n`,
      env: await committerEnv(root),
    },
  );
  const ff = await runGitRaw(root, ["merge", "--ff-only", "--quiet", sha], {
    okCodes: [0, 1, 128],
  });
  if (ff.status !== 0) {
    throw new EnvironmentError(
      `could not update your checkout to the applied commit ${
        sha.slice(0, 12)
      }: ${ff.stderr.trim()}`,
      {
        hint:
          "move the untracked files git names out of the way, then run ratchet apply again",
      },
    );
  }
  return sha;
}
