import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendLineDurable,
  denoFs,
  type DurableFs,
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

/**
 * The real file system, with every call written to `log` as
 * "op path" (paths relative to `dir`, a temp file shown as `<temp>`).
 */
function recordingFs(dir: string, log: string[]): DurableFs {
  const rel = (path: string) => {
    const r = path === dir ? "." : path.slice(dir.length + 1);
    return /^\..+\.tmp$/.test(r) ? "<temp>" : r;
  };
  return {
    async open(path, options) {
      const file = await denoFs.open(path, options);
      const mode = options.read ? "r" : options.append ? "a" : "w";
      log.push(`open(${mode}) ${rel(path)}`);
      return {
        async write(data) {
          const n = await file.write(data);
          log.push(`write ${rel(path)}`);
          return n;
        },
        async sync() {
          await file.sync();
          log.push(`fsync ${rel(path)}`);
        },
        close() {
          file.close();
          log.push(`close ${rel(path)}`);
        },
      };
    },
    async rename(from, to) {
      await denoFs.rename(from, to);
      log.push(`rename ${rel(from)} ${rel(to)}`);
    },
    async remove(path) {
      await denoFs.remove(path);
      log.push(`remove ${rel(path)}`);
    },
  };
}

Deno.test("writeFileAtomic() writes the temp, fsyncs it, renames it, then fsyncs the directory", async () => {
  await withDir(async (dir) => {
    const log: string[] = [];
    const path = join(dir, "a.json");
    await writeFileAtomic(path, "new", { fs: recordingFs(dir, log) });
    assert.deepEqual(log, [
      "open(w) <temp>",
      "write <temp>",
      "fsync <temp>",
      "close <temp>",
      "rename <temp> a.json",
      "open(r) .",
      "fsync .",
      "close .",
    ]);
    assert.equal(await Deno.readTextFile(path), "new");
  });
});

Deno.test("appendLineDurable() fsyncs the line before returning, and a new file's directory", async () => {
  await withDir(async (dir) => {
    const log: string[] = [];
    const path = join(dir, "r.jsonl");
    await appendLineDurable(path, "one", { fs: recordingFs(dir, log) });
    await appendLineDurable(path, "two", { fs: recordingFs(dir, log) });
    assert.deepEqual(log, [
      "open(a) r.jsonl",
      "write r.jsonl",
      "fsync r.jsonl",
      "close r.jsonl",
      "open(r) .",
      "fsync .",
      "close .",
      // The file exists now: its directory entry is durable already.
      "open(a) r.jsonl",
      "write r.jsonl",
      "fsync r.jsonl",
      "close r.jsonl",
    ]);
    assert.equal(await Deno.readTextFile(path), "one\ntwo\n");
  });
});

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
