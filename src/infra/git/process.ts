/**
 * Running git (spec section 4). Every git call ratchet makes goes through
 * `runGitRaw` (or `spawnGit` for a long-lived process), which disables hooks
 * (`core.hooksPath` pointing at /dev/null, where no hook can be), signing,
 * fsmonitor and line-ending conversion, never waits for input (no terminal
 * prompt, no editor, stdin closed), bounds every call by a time limit, and
 * runs with the environment of its GitContext (./context.ts), which has no
 * `GIT_DIR`-style variables inherited from a calling git, so each call acts
 * on exactly the paths it is given.
 *
 * The user's checkout, branch and index are only ever read, except by
 * `squashApply` (`ratchet apply`, which the user asks for) and
 * `ensureExcluded` (one line in `.git/info/exclude`). The run's work happens
 * in its own worktree on its own branch; trial copies are materialised with a
 * temporary index.
 */
import { EnvironmentError, ExitCode, RatchetError } from "../../errors.ts";
import { text } from "./_output.ts";
import { GIT_TIMEOUT_ENV, type GitContext } from "./context.ts";

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

/** Options of one git call. */
export interface GitOptions {
  /** Extra environment variables (added to ratchet's own). */
  env?: Record<string, string>;
  /** Written to git's stdin; without it stdin is closed. */
  input?: string | Uint8Array;
  /** Exit statuses that are answers rather than failures (default `[0]`). */
  okCodes?: readonly number[];
  /** Kill git and throw GitTimeoutError after this long (default: the context's). */
  timeoutMs?: number;
}

/** What a git call printed. */
export interface GitOutput {
  status: number;
  stdout: Uint8Array;
  stderr: string;
}

/**
 * Where `core.hooksPath` points: a path that is not a directory, so git
 * finds no hook there (and none in `.git/hooks`, which the setting
 * replaces). Nothing to create, plant into, or clean up.
 */
const NO_HOOKS = "/dev/null";

/**
 * The `git` command for `args` in `cwd` with ratchet's safety settings:
 * hooks off, no signing, no fsmonitor, no prompts, and no variable that
 * would point git elsewhere than `cwd`.
 */
function gitCommand(
  git: GitContext,
  cwd: string,
  args: readonly string[],
  options: { env?: Record<string, string>; stdin: "null" | "piped" },
): Deno.Command {
  const env: Record<string, string> = { ...git.env };
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
      `core.hooksPath=${NO_HOOKS}`,
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
export function spawnGit(
  git: GitContext,
  cwd: string,
  args: readonly string[],
): Promise<Deno.ChildProcess> {
  // A failure to start rejects the promise, as for the other git calls.
  return new Promise((resolve) =>
    resolve(gitCommand(git, cwd, args, { stdin: "piped" }).spawn())
  );
}

/**
 * Run git in `cwd` with ratchet's safety settings. Returns whatever git
 * printed; a status outside `okCodes` throws GitError with git's stderr.
 */
export async function runGitRaw(
  git: GitContext,
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<GitOutput> {
  const command = gitCommand(git, cwd, args, {
    ...(options.env === undefined ? {} : { env: options.env }),
    stdin: options.input === undefined ? "null" : "piped",
  });
  const timeoutMs = options.timeoutMs ?? git.timeoutMs;
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
  git: GitContext,
  cwd: string,
  args: readonly string[],
  options: GitOptions = {},
): Promise<string> {
  const out = await runGitRaw(git, cwd, args, options);
  return text(out.stdout).replace(/\r?\n$/, "");
}
