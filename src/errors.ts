/**
 * ratchet's error hierarchy. Every error that should reach the user carries the
 * exit code of spec section 9 and, where we know one, a hint saying what to do.
 * `main.ts` maps them in a single top-level catch; nothing else exits.
 *
 * Failures inside the loop (a crashed trial, a failing tool call) are data and
 * never become one of these.
 */

/** Exit codes of spec section 9. */
export const ExitCode = {
  ok: 0,
  internal: 1,
  usage: 2,
  environment: 3,
  upstream: 4,
  baseline: 5,
  hungUp: 129,
  interrupted: 130,
  terminated: 143,
} as const;
export type ExitCode = typeof ExitCode[keyof typeof ExitCode];

/** Options shared by every ratchet error. */
export interface RatchetErrorOptions {
  hint?: string;
  cause?: unknown;
}

/** Base class: an error with an exit code and an optional hint. */
export class RatchetError extends Error {
  readonly exitCode: ExitCode;
  readonly hint: string | undefined;
  constructor(
    message: string,
    exitCode: ExitCode = ExitCode.internal,
    options: RatchetErrorOptions = {},
  ) {
    super(
      message,
      options.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = new.target.name;
    this.exitCode = exitCode;
    this.hint = options.hint;
  }
}

/** Bad command line: unknown flag, missing value, wrong type (exit 2). */
export class UsageError extends RatchetError {
  constructor(message: string, options: RatchetErrorOptions = {}) {
    super(message, ExitCode.usage, options);
  }
}

/** Bad configuration file or value (exit 2). */
export class ConfigError extends RatchetError {
  /** Dotted key of the offending value, when there is one. */
  readonly key: string | undefined;
  constructor(
    message: string,
    options: RatchetErrorOptions & { key?: string } = {},
  ) {
    super(message, ExitCode.usage, options);
    this.key = options.key;
  }
}

/**
 * The environment is not ready: no git repo, Docker unreachable at start,
 * image missing, API key missing or rejected, lock held, nothing to resume
 * (exit 3).
 */
export class EnvironmentError extends RatchetError {
  constructor(message: string, options: RatchetErrorOptions = {}) {
    super(message, ExitCode.environment, options);
  }
}

/** API or Docker failed during a run; the run is resumable (exit 4). */
export class UpstreamError extends RatchetError {
  constructor(message: string, options: RatchetErrorOptions = {}) {
    super(message, ExitCode.upstream, options);
  }
}

/** The baseline could not be measured (exit 5). */
export class BaselineError extends RatchetError {
  constructor(message: string, options: RatchetErrorOptions = {}) {
    super(message, ExitCode.baseline, options);
  }
}

/** The signals every command handles (spec section 9). */
export type StopSignal = "SIGINT" | "SIGTERM" | "SIGHUP";

/** Exit code for a signal: 130 SIGINT, 143 SIGTERM, 129 SIGHUP. */
export function signalExitCode(signal: StopSignal): ExitCode {
  return signal === "SIGINT"
    ? ExitCode.interrupted
    : signal === "SIGHUP"
    ? ExitCode.hungUp
    : ExitCode.terminated;
}

/** The signal that aborted `signal` (its reason), SIGINT when unnamed. */
export function stopSignalOf(signal: AbortSignal): StopSignal {
  const reason = signal.reason;
  return reason === "SIGTERM" || reason === "SIGHUP" ? reason : "SIGINT";
}

/** What each signal means to the user. */
const SIGNAL_TEXT: Record<StopSignal, string> = {
  SIGINT: "SIGINT (Ctrl-C)",
  SIGTERM: "SIGTERM",
  SIGHUP: "SIGHUP (the terminal closed)",
};

/** Stopped by a signal (exit 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP). */
export class InterruptedError extends RatchetError {
  readonly signal: StopSignal;
  constructor(signal: StopSignal, options: RatchetErrorOptions = {}) {
    super(`Interrupted by ${SIGNAL_TEXT[signal]}`, signalExitCode(signal), {
      ...options,
    });
    this.signal = signal;
  }
}

/** Exit code for any thrown value: ratchet errors carry theirs, anything else is internal. */
export function exitCodeOf(error: unknown): ExitCode {
  return error instanceof RatchetError ? error.exitCode : ExitCode.internal;
}
