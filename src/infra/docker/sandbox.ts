/**
 * The sandbox container of `runtime.ts`. See `DockerSandbox`.
 */
import type Docker from "dockerode";
import { type RatchetError, UpstreamError } from "../../errors.ts";
import type {
  ArchiveEntry,
  Collected,
  ExecResult,
  FsChange,
  ListedEntry,
  PathStat,
  PutEntry,
  Sandbox,
} from "../runtime.ts";
import { packTarBytes, readTar } from "../tar.ts";
import { CappedBuffer, Demuxer, pump, within } from "./_streams.ts";
import { collectPath, getArchive, putArchive, statPath } from "./archive.ts";
import { isConnectionError, messageOf, statusOf } from "./errors.ts";
import { execExitCode } from "./wait.ts";

/** Output cap of a sandbox command when the caller gives none (spec: 10 MiB). */
export const DEFAULT_EXEC_OUTPUT_CAP = 10 * 1024 * 1024;
/**
 * A sandbox command runs under `timeout -s KILL`; the host stops waiting this
 * long after the timeout in case the image has no `timeout` or a background
 * process keeps the output open.
 */
const EXEC_GRACE_MS = 3_000;
/** How long reading a directory out of the sandbox may take. */
const READ_TIMEOUT_MS = 600_000;

/**
 * A directory listing, run in the sandbox as the trial user: NUL-separated
 * records of kind (l, d, f), path and symlink target; $1 the directory, $2
 * the depth.
 */
const LIST_SCRIPT = `cd "$1" 2>/dev/null || exit 3
walk() {
  for f in "$1"* "$1".[!.]* "$1"..?*; do
    [ -e "$f" ] || [ -L "$f" ] || continue
    if [ -L "$f" ]; then printf 'l\\0%s\\0%s\\0' "$f" "$(readlink "$f")"
    elif [ -d "$f" ]; then printf 'd\\0%s\\0\\0' "$f"; [ "$2" -gt 1 ] && walk "$f/" $(($2 - 1))
    else printf 'f\\0%s\\0\\0' "$f"; fi
  done
}
walk "" "$2"
`;

/** A POSIX-sh single-quoted word. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The model's sandbox: a running container of the incumbent's tree image in
 * which `bash` commands are exec'd and whose files the editor tool reads and
 * writes through the archive endpoints.
 *
 * Between commands the container is frozen (`docker pause`): a process the
 * model left running in the background cannot change the working copy while
 * the editor tool walks a path and then reads or writes it (it could
 * otherwise swap a directory for a symlink in between and redirect the write
 * to a protected path). It thaws for each command. An engine that cannot
 * pause (rootless on cgroup v1) runs the sandbox unfrozen; the diff check
 * still rejects what such a race would change.
 */
export class DockerSandbox implements Sandbox {
  readonly id: string;
  readonly #docker: Docker;
  readonly #container: Docker.Container;
  readonly #url: string;
  #shell: Promise<string> | undefined;
  #closing: Promise<void> | undefined;
  #frozen = false;
  #canFreeze = true;

  constructor(docker: Docker, container: Docker.Container, url: string) {
    this.#docker = docker;
    this.#container = container;
    this.id = container.id;
    this.#url = url;
  }

  /**
   * Run `command` under bash (or sh), killed with its process group by
   * `timeout -s KILL` (GNU timeout kills its whole group; busybox's kills
   * the command) when the image has `timeout`; the host stops waiting
   * EXEC_GRACE_MS later in any case.
   */
  async exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult> {
    if (this.#closing !== undefined) {
      throw new Error(`sandbox ${this.id.slice(0, 12)} is closed`);
    }
    await this.#thaw();
    try {
      return await this.#exec(command, options);
    } finally {
      if (this.#closing === undefined) await this.freeze();
    }
  }

  /** Freeze every process of the sandbox until the next command. */
  async freeze(): Promise<void> {
    if (!this.#canFreeze || this.#frozen) return;
    try {
      await this.#container.pause();
      this.#frozen = true;
    } catch (error) {
      if (isConnectionError(error)) throw this.#upstream(error);
      // 409: not running (nothing to freeze); else the engine cannot pause.
      if (statusOf(error) !== 409) this.#canFreeze = false;
    }
  }

  async #thaw(): Promise<void> {
    if (!this.#frozen) return;
    try {
      await this.#container.unpause();
    } catch (error) {
      if (isConnectionError(error)) throw this.#upstream(error);
      // Not paused any more or not running: the exec reports what it finds.
    }
    this.#frozen = false;
  }

  async #exec(
    command: string,
    options: { timeoutMs: number; outputCapBytes?: number },
  ): Promise<ExecResult> {
    const cap = options.outputCapBytes ?? DEFAULT_EXEC_OUTPUT_CAP;
    const shell = await (this.#shell ??= this.#detectShell());
    const seconds = Math.max(1, Math.ceil(options.timeoutMs / 1000));
    // The command travels as $1, never spliced into the script.
    const script =
      `if command -v timeout >/dev/null 2>&1; then exec timeout -s KILL ${seconds} ${shell} -c "$1"; else exec ${shell} -c "$1"; fi`;
    const stdout = new CappedBuffer(cap);
    const stderr = new CappedBuffer(cap);
    const started = performance.now();
    const outcome = await this.#run(
      [shell, "-c", script, shell, command],
      stdout,
      stderr,
      options.timeoutMs + EXEC_GRACE_MS,
    );
    const elapsed = performance.now() - started;
    const decoder = new TextDecoder();
    const result = (exitCode: number | null, timedOut: boolean) => ({
      exitCode,
      stdout: decoder.decode(stdout.bytes()),
      stderr: decoder.decode(stderr.bytes()),
      timedOut,
      truncated: stdout.truncated || stderr.truncated,
    });
    if (outcome === "stopped") {
      return {
        ...result(null, false),
        stderr: `${
          decoder.decode(stderr.bytes())
        }the sandbox container is no longer running; commands cannot run in it\n`,
      };
    }
    if (outcome === "timeout") return result(null, true);
    // `timeout -s KILL` ends in 137; only a run that lasted the whole
    // timeout is ours (the command may be killed by other means).
    if (outcome === 137 && elapsed >= options.timeoutMs) {
      return result(null, true);
    }
    return result(outcome, false);
  }

  async stat(path: string): Promise<PathStat | null> {
    try {
      return await statPath(this.#docker, this.id, path);
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  async readFile(path: string, maxBytes: number): Promise<Collected> {
    try {
      return await collectPath(this.#docker, this.id, path, maxBytes);
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  async put(dir: string, entries: readonly PutEntry[]): Promise<void> {
    try {
      await putArchive(this.#docker, this.id, dir, await packTarBytes(entries));
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  async list(
    path: string,
    options: { depth: number; maxEntries: number },
  ): Promise<{ entries: ListedEntry[]; truncated: boolean }> {
    const result = await this.exec(
      `sh -c ${shellQuote(LIST_SCRIPT)} ratchet-list ${
        shellQuote(path)
      } ${options.depth}`,
      { timeoutMs: 30_000, outputCapBytes: 4 * 1024 * 1024 },
    );
    const fields = result.stdout.split("\0");
    const entries: ListedEntry[] = [];
    for (let k = 0; k + 2 < fields.length; k += 3) {
      const kind = fields[k] === "l"
        ? "symlink"
        : fields[k] === "d"
        ? "dir"
        : "file";
      entries.push({ path: fields[k + 1]!, kind, linkTarget: fields[k + 2]! });
    }
    // Each directory's entries in code-point order, whatever the locale.
    entries.sort((a, b) => {
      const x = a.path.split("/");
      const y = b.path.split("/");
      for (let i = 0; i < Math.min(x.length, y.length); i++) {
        if (x[i] !== y[i]) return x[i]! < y[i]! ? -1 : 1;
      }
      return x.length - y.length;
    });
    return {
      entries: entries.slice(0, options.maxEntries),
      truncated: entries.length > options.maxEntries || result.truncated,
    };
  }

  async changes(): Promise<FsChange[]> {
    try {
      const list = await this.#container.changes() as
        | { Path: string; Kind: number }[]
        | null;
      const kinds: FsChange["kind"][] = ["modified", "added", "deleted"];
      return (list ?? []).map((c) => ({
        path: c.Path,
        kind: kinds[c.Kind] ?? "modified",
      }));
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  async *read(
    path: string,
    options: { maxFileBytes: number },
  ): AsyncGenerator<ArchiveEntry> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), READ_TIMEOUT_MS);
    try {
      let stream: AsyncIterable<Uint8Array> | null;
      try {
        stream = await getArchive(
          this.#docker,
          this.id,
          path,
          controller.signal,
        );
      } catch (error) {
        throw this.#upstream(error);
      }
      if (stream === null) return;
      for await (
        const entry of readTar(stream, {
          maxFileBytes: options.maxFileBytes,
          over: "skip",
        })
      ) {
        // The engine names entries after the last component of `path`.
        const slash = entry.path.indexOf("/");
        yield {
          path: slash === -1 ? "" : entry.path.slice(slash + 1),
          kind: entry.kind,
          mode: entry.mode,
          size: entry.size,
          linkTarget: entry.linkTarget,
          data: entry.data,
        };
      }
    } finally {
      clearTimeout(timer);
      controller.abort();
    }
  }

  /** Remove the container; safe to call repeatedly and concurrently. */
  close(): Promise<void> {
    return this.#closing ??= (async () => {
      try {
        await this.#container.remove({ force: true, v: true });
      } catch (error) {
        if (statusOf(error) === 404) return;
        throw new UpstreamError(
          `Docker failed while removing sandbox ${this.id.slice(0, 12)}: ${
            messageOf(error)
          }`,
          {
            hint: "Make sure Docker is running, then `ratchet resume`.",
            cause: error,
          },
        );
      }
    })();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** bash when the image has it on PATH, else sh (decided once per sandbox). */
  async #detectShell(): Promise<string> {
    const sink = new CappedBuffer(0);
    const outcome = await this.#run(
      ["bash", "-c", "exit 0"],
      sink,
      sink,
      30_000,
    );
    return outcome === 0 ? "bash" : "sh";
  }

  /** Exec `cmd`; its exit code, "timeout" when the host gave up, or "stopped". */
  async #run(
    cmd: string[],
    stdout: CappedBuffer,
    stderr: CappedBuffer,
    giveUpMs: number,
  ): Promise<number | "timeout" | "stopped"> {
    let exec: Docker.Exec;
    let stream: NodeJS.ReadableStream;
    try {
      exec = await this.#container.exec({
        Cmd: cmd,
        AttachStdin: false,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
      });
      stream = await exec.start({ hijack: true, stdin: false });
    } catch (error) {
      // 409: the container stopped (its main process ended or was killed).
      if (statusOf(error) === 409) return "stopped";
      throw this.#upstream(error);
    }
    const started = performance.now();
    const drained = pump(stream, new Demuxer(stdout, stderr));
    const finished = await within(drained, giveUpMs);
    if (finished === "timeout") {
      (stream as { destroy?: () => void }).destroy?.();
      return "timeout";
    }
    try {
      // A command can close its output and go on: it has the rest of its
      // time to end, like one that keeps the output open.
      const left = giveUpMs - (performance.now() - started);
      return (await execExitCode(exec, { limitMs: Math.max(left, 1_000) })) ??
        "timeout";
    } catch (error) {
      throw this.#upstream(error);
    }
  }

  #upstream(error: unknown): RatchetError {
    return new UpstreamError(
      `${
        isConnectionError(error)
          ? `Docker stopped answering at ${this.#url}`
          : "Docker failed"
      } while running a command in sandbox ${this.id.slice(0, 12)}: ${
        messageOf(error)
      }`,
      {
        hint: "Make sure Docker is running, then `ratchet resume`.",
        cause: error,
      },
    );
  }
}
