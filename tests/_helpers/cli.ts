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

/** A CLI process the test controls (signals at chosen moments). */
export interface Spawned {
  child: Deno.ChildProcess;
  /** stdout so far. */
  stdout(): string;
  /** stderr so far. */
  stderr(): string;
  /** Resolves when the process has ended and its output is read. */
  done: Promise<CliResult>;
  kill(signal: Deno.Signal): void;
}

/**
 * The environment of a CLI under test: NO_COLOR and a clean environment
 * (PATH, HOME, git identity, DOCKER_HOST if set), then `extra`.
 */
export function cliEnv(
  extra: Record<string, string> = {},
): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/root",
    NO_COLOR: "1",
    ...GIT_TEST_ENV,
  };
  const dockerHost = Deno.env.get("DOCKER_HOST");
  if (dockerHost) env.DOCKER_HOST = dockerHost;
  return { ...env, ...extra };
}

/**
 * Start `ratchet <args>` in `cwd` with {@linkcode cliEnv} plus `env`, and hand
 * back the process. `onOutput` sees both streams so far after each chunk.
 */
export function spawnCli(
  args: string[],
  options: Omit<CliOptions, "kill"> & {
    onOutput?: (stdout: string, stderr: string) => void;
  },
): Spawned {
  const env = cliEnv(options.env);
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
  const readErr = (async () => {
    for await (const chunk of child.stderr) {
      stderr += dec.decode(chunk, { stream: true });
      options.onOutput?.(stdout, stderr);
    }
  })();
  const readOut = (async () => {
    for await (const chunk of child.stdout) {
      stdout += dec.decode(chunk, { stream: true });
      options.onOutput?.(stdout, stderr);
    }
  })();
  const done = (async () => {
    const status = await child.status;
    await Promise.all([readErr, readOut]);
    const code = status.signal === "SIGKILL" ? 137 : status.code;
    return { code, stdout, stderr };
  })();
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    kill(signal) {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
    },
  };
}

/** Run `ratchet <args>` to its end (see {@linkcode spawnCli}), killing it as `kill` says. */
export async function runCli(
  args: string[],
  options: CliOptions,
): Promise<CliResult> {
  const kill = options.kill;
  let killed = false;
  const killOnce = () => {
    if (killed || kill === undefined) return;
    killed = true;
    spawned.kill(kill.signal);
  };
  const { kill: _, ...spawnOptions } = options;
  const spawned: Spawned = spawnCli(args, {
    ...spawnOptions,
    onOutput: (_stdout, stderr) => {
      if (kill?.when?.(stderr)) killOnce();
    },
  });
  const timer = kill?.afterMs === undefined
    ? undefined
    : setTimeout(killOnce, kill.afterMs);
  try {
    return await spawned.done;
  } finally {
    clearTimeout(timer);
  }
}

/** What a CLI run in a terminal left behind. */
export interface TerminalResult {
  code: number;
  /** Everything the terminal showed (both streams, as a person saw them). */
  terminal: string;
}

/**
 * Run `ratchet <args>` with its stdin, stdout and stderr on a pseudo-terminal
 * (util-linux `script`), as a person at a terminal would, and with colour
 * allowed (no NO_COLOR). `redirect` appends a shell redirection
 * (`> out.txt`), so one stream can leave the terminal for a file.
 */
export async function runCliInTerminal(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; redirect?: string },
): Promise<TerminalResult> {
  const { NO_COLOR: _, ...env } = cliEnv(options.env);
  const quote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const command = [Deno.execPath(), "run", "-A", "--quiet", MAIN, ...args]
    .map(quote).join(" ") + (options.redirect ? ` ${options.redirect}` : "");
  const out = await new Deno.Command("script", {
    args: ["-q", "-e", "-c", command, "/dev/null"],
    cwd: options.cwd,
    env: { ...env, TERM: "xterm-256color" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: out.code,
    terminal: new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr),
  };
}
