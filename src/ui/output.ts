/**
 * The one place that writes to the terminal. Commands get an Output and never
 * touch console or Deno.stdout themselves, so tests can capture everything.
 */

/** Where text goes, and whether it may be coloured. */
export interface Output {
  /** Results (tables, JSON). */
  out(text: string): void;
  /** Progress, warnings, errors. */
  err(text: string): void;
  /** Colour is allowed: a TTY and no NO_COLOR. */
  readonly color: boolean;
  /** stderr is a terminal (live view possible). */
  readonly interactive: boolean;
}

const encoder = new TextEncoder();

function writeAllSync(
  stream: { writeSync(p: Uint8Array): number },
  text: string,
) {
  let data = encoder.encode(text);
  while (data.length > 0) data = data.subarray(stream.writeSync(data));
}

/** Output on the real stdout/stderr. */
export function terminalOutput(options: { noColor: boolean }): Output {
  const interactive = Deno.stderr.isTerminal();
  return {
    out: (text) =>
      writeAllSync(Deno.stdout, text.endsWith("\n") ? text : text + "\n"),
    err: (text) =>
      writeAllSync(Deno.stderr, text.endsWith("\n") ? text : text + "\n"),
    color: interactive && !options.noColor,
    interactive,
  };
}

/** Output captured in memory, for tests. */
export function memoryOutput(): Output & {
  stdout: string[];
  stderr: string[];
} {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return {
    stdout,
    stderr,
    out: (text) => stdout.push(text),
    err: (text) => stderr.push(text),
    color: false,
    interactive: false,
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
