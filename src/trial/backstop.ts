/**
 * The host-side backstop: it catches a command that kills the in-container
 * watchdog. Without a setup command the engine's timeout is set to the
 * trial timeout plus a grace period; with one (untimed, so of unknown
 * length) ratchet polls the control log for the wrapper's "start" line and
 * then arms its own kill, which aborts `host` with BackstopFired.
 */
import { parseControlLog } from "../core/control_log.ts";
import type { Collected } from "../infra/runtime.ts";
import { LOG_PATH, textOf } from "./control_files.ts";

/** Extra time the host allows past the trial timeout before it kills. */
export const BACKSTOP_GRACE_MS = 5_000;
/** How often the host looks for the wrapper's start line (setup + timeout only). */
const POLL_MS = 200;

/** A host-side kill that fired because the in-container watchdog did not. */
class BackstopFired extends Error {}

/** Reads the head of a file of the running container (`RunOptions.onStart`). */
type Peek = (path: string, maxBytes: number) => Promise<Collected>;

/** The backstop of one wrapped container. */
export interface Backstop {
  /** The engine's own timeout: set only without a setup command. */
  engineTimeoutMs: number | null;
  /** With a setup command and a timeout: starts the poll for the start line. */
  onStart: ((peek: Peek) => void) | undefined;
  /** Clears the poll and the kill. */
  stop(): void;
}

/** The backstop for a container that runs with `nonce` (see the module comment). */
export function backstopFor(input: {
  timeoutSeconds: number | null;
  setupCommand: string | null;
  nonce: string;
  host: AbortController;
}): Backstop {
  const { timeoutSeconds: timeoutS, nonce, host } = input;
  type Timer = ReturnType<typeof setTimeout>;
  const timers: { poll?: Timer; kill?: Timer } = {};
  const arm = () => {
    timers.kill = setTimeout(
      () => host.abort(new BackstopFired()),
      (timeoutS ?? 0) * 1000 + BACKSTOP_GRACE_MS,
    );
  };
  let engineTimeoutMs: number | null = null;
  if (timeoutS !== null && input.setupCommand === null) {
    engineTimeoutMs = timeoutS * 1000 + BACKSTOP_GRACE_MS;
  }
  const onStart = timeoutS === null || input.setupCommand === null
    ? undefined
    : (peek: Peek) => {
      let busy = false;
      timers.poll = setInterval(async () => {
        if (busy || timers.kill !== undefined) return;
        busy = true;
        const head = await peek(LOG_PATH, 64 * 1024).catch(() => undefined);
        busy = false;
        if (
          timers.kill === undefined &&
          parseControlLog(textOf(head), nonce).started
        ) {
          clearInterval(timers.poll);
          arm();
        }
      }, POLL_MS);
    };
  return {
    engineTimeoutMs,
    onStart,
    stop: () => {
      clearInterval(timers.poll);
      clearTimeout(timers.kill);
    },
  };
}
