/** Spawn ratchet's CLI (main.ts) as a user would, and capture everything. */
import { fileURLToPath } from "node:url";
import { GIT_TEST_ENV } from "./git_repo.ts";

const MAIN = fileURLToPath(new URL("../../main.ts", import.meta.url));

/** What a CLI run left behind. */
export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@linkcode runCli}. */
export interface CliOptions {
  cwd: string;
  env?: Record<string, string>;
  /** Kill the process with this signal after `afterMs`. */
  kill?: {
    signal: Deno.Signal;
    afterMs?: number;
    when?: (stderr: string) => boolean;
  };
  /** Run a different entry (the bundle). */
  entry?: string;
}

/**
 * Run `ratchet <args>` in `cwd` with NO_COLOR, a clean environment (PATH,
 * HOME, git identity, DOCKER_HOST if set) plus `env`.
 */
export async function runCli(
  args: string[],
  options: CliOptions,
): Promise<CliResult> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    NO_COLOR: "1",
    ...GIT_TEST_ENV,
    ...options.env,
  };
  const dockerHost = Deno.env.get("DOCKER_HOST");
  if (dockerHost && !("DOCKER_HOST" in env)) env.DOCKER_HOST = dockerHost;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "--quiet", options.entry ?? MAIN, ...args],
    cwd: options.cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const dec = new TextDecoder();
  let stderr = "";
  let stdout = "";
  let killed = false;
  const kill = options.kill;
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (kill?.afterMs !== undefined) {
    timer = setTimeout(() => {
      killed = true;
      try {
        child.kill(kill.signal);
      } catch { /* already gone */ }
    }, kill.afterMs);
  }
  const readErr = (async () => {
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      if (!killed && kill?.when?.(stderr)) {
        killed = true;
        try {
          child.kill(kill.signal);
        } catch { /* already gone */ }
      }
    }
  })();
  const readOut = (async () => {
    for await (const chunk of child.stdout) {
      stdout += dec.decode(chunk, { stream: true });
    }
  })();
  const status = await child.status;
  await Promise.all([readErr, readOut]);
  if (timer !== undefined) clearTimeout(timer);
  const code = status.signal === "SIGKILL" ? 137 : status.code;
  return { code, stdout, stderr };
}
