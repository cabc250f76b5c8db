import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendLineDurable,
  removeStaleTemps,
  tempPathFor,
  writeFileAtomic,
} from "./atomic.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-atomic-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const names = async (dir: string) =>
  (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name).sort();

Deno.test("writeFileAtomic() replaces the content and leaves no temp file", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "old");
    await writeFileAtomic(path, new TextEncoder().encode("new"));
    assert.equal(await Deno.readTextFile(path), "new");
    assert.deepEqual(await names(dir), ["a.json"]);
  });
});

Deno.test("writeFileAtomic() calls its fault points in order around the rename", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "old");
    const states: string[] = [];
    await writeFileAtomic(path, "new", {
      point: "config.write",
      fault: (p) => states.push(`${p}=${Deno.readTextFileSync(path)}`),
    });
    assert.deepEqual(states, [
      "config.write.before-rename=old",
      "config.write.after-rename=new",
    ]);
  });
});

Deno.test("writeFileAtomic() keeps the old content and removes its temp when interrupted", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "old");
    await assert.rejects(
      writeFileAtomic(path, "new", {
        point: "config.write",
        fault: (p) => {
          if (p.endsWith("before-rename")) throw new Error("boom");
        },
      }),
      /boom/,
    );
    assert.equal(await Deno.readTextFile(path), "old");
    assert.deepEqual(await names(dir), ["a.json"]);
  });
});

Deno.test("appendLineDurable() creates the file and appends whole lines", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "x.jsonl");
    await appendLineDurable(path, "one");
    const seen: string[] = [];
    await appendLineDurable(path, "two-two", {
      fault: (p) =>
        seen.push(`${p}=${JSON.stringify(Deno.readTextFileSync(path))}`),
      points: { midLine: "m", beforeFsync: "b", afterFsync: "a" },
    });
    assert.equal(await Deno.readTextFile(path), "one\ntwo-two\n");
    assert.deepEqual(seen, [
      'm="one\\ntwo-"',
      'b="one\\ntwo-two\\n"',
      'a="one\\ntwo-two\\n"',
    ]);
  });
});

Deno.test("appendLineDurable() refuses a line containing a newline", async () => {
  await withDir(async (dir) => {
    await assert.rejects(
      appendLineDurable(join(dir, "x"), "a\nb"),
      RangeError,
    );
  });
});

Deno.test("removeStaleTemps() removes only temp files of dead writers", async () => {
  await withDir(async (dir) => {
    const mine = tempPathFor(join(dir, "a.json"));
    assert.match(
      mine,
      new RegExp(`\\.a\\.json\\.${Deno.pid}\\.[0-9a-f]{8}\\.tmp$`),
    );
    await Deno.writeTextFile(mine, "");
    await Deno.writeTextFile(join(dir, ".a.json.111.0badc0de.tmp"), "");
    await Deno.writeTextFile(join(dir, ".a.json.222.0badc0de.tmp"), "");
    await Deno.writeTextFile(join(dir, "a.json"), "");
    await Deno.writeTextFile(join(dir, "notes.tmp"), "");
    const removed = await removeStaleTemps(dir, (pid) => pid === 222);
    assert.deepEqual(removed, [".a.json.111.0badc0de.tmp"]);
    assert.deepEqual(
      await names(dir),
      [
        mine.slice(dir.length + 1),
        ".a.json.222.0badc0de.tmp",
        "a.json",
        "notes.tmp",
      ].sort(),
    );
    assert.deepEqual(
      await removeStaleTemps(join(dir, "missing"), () => false),
      [],
    );
  });
});
