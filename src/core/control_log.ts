/**
 * The control log the in-container wrapper (`src/trial/wrapper.sh`) writes:
 * one line per event, each prefixed with the trial's nonce, so a command that
 * writes into the log cannot forge a line ratchet accepts (it never sees the
 * nonce: see wrapper.sh). The wrapper draws the nonce itself and announces
 * it as the first line of the container's stderr. Pure: parsing only.
 */

/** What the wrapper wrote into the control log. */
export interface ControlLog {
  started: boolean;
  /** The setup command's non-zero status, when it failed. */
  setupStatus: number | null;
  /** The watchdog fired. */
  timeout: boolean;
  /** Wall time of the command in seconds, and which clock measured it. */
  wall: { seconds: number; clock: string; status: number } | null;
}

/** Clock names written by the wrapper, for messages. */
export const CLOCKS: Readonly<Record<string, string>> = {
  // The shell's own clock (busybox ash, bash): no process forked to read it.
  er: "$EPOCHREALTIME (µs)",
  ns: "date +%s%N (ns)",
  us: "adjtimex (µs)",
  up: "/proc/uptime (10 ms)",
};

/** A wrapper timestamp in nanoseconds, or null when malformed. */
export function clockNs(clock: string, value: string): bigint | null {
  if (clock === "ns") return /^\d{1,25}$/.test(value) ? BigInt(value) : null;
  if (clock === "us") {
    const m = /^(\d{1,20}):(\d{1,6}):?$/.exec(value);
    return m ? BigInt(m[1]!) * 1_000_000_000n + BigInt(m[2]!) * 1000n : null;
  }
  // Decimal seconds: $EPOCHREALTIME (a fraction always, "," in some
  // locales) and /proc/uptime (a fraction of up to 2 digits).
  const decimal = clock === "er"
    ? /^(\d{1,20})[.,](\d{1,9})$/.exec(value)
    : clock === "up"
    ? /^(\d{1,20})(?:\.(\d{1,9}))?$/.exec(value)
    : null;
  if (decimal) {
    return BigInt(decimal[1]!) * 1_000_000_000n +
      BigInt((decimal[2] ?? "").padEnd(9, "0"));
  }
  return null;
}

/** A log with nothing in it (no nonce was announced, or the output is lost). */
export const EMPTY_CONTROL_LOG: Readonly<ControlLog> = Object.freeze({
  started: false,
  setupStatus: null,
  timeout: false,
  wall: null,
});

/** Longest nonce accepted: the kernel's UUID is 36 characters. */
const NONCE_MAX = 64;

/**
 * The nonce the wrapper announced: its first control line, `"\n" + nonce +
 * " begin\n"`, as the very first bytes of stderr (written before any
 * command runs, so no command can put bytes before it). Null when stderr
 * does not start with it (the wrapper failed before, or is not there).
 */
export function announcedNonce(stderr: Uint8Array): string | null {
  const head = new TextDecoder().decode(stderr.subarray(0, NONCE_MAX + 8));
  const m = new RegExp(`^\\n([0-9a-f-]{16,${NONCE_MAX}}) begin\\n`).exec(
    head,
  );
  return m === null ? null : m[1]!;
}

/** Parse the control log; lines without the nonce (forgeries, noise) are ignored. */
export function parseControlLog(text: string, nonce: string): ControlLog {
  const log: ControlLog = {
    started: false,
    setupStatus: null,
    timeout: false,
    wall: null,
  };
  for (const line of text.split("\n")) {
    const parts = line.trim().split(/\s+/);
    if (parts[0] !== nonce) continue;
    const [, kind, a, b, c, d] = parts;
    if (kind === "start") log.started = true;
    else if (kind === "timeout") log.timeout = true;
    else if (kind === "setup" && a !== undefined && /^\d+$/.test(a)) {
      log.setupStatus ??= Number(a);
    } else if (
      kind === "wall" && log.wall === null && a !== undefined &&
      b !== undefined && c !== undefined && d !== undefined
    ) {
      const t0 = clockNs(a, b);
      const t1 = clockNs(a, c);
      if (t0 !== null && t1 !== null && t1 >= t0 && /^\d+$/.test(d)) {
        log.wall = {
          seconds: Number(t1 - t0) / 1e9,
          clock: a,
          status: Number(d),
        };
      }
    }
  }
  return log;
}

/**
 * The wrapper also writes each control line to the container's stderr, as
 * `"\n" + nonce + " " + line + "\n"`: the leading newline puts it on a line
 * of its own even after a command's unterminated output. Split those lines
 * out of captured stderr bytes: `rest` is the stderr the command wrote,
 * byte for byte; `lines` the control lines (a line cut by the output cap is
 * dropped). A command cannot forge one: it never sees the nonce.
 */
export function splitControlLines(
  bytes: Uint8Array,
  nonce: string,
): { rest: Uint8Array; lines: string } {
  const marker = new TextEncoder().encode(`\n${nonce} `);
  const kept: Uint8Array[] = [];
  const lines: string[] = [];
  const decoder = new TextDecoder();
  let from = 0;
  for (let at = indexOf(bytes, marker, 0); at !== -1;) {
    kept.push(bytes.subarray(from, at));
    const end = bytes.indexOf(0x0a, at + marker.length);
    if (end === -1) {
      from = bytes.length;
      break;
    }
    lines.push(decoder.decode(bytes.subarray(at + 1, end)));
    from = end + 1;
    at = indexOf(bytes, marker, from);
  }
  kept.push(bytes.subarray(from));
  const rest = new Uint8Array(kept.reduce((n, k) => n + k.length, 0));
  let offset = 0;
  for (const k of kept) {
    rest.set(k, offset);
    offset += k.length;
  }
  return { rest, lines: lines.join("\n") };
}

/**
 * What the wrapper's lines on stderr say, read in one pass: the announced
 * nonce, the log its signed lines make, and the stderr the command wrote
 * (`rest`). Null when no nonce was announced.
 */
export function controlOfStderr(
  stderr: Uint8Array,
): { nonce: string; log: ControlLog; rest: Uint8Array } | null {
  const nonce = announcedNonce(stderr);
  if (nonce === null) return null;
  const { lines, rest } = splitControlLines(stderr, nonce);
  return { nonce, log: parseControlLog(lines, nonce), rest };
}

/**
 * Whether a control log read from stderr is whole: it ends the way the
 * wrapper ends (the command's wall time, a failed setup, or the watchdog).
 */
export function controlLogEnded(log: ControlLog): boolean {
  return log.wall !== null || log.setupStatus !== null || log.timeout;
}

/** The first index of `needle` in `haystack` at or after `from`, or -1. */
function indexOf(
  haystack: Uint8Array,
  needle: Uint8Array,
  from: number,
): number {
  const first = needle[0]!;
  for (
    let i = haystack.indexOf(first, from);
    i !== -1 && i + needle.length <= haystack.length;
    i = haystack.indexOf(first, i + 1)
  ) {
    let j = 1;
    while (j < needle.length && haystack[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}
