/**
 * Real git repositories in temporary directories for tests. Use with
 * `await using repo = await tempRepo({ "a.txt": "x" })`.
 */
import { join } from "node:path";

/** Environment that makes git deterministic and non-interactive in tests. */
export const GIT_TEST_ENV: Record<string, string> = {
  GIT_AUTHOR_NAME: "Test User",
  GIT_AUTHOR_EMAIL: "test@example.com",
  GIT_COMMITTER_NAME: "Test User",
  GIT_COMMITTER_EMAIL: "test@example.com",
  GIT_CONFIG_NOSYSTEM: "1",
  GIT_TERMINAL_PROMPT: "0",
};

/** A temporary repository, removed when disposed. */
export interface TempRepo extends AsyncDisposable {
  dir: string;
  /** Run git in the repo; throws with stderr on failure. */
  git(...args: string[]): Promise<string>;
  /** Write files (relative path → content), creating directories. */
  write(files: Record<string, string>): Promise<void>;
  /** `git add -A && git commit -m msg`; returns the new HEAD sha. */
  commit(message?: string): Promise<string>;
}

/** Run git with the test environment and return trimmed stdout. */
export async function runGit(cwd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command("git", {
    args: ["-c", "commit.gpgsign=false", ...args],
    cwd,
    env: GIT_TEST_ENV,
    stdin: "null",
  }).output();
  if (!out.success) {
    throw new Error(
      `git ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return new TextDecoder().decode(out.stdout).trim();
}

/** Create a temp directory removed when disposed (no git). */
export async function tempDir(
  prefix = "ratchet-test-",
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix });
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

/**
 * Create a repository with `files` committed on `main` (pass `commit: false`
 * for an empty repository without commits).
 */
export async function tempRepo(
  files: Record<string, string> = { "README.md": "test\n" },
  options: { commit?: boolean } = {},
): Promise<TempRepo> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-repo-" });
  const repo: TempRepo = {
    dir,
    git: (...args) => runGit(dir, args),
    async write(entries) {
      for (const [path, content] of Object.entries(entries)) {
        const full = join(dir, path);
        await Deno.mkdir(join(full, ".."), { recursive: true });
        await Deno.writeTextFile(full, content);
      }
    },
    async commit(message = "commit") {
      await runGit(dir, ["add", "-A"]);
      await runGit(dir, ["commit", "-q", "--allow-empty", "-m", message]);
      return await runGit(dir, ["rev-parse", "HEAD"]);
    },
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
  await runGit(dir, ["init", "-q", "-b", "main"]);
  await repo.write(files);
  if (options.commit !== false) await repo.commit("initial");
  return repo;
}
