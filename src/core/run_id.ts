/**
 * Run ids (spec section 4): `YYYYMMDD-HHMMSS-xxxx`, the UTC start time plus
 * four random hex digits. Pure: the caller passes the clock and the
 * randomness, so ids are reproducible in tests.
 */

const RUN_ID = /^(\d{4})(\d{2})(\d{2})-(\d{2})(\d{2})(\d{2})-[0-9a-f]{4}$/;
const HEX4 = /^[0-9a-f]{4}$/;

function pad(n: number, width: number): string {
  return String(n).padStart(width, "0");
}

/**
 * The run id for a run started at `now` (rendered in UTC) with the given four
 * lowercase hex digits. Throws a RangeError on a malformed suffix or an
 * invalid date: both are programming errors, never user input.
 */
export function makeRunId(now: Date, randomHex4: string): string {
  if (!HEX4.test(randomHex4)) {
    throw new RangeError(
      `run id suffix must be 4 lowercase hex digits, got "${randomHex4}"`,
    );
  }
  const year = now.getUTCFullYear();
  if (Number.isNaN(now.getTime()) || year < 0 || year > 9999) {
    throw new RangeError(`cannot make a run id from date ${String(now)}`);
  }
  const date = pad(year, 4) + pad(now.getUTCMonth() + 1, 2) +
    pad(now.getUTCDate(), 2);
  const time = pad(now.getUTCHours(), 2) + pad(now.getUTCMinutes(), 2) +
    pad(now.getUTCSeconds(), 2);
  return `${date}-${time}-${randomHex4}`;
}

/**
 * Whether `s` is a run id: the right shape and a real calendar date and time
 * (so `runs/<id>` names and branch names made from it can be trusted).
 */
export function isRunId(s: string): boolean {
  const m = RUN_ID.exec(s);
  if (m === null) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(
    Number,
  ) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  const date = new Date(Date.UTC(year, month - 1, day, hour, minute, second));
  // Date.UTC rolls over out-of-range fields (month 13, Feb 30); a round trip
  // that changes any field means the id names no real instant.
  return date.getUTCFullYear() === year &&
    date.getUTCMonth() === month - 1 &&
    date.getUTCDate() === day &&
    date.getUTCHours() === hour &&
    date.getUTCMinutes() === minute &&
    date.getUTCSeconds() === second;
}
