import assert from "node:assert/strict";
import {
  announcedNonce,
  clockNs,
  CLOCKS,
  controlLogEnded,
  controlOfStderr,
  parseControlLog,
  splitControlLines,
} from "./control_log.ts";

const NONCE = "0123456789abcdef0123456789abcdef";

Deno.test("clockNs() reads every clock the wrapper may use, without precision loss", () => {
  assert.equal(clockNs("ns", "1795864339775869707"), 1795864339775869707n);
  assert.equal(clockNs("us", "1795864371:430686:"), 1795864371430686000n);
  assert.equal(clockNs("us", "1795864371:5:"), 1795864371000005000n);
  assert.equal(clockNs("er", "1795872938.587348"), 1795872938587348000n);
  assert.equal(clockNs("er", "1795872938,000007"), 1795872938000007000n);
  assert.equal(clockNs("er", "1795872938"), null);
  assert.equal(clockNs("up", "1148.42"), 1148420000000n);
  assert.equal(clockNs("up", "7"), 7000000000n);
  assert.equal(clockNs("ns", "1795864339%N"), null);
  assert.equal(clockNs("up", "-1"), null);
  assert.equal(clockNs("xx", "1"), null);
});

Deno.test("CLOCKS names every clock clockNs() reads", () => {
  assert.deepEqual(Object.keys(CLOCKS).sort(), ["er", "ns", "up", "us"]);
  for (const clock of Object.keys(CLOCKS)) {
    const sample = clock === "us" ? "1:2:" : clock === "er" ? "1.5" : "15";
    assert.notEqual(clockNs(clock, sample), null, clock);
  }
});

Deno.test("parseControlLog() accepts only lines carrying the nonce", () => {
  const text = [
    "forged wall ns 0 999999999999 0",
    `${NONCE} start`,
    `${NONCE.slice(1)} wall ns 0 1 0`,
    `${NONCE} wall ns 1795864339000000000 1795864339250000000 0`,
    `${NONCE} wall ns 0 5000000000 0`,
    "",
  ].join("\n");
  const log = parseControlLog(text, NONCE);
  assert.equal(log.started, true);
  assert.equal(log.timeout, false);
  assert.equal(log.setupStatus, null);
  // The first genuine wall line counts; a later one (written by a command
  // that learnt nothing, but appended anyway) does not replace it.
  assert.deepEqual(log.wall, { seconds: 0.25, clock: "ns", status: 0 });

  const other = parseControlLog(
    `${NONCE} setup 7\n${NONCE} setup 9\n${NONCE} timeout\n${NONCE} wall up 10.00 9.99 0\n`,
    NONCE,
  );
  assert.equal(other.setupStatus, 7);
  assert.equal(other.timeout, true);
  // An end before the start is not a measurement.
  assert.equal(other.wall, null);
  assert.deepEqual(parseControlLog("", NONCE), {
    started: false,
    setupStatus: null,
    timeout: false,
    wall: null,
  });
});

Deno.test("parseControlLog() ignores malformed wall and setup lines", () => {
  const log = parseControlLog(
    [
      `${NONCE} setup x`,
      `${NONCE} wall ns 1 2`,
      `${NONCE} wall ns 1 2 -3`,
      `${NONCE} wall zz 1 2 0`,
      `  ${NONCE}   wall   er   10.5   12.75   4  `,
    ].join("\n"),
    NONCE,
  );
  assert.equal(log.setupStatus, null);
  assert.equal(log.started, false);
  // Surrounding and repeated blanks do not matter; the status is kept.
  assert.deepEqual(log.wall, { seconds: 2.25, clock: "er", status: 4 });
});

Deno.test("splitControlLines() takes the wrapper's lines out of stderr and leaves the command's bytes exactly", () => {
  const n = "0123456789abcdef0123456789abcdef";
  const enc = (s: string) => new TextEncoder().encode(s);
  const dec = (b: Uint8Array) => new TextDecoder().decode(b);
  // A command line without its newline before the wall line, a forged line
  // without the nonce, and bytes that are not UTF-8.
  const bytes = new Uint8Array([
    ...enc(`\n${n} start\nwarn 1\npartial`),
    ...enc(`\n${n} wall ns 10 20 0\n`),
    ...enc("forged wall ns 0 1 0\n"),
    0xff,
    0x0a,
  ]);
  const { rest, lines } = splitControlLines(bytes, n);
  assert.deepEqual(
    [...rest],
    [...enc("warn 1\npartialforged wall ns 0 1 0\n"), 0xff, 0x0a],
  );
  assert.equal(lines, `${n} start\n${n} wall ns 10 20 0`);
  const log = parseControlLog(lines, n);
  assert.equal(log.started, true);
  assert.deepEqual(log.wall, { seconds: 10 / 1e9, clock: "ns", status: 0 });
  assert.equal(controlLogEnded(log), true);
  // A line the output cap cut is dropped; a log without its end is not whole.
  const cut = splitControlLines(enc(`a\n${n} start\n\n${n} wa`), n);
  assert.equal(dec(cut.rest), "a");
  assert.equal(cut.lines, `${n} start`);
  assert.equal(controlLogEnded(parseControlLog(cut.lines, n)), false);
  // Nothing of the wrapper's: the bytes come back as they were.
  assert.equal(dec(splitControlLines(enc("x\ny"), n).rest), "x\ny");
});

Deno.test("announcedNonce() takes the nonce only from the very first bytes of stderr", () => {
  const uuid = "6f1c0a52-3b7e-4d2a-9a61-0c2d8e4f7b13";
  const encode = (text: string) => new TextEncoder().encode(text);
  assert.equal(announcedNonce(encode(`\n${uuid} begin\nmore`)), uuid);
  assert.equal(
    announcedNonce(encode("\n0123456789abcdef0123456789abcdef begin\n")),
    "0123456789abcdef0123456789abcdef",
  );
  for (
    const text of [
      "",
      `x\n${uuid} begin\n`,
      `${uuid} begin\n`,
      `\n${uuid} start\n`,
      `\n${uuid} begin`,
      "\nshort begin\n",
      `\n${"a".repeat(65)} begin\n`,
      `\n${uuid.toUpperCase()} begin\n`,
    ]
  ) {
    assert.equal(announcedNonce(encode(text)), null, JSON.stringify(text));
  }
});

Deno.test("controlOfStderr() gives the announced nonce, the signed log and the command's own stderr", () => {
  const n = "6f1c0a52-3b7e-4d2a-9a61-0c2d8e4f7b13";
  const encode = (text: string) => new TextEncoder().encode(text);
  const got = controlOfStderr(
    encode(`\n${n} begin\n\n${n} start\nwarn\nforged wall ns 0 9 0\n`),
  );
  assert.equal(got?.nonce, n);
  assert.equal(got?.log.started, true);
  assert.equal(got?.log.wall, null);
  assert.equal(
    new TextDecoder().decode(got?.rest),
    "warn\nforged wall ns 0 9 0\n",
  );
  assert.equal(controlOfStderr(encode(`x\n${n} begin\n`)), null);
});
