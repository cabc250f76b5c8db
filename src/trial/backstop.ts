/**
 * The host-side backstop: it catches a command that kills the in-container
 * watchdog. Without a setup command the engine's timeout is set to the
 * trial timeout plus a grace period; with one (untimed, so of unknown
 * length) ratchet watches the container's stderr for the wrapper's "start"
 * line and then arms its own kill, which aborts `host` with BackstopFired.
 */
import { startedIn } from "./control_files.ts";

/** Extra time the host allows past the trial timeout before it kills. */
export const BACKSTOP_GRACE_MS = 5_000;
/** How often the host looks for the wrapper's start line (setup + timeout only). */
const POLL_MS = 200;
/**
 * How much of stderr holds the start line: only the wrapper's begin and
 * start lines come before it (the setup's output goes to a file).
 */
const START_HEAD_BYTES = 4096;

/** A host-side kill that fired because the in-container watchdog did not. */
class BackstopFired extends Error {}

/** The head of the running container's stderr so far (`RunOptions.onStart`). */
type StderrHead = (maxBytes: number) => Uint8Array;

/** The backstop of one wrapped container. */
export interface Backstop {
  /** The engine's own timeout: set only without a setup command. */
  engineTimeoutMs: number | null;
  /** With a setup command and a timeout: starts the poll for the start line. */
  onStart: ((stderrHead: StderrHead) => void) | undefined;
  /** Clears the poll and the kill. */
  stop(): void;
}

/** The backstop of a wrapped container (see the module comment). */
export function backstopFor(input: {
  timeoutSeconds: number | null;
  setupCommand: string | null;
  host: AbortController;
  /** Tests shorten the grace. */
  graceMs?: number;
}): Backstop {
  const { timeoutSeconds: timeoutS, host } = input;
  const graceMs = input.graceMs ?? BACKSTOP_GRACE_MS;
  type Timer = ReturnType<typeof setTimeout>;
  const timers: { poll?: Timer; kill?: Timer } = {};
  const arm = () => {
    timers.kill = setTimeout(
      () => host.abort(new BackstopFired()),
      (timeoutS ?? 0) * 1000 + graceMs,
    );
  };
  let engineTimeoutMs: number | null = null;
  if (timeoutS !== null && input.setupCommand === null) {
    engineTimeoutMs = timeoutS * 1000 + graceMs;
  }
  const onStart = timeoutS === null || input.setupCommand === null
    ? undefined
    : (stderrHead: StderrHead) => {
      timers.poll = setInterval(() => {
        if (startedIn(stderrHead(START_HEAD_BYTES))) {
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
