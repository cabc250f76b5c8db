import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import {
  CappedBuffer,
  Demuxer,
  followProgress,
  ProgressLines,
  pump,
  untilAborted,
  within,
} from "./_streams.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

/** One frame of Docker's multiplexed stream. */
function frame(type: number, text: string): Uint8Array {
  const body = encode(text);
  const out = new Uint8Array(8 + body.length);
  out[0] = type;
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("CappedBuffer keeps the first cap bytes and says it dropped the rest", () => {
  const b = new CappedBuffer(5);
  const chunk = encode("abc");
  b.write(chunk);
  // The buffer copies: a reused socket buffer does not change what was kept.
  chunk.fill(0);
  assert.equal(b.truncated, false);
  b.write(encode("defg"));
  b.write(encode("h"));
  assert.equal(decode(b.bytes()), "abcde");
  assert.equal(b.truncated, true);
  const exact = new CappedBuffer(3);
  exact.write(encode("xyz"));
  assert.equal(exact.truncated, false);
  const none = new CappedBuffer(0);
  none.write(encode("x"));
  assert.deepEqual([none.bytes().length, none.truncated], [0, true]);
});

Deno.test("Demuxer splits stdout and stderr frames, whatever the chunking", () => {
  const stream = concat(
    frame(1, "out 1\n"),
    frame(2, "err 1\n"),
    frame(1, ""),
    frame(3, "engine says no\n"),
    frame(1, "out 2 ü\n"),
  );
  for (const size of [1, 3, 7, 8, 9, 64, stream.length]) {
    const out = new CappedBuffer(1024);
    const err = new CappedBuffer(1024);
    const d = new Demuxer(out, err);
    for (let i = 0; i < stream.length; i += size) {
      d.push(stream.subarray(i, i + size));
    }
    assert.equal(decode(out.bytes()), "out 1\nout 2 ü\n", `chunks of ${size}`);
    assert.equal(decode(err.bytes()), "err 1\nengine says no\n");
  }
});

Deno.test("Demuxer caps each stream on its own", () => {
  const out = new CappedBuffer(4);
  const err = new CappedBuffer(100);
  const d = new Demuxer(out, err);
  d.push(concat(frame(1, "0123456789"), frame(2, "still here")));
  assert.equal(decode(out.bytes()), "0123");
  assert.equal(out.truncated, true);
  assert.equal(decode(err.bytes()), "still here");
  assert.equal(err.truncated, false);
});

Deno.test("pump() feeds a stream to the demuxer until it ends, closes or fails", async () => {
  for (const ending of ["end", "close", "error"]) {
    const stream = new EventEmitter();
    const out = new CappedBuffer(100);
    const done = pump(
      stream as unknown as NodeJS.ReadableStream,
      new Demuxer(out, new CappedBuffer(100)),
    );
    stream.emit("data", frame(1, "a"));
    stream.emit("data", frame(1, "b"));
    stream.emit(ending, new Error("x"));
    await done;
    assert.equal(decode(out.bytes()), "ab", ending);
  }
});

Deno.test("within() gives the value, or timeout when it takes longer", async () => {
  assert.equal(await within(Promise.resolve(7), 1000), 7);
  assert.equal(await within(new Promise(() => {}), 10), "timeout");
  await assert.rejects(within(Promise.reject(new Error("e")), 1000), /e/);
});

Deno.test("ProgressLines turns build and pull messages into lines and keeps the error", () => {
  const seen: string[] = [];
  const p = new ProgressLines((l) => seen.push(l));
  const text = [
    JSON.stringify({ stream: "Step 1/2 : FROM busybox\n" }),
    JSON.stringify({ stream: " ---> abc\r\nStep 2/2 : RUN false\n" }),
    JSON.stringify({
      status: "Downloading",
      id: "l1",
      progressDetail: { current: 5 },
    }),
    JSON.stringify({ status: "Pull complete", id: "l1", progressDetail: {} }),
    JSON.stringify({ status: "Digest: sha256:x" }),
    "not json at all",
    "42",
    JSON.stringify({ error: "The command returned a non-zero code: 1\n" }),
  ].join("\n");
  const bytes = encode(text);
  // Split inside a JSON message and the last line without a newline.
  p.push(bytes.subarray(0, 30));
  p.push(bytes.subarray(30));
  p.end();
  assert.deepEqual(seen, [
    "Step 1/2 : FROM busybox",
    " ---> abc",
    "Step 2/2 : RUN false",
    "l1: Pull complete",
    "Digest: sha256:x",
    "not json at all",
    "The command returned a non-zero code: 1",
  ]);
  assert.equal(p.error, "The command returned a non-zero code: 1");
  assert.deepEqual(p.tail, seen);
});

Deno.test("ProgressLines decodes a character split across chunks and keeps only the last 25 lines", () => {
  const seen: string[] = [];
  const p = new ProgressLines((l) => seen.push(l));
  const bytes = encode(JSON.stringify({ stream: "größe\n" }) + "\n");
  const cut = bytes.indexOf(0xc3) + 1;
  p.push(bytes.subarray(0, cut));
  p.push(bytes.subarray(cut));
  assert.deepEqual(seen, ["größe"]);
  for (let i = 0; i < 30; i++) p.push(`line ${i}\n`);
  assert.equal(p.tail.length, 25);
  assert.equal(p.tail[0], "line 5");
  assert.equal(p.error, null);
});

Deno.test("followProgress() reads to the end, and an abort destroys the stream and rejects", async () => {
  const stream = Object.assign(new EventEmitter(), {
    destroyed: false,
    destroy() {
      this.destroyed = true;
    },
  });
  const lines = new ProgressLines(undefined);
  const done = followProgress(
    stream as unknown as NodeJS.ReadableStream,
    lines,
  );
  stream.emit("data", '{"stream":"a"}');
  stream.emit("end");
  await done;
  assert.deepEqual(lines.tail, ["a"]);

  const controller = new AbortController();
  const aborted = followProgress(
    stream as unknown as NodeJS.ReadableStream,
    new ProgressLines(undefined),
    controller.signal,
  );
  controller.abort(new Error("interrupted"));
  await assert.rejects(aborted, /interrupted/);
  assert.equal(stream.destroyed, true);
});

Deno.test("untilAborted() rejects at the abort and destroys a stream that arrives later", async () => {
  assert.equal(await untilAborted(Promise.resolve(1), undefined), 1);
  const early = new AbortController();
  early.abort(new Error("already"));
  await assert.rejects(
    untilAborted(new Promise(() => {}), early.signal),
    /already/,
  );

  const controller = new AbortController();
  let release!: (v: { destroyed: boolean; destroy(): void }) => void;
  const late = {
    destroyed: false,
    destroy() {
      this.destroyed = true;
    },
  };
  const pending = untilAborted(
    new Promise<typeof late>((r) => (release = r)),
    controller.signal,
  );
  controller.abort(new Error("stop"));
  await assert.rejects(pending, /stop/);
  release(late);
  await new Promise((r) => setTimeout(r, 0));
  assert.equal(late.destroyed, true);
});

Deno.test("CappedBuffer.head() gives the first bytes kept so far, across chunks", () => {
  const b = new CappedBuffer(8);
  b.write(new TextEncoder().encode("abc"));
  b.write(new TextEncoder().encode("defgh"));
  b.write(new TextEncoder().encode("ijk"));
  const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
  assert.equal(text(b.head(5)), "abcde");
  assert.equal(text(b.head(3)), "abc");
  assert.equal(text(b.head(100)), "abcdefgh");
  assert.equal(text(b.head(0)), "");
});
