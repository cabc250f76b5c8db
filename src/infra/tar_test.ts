import assert from "node:assert/strict";
import { packTar, packTarBytes, readTar, type TarRead } from "./tar.ts";

async function readAll(
  bytes: Uint8Array,
  options: Parameters<typeof readTar>[1],
): Promise<TarRead[]> {
  async function* source() {
    // In odd-sized pieces, as a socket delivers them.
    for (let i = 0; i < bytes.length; i += 777) {
      yield bytes.subarray(i, i + 777);
    }
  }
  return await Array.fromAsync(readTar(source(), options));
}

const text = (b: Uint8Array | null) =>
  b === null ? null : new TextDecoder().decode(b);

Deno.test("packTar() and readTar() round-trip names, kinds, owners, modes and contents", async () => {
  const long = `d/${"x".repeat(180)}.txt`;
  const bytes = await packTarBytes([
    { path: "d", kind: "dir", mode: 0o1777, uid: 65534, gid: 65534 },
    {
      path: long,
      kind: "file",
      mode: 0o444,
      uid: 0,
      gid: 0,
      data: new TextEncoder().encode("long"),
    },
    {
      path: "d/link",
      kind: "symlink",
      mode: 0o777,
      uid: 7,
      gid: 8,
      linkTarget: "../x",
    },
  ]);
  const entries = await readAll(bytes, { maxFileBytes: 100, over: "skip" });
  assert.deepEqual(
    entries.map((
      e,
    ) => [e.path, e.kind, e.mode.toString(8), text(e.data), e.linkTarget]),
    [
      ["d", "dir", "1777", null, ""],
      [long, "file", "444", "long", ""],
      ["d/link", "symlink", "777", null, "../x"],
    ],
  );
});

Deno.test("packTar() streams contents of a declared size, padding a source that comes up short", async () => {
  const chunks: Uint8Array[] = [];
  for await (
    const c of packTar([
      {
        path: "big",
        kind: "file",
        mode: 0o644,
        uid: 1,
        gid: 1,
        stream: {
          size: 10,
          async *chunks() {
            yield new TextEncoder().encode("abc");
            yield new TextEncoder().encode("def");
          },
        },
      },
      {
        path: "after",
        kind: "file",
        mode: 0o644,
        uid: 1,
        gid: 1,
        data: new TextEncoder().encode("ok"),
      },
    ])
  ) chunks.push(c);
  const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.length;
  }
  const entries = await readAll(bytes, { maxFileBytes: 100, over: "skip" });
  assert.deepEqual(entries.map((e) => [e.path, e.size]), [["big", 10], [
    "after",
    2,
  ]]);
  assert.equal(text(entries[0]!.data), "abcdef\0\0\0\0");
  assert.equal(text(entries[1]!.data), "ok");
});

Deno.test("readTar() skips or truncates a file over the cap, and stops after a truncated one", async () => {
  const bytes = await packTarBytes([
    {
      path: "a",
      kind: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      data: new Uint8Array(5000).fill(65),
    },
    {
      path: "b",
      kind: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      data: new TextEncoder().encode("small"),
    },
  ]);
  const skipped = await readAll(bytes, { maxFileBytes: 100, over: "skip" });
  assert.deepEqual(
    skipped.map((e) => [e.path, e.overCap, e.data?.length ?? null]),
    [
      ["a", true, null],
      ["b", false, 5],
    ],
  );
  const truncated = await readAll(bytes, {
    maxFileBytes: 100,
    over: "truncate",
  });
  assert.deepEqual(truncated.map((e) => [e.path, e.overCap, e.data?.length]), [[
    "a",
    true,
    100,
  ]]);
});
