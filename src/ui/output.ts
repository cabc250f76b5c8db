/**
 * The one place that writes to the terminal. Commands get an Output and never
 * touch console or Deno.stdout themselves, so tests can capture everything.
 */

/** Where text goes, and whether each stream may be coloured. */
export interface Output {
  /** Results (tables, JSON). */
  out(text: string): void;
  /** Progress, warnings, errors. */
  err(text: string): void;
  /**
   * Replace the live status line on stderr with `text`, cut to the terminal's
   * width so it never wraps, and with no newline; `""` clears the line. Only
   * for an interactive stderr: the next `err` must clear it first.
   */
  statusLine(text: string): void;
  /** Colour is allowed on stdout: stdout is a terminal and no NO_COLOR. */
  readonly colorOut: boolean;
  /** Colour is allowed on stderr: stderr is a terminal and no NO_COLOR. */
  readonly colorErr: boolean;
  /** stderr is a terminal (live view possible). */
  readonly interactive: boolean;
  /**
   * stdout and stderr both reach the terminal the person is looking at, so
   * what progress showed on stderr need not be repeated in the result.
   */
  readonly sameTerminal: boolean;
}

const encoder = new TextEncoder();

/**
 * Write all of `text`. A reader that went away (a closed terminal after
 * SIGHUP, `| head`) is not an error of the command: the rest is dropped.
 */
function writeAllSync(stream: SyncWriter, text: string) {
  let data = encoder.encode(text);
  try {
    while (data.length > 0) data = data.subarray(stream.writeSync(data));
  } catch (error) {
    if (!readerGone(error)) throw error;
  }
}

/** EPIPE (the reader closed the pipe) or EIO (the terminal went away). */
function readerGone(error: unknown): boolean {
  return error instanceof Deno.errors.BrokenPipe ||
    (error instanceof Error && /\(os error 5\)|EIO/.test(error.message));
}

/**
 * What `statusLine` writes: back to the line's start, erase it, then the
 * text cut to one column less than the terminal's width.
 */
export function statusLineText(text: string, columns: () => number): string {
  return text === "" ? "\r\x1b[2K" : `\r\x1b[2K${text.slice(0, columns() - 1)}`;
}

/** The width of the terminal on stderr; 100 when Deno cannot tell. */
function terminalColumns(): number {
  return Deno.consoleSize?.().columns ?? 100;
}

/** Terminal state of the two streams, as `terminalOutput` reads it. */
export interface TerminalState {
  stdout: boolean;
  stderr: boolean;
}

/** A stream `terminalOutput` writes to (Deno.stdout, Deno.stderr). */
export interface SyncWriter {
  writeSync(p: Uint8Array): number;
}

/**
 * Output on the real stdout/stderr. Each stream is coloured only when it is
 * a terminal itself (`ratchet status > f` writes no escape codes even when
 * stderr is a terminal). `terminals`, `streams` and `columns` replace the
 * streams' real state, the streams and the terminal's width in tests.
 */
export function terminalOutput(
  options: {
    noColor: boolean;
    terminals?: TerminalState;
    streams?: { stdout: SyncWriter; stderr: SyncWriter };
    columns?: () => number;
  },
): Output {
  const terminals = options.terminals ?? {
    stdout: Deno.stdout.isTerminal(),
    stderr: Deno.stderr.isTerminal(),
  };
  const { stdout, stderr } = options.streams ??
    { stdout: Deno.stdout, stderr: Deno.stderr };
  const columns = options.columns ?? terminalColumns;
  return {
    out: (text) =>
      writeAllSync(stdout, text.endsWith("\n") ? text : text + "\n"),
    err: (text) =>
      writeAllSync(stderr, text.endsWith("\n") ? text : text + "\n"),
    statusLine: (text) => writeAllSync(stderr, statusLineText(text, columns)),
    ...streamState(terminals, options.noColor),
  };
}

/** The colour and terminal flags of an Output from its streams' state. */
export function streamState(
  terminals: TerminalState,
  noColor: boolean,
): Pick<Output, "colorOut" | "colorErr" | "interactive" | "sameTerminal"> {
  return {
    colorOut: terminals.stdout && !noColor,
    colorErr: terminals.stderr && !noColor,
    interactive: terminals.stderr,
    sameTerminal: terminals.stdout && terminals.stderr,
  };
}

/**
 * Output captured in memory, for tests; `terminals` fakes which streams are
 * terminals (default: neither), with colour on those that are.
 */
export function memoryOutput(
  options: { terminals?: TerminalState; noColor?: boolean } = {},
): Output & {
  stdout: string[];
  stderr: string[];
  /** Every `statusLine` call's text, in order ("" for a clear). */
  statusLines: string[];
} {
  const stdout: string[] = [];
  const stderr: string[] = [];
  const statusLines: string[] = [];
  return {
    stdout,
    stderr,
    statusLines,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    statusLine: (text) => statusLines.push(text),
    ...streamState(
      options.terminals ?? { stdout: false, stderr: false },
      options.noColor ?? false,
    ),
  };
}

const CODES = {
  bold: [1, 22],
  dim: [2, 22],
  red: [31, 39],
  green: [32, 39],
  yellow: [33, 39],
  blue: [34, 39],
  magenta: [35, 39],
  cyan: [36, 39],
  gray: [90, 39],
} as const;

/** ANSI styling that becomes the identity when colour is off. */
export type Style = Record<keyof typeof CODES, (s: string) => string>;

/** Styles for an output. */
export function styles(color: boolean): Style {
  const out = {} as Style;
  for (const [name, [open, close]] of Object.entries(CODES)) {
    out[name as keyof typeof CODES] = color
      ? (s: string) => `\x1b[${open}m${s}\x1b[${close}m`
      : (s: string) => s;
  }
  return out;
}
