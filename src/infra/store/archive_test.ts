import assert from "node:assert/strict";
import { join } from "node:path";
import { CONFIRMATION_ITER, Store } from "./store.ts";
import {
  confirmation,
  current,
  damagedError,
  FAULT_URL,
  record,
  RUN_ID,
  runChild,
  runFile,
  STORE_URL,
  withStore,
} from "../../../tests/_helpers/store.ts";

// ---- archive -------------------------------------------------------------

/** A previous run's full state plus what archive must leave alone. */
async function previousRun(store: Store): Promise<Record<string, string>> {
  await store.init();
  await store.writeRun(runFile());
  await store.appendRecord(record(0));
  await store.writeCurrent(current(1, "measuring"));
  await store.saveReport(0, 0, "report");
  await store.saveDiff(1, "patch");
  await store.appendNote("note", new Date(0));
  await Deno.mkdir(join(store.paths.harness, "tests"), { recursive: true });
  await Deno.writeTextFile(
    join(store.paths.harness, "tests", "t.py"),
    "assert 1",
  );
  await Deno.writeTextFile(store.paths.reportHtml, "<html>");
  await store.writeConfirmation(confirmation());
  await store.saveReport(CONFIRMATION_ITER, 1, "confirm report");
  await Deno.mkdir(join(store.paths.worktree, "src"), { recursive: true });
  await Deno.writeTextFile(join(store.paths.worktree, "src", "a.c"), "int x;");
  await Deno.writeTextFile(join(store.paths.tmp, "trial"), "t");
  await Deno.writeTextFile(store.paths.lock, "123\n");
  await Deno.mkdir(join(store.paths.runs, "older"), { recursive: true });
  return await snapshot(store.paths.root);
}

/** Every file under `dir` (relative path → content). */
async function snapshot(
  dir: string,
  prefix = "",
): Promise<Record<string, string>> {
  const files: Record<string, string> = {};
  for await (const entry of Deno.readDir(join(dir, prefix))) {
    const rel = prefix === "" ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory) Object.assign(files, await snapshot(dir, rel));
    else files[rel] = await Deno.readTextFile(join(dir, rel));
  }
  return files;
}

const KEPT_IN_PLACE = ["worktree/src/a.c", "tmp/trial", "lock"];

/** Files at the root, with `runs/<name>/` folded back to where they came from. */
function unarchived(
  files: Record<string, string>,
  name: string,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [path, content] of Object.entries(files)) {
    const rel = path.startsWith(`runs/${name}/`)
      ? path.slice(`runs/${name}/`.length)
      : path;
    assert.ok(!(rel in out), `${rel} is both in place and archived`);
    out[rel] = content;
  }
  return out;
}

Deno.test("Store.archive() moves the previous run into runs/<run_id>/ and nothing else", async () => {
  await withStore(async (store) => {
    const before = await previousRun(store);
    const dest = await store.archive(new Date(0));
    assert.equal(dest, join(store.paths.runs, RUN_ID));
    const after = await snapshot(store.paths.root);
    assert.deepEqual(unarchived(after, RUN_ID), before);
    const stayed = Object.keys(after).filter((p) => !p.startsWith("runs/"));
    assert.deepEqual(stayed.sort(), [...KEPT_IN_PLACE].sort());
    assert.ok((await Deno.stat(join(store.paths.runs, "older"))).isDirectory);
    assert.equal(await store.readRun(), null);
    assert.deepEqual(await store.readRecords(), []);
    assert.equal(await store.archive(new Date(0)), null, "nothing left");
    // A new run starts from a clean slate: iter 0 again.
    await store.init();
    await store.appendRecord(record(0, "20250110-000000-1111"));
  });
});

Deno.test("Store.archive() names a run without config.json by time and never reuses a name", async () => {
  await withStore(async (store) => {
    const now = new Date("2025-03-04T05:06:07.890Z");
    await store.init();
    await store.saveDiff(0, "p");
    assert.equal(
      await store.archive(now),
      join(store.paths.runs, "unknown-20250304-050607"),
    );
    await store.saveDiff(0, "q");
    assert.equal(
      await store.archive(now),
      join(store.paths.runs, "unknown-20250304-050607-2"),
    );
    await Deno.writeTextFile(store.paths.config, "{broken");
    assert.equal(
      await store.archive(now),
      join(store.paths.runs, "unknown-20250304-050607-3"),
      "a damaged config.json does not block a new run",
    );
    assert.equal(
      await Deno.readTextFile(
        join(store.paths.runs, "unknown-20250304-050607-3", "config.json"),
      ),
      "{broken",
    );
  });
});

/** Every archive fault point, `archive.mid` once per entry moved. */
function archivePoints(entries: number): string[] {
  return [
    "archive.intent-written",
    ...Array.from({ length: entries }, (_, i) => `archive.mid:${i + 1}`),
    "archive.before-finish",
  ];
}

Deno.test("Store.archive() killed at any point loses nothing and the next call completes it", async () => {
  for (const withConfig of [true, false]) {
    // config.json, results, current, notes, reports/, diffs/, harness/, report.html
    for (const point of archivePoints(withConfig ? 8 : 7)) {
      await withStore(async (store, repo) => {
        const before = await previousRun(store);
        if (!withConfig) {
          await Deno.remove(store.paths.config);
          delete before["config.json"];
        }
        const name = withConfig ? RUN_ID : "unknown-20250101-000000";
        const child = await runChild(
          `
import { Store } from "${STORE_URL}";
import { createFaultHook } from "${FAULT_URL}";
const store = new Store(${JSON.stringify(repo)}, {
  fault: createFaultHook(Deno.env.get("RATCHET_FAULT_POINT")),
});
await store.archive(new Date("2025-01-01T00:00:00Z"));
`,
          { RATCHET_FAULT_POINT: point },
        );
        const label = `${point} (config: ${withConfig})`;
        assert.equal(child.signal, "SIGKILL", `${label}: ${child.stderr}`);
        assert.deepEqual(
          unarchived(await snapshot(store.paths.root), name),
          { ...before, ...(await intentIfAny(store)) },
          `${label}: every file is in place or archived`,
        );
        // A different clock must not split the archive in two.
        assert.equal(
          await store.archive(new Date("2030-01-01T00:00:00Z")),
          join(store.paths.runs, name),
          label,
        );
        const after = await snapshot(store.paths.root);
        assert.deepEqual(unarchived(after, name), before, label);
        assert.deepEqual(
          Object.keys(after).filter((p) => !p.startsWith("runs/")).sort(),
          [...KEPT_IN_PLACE].sort(),
          label,
        );
      });
    }
  }
});

/** The intent file while an archive is pending (it is part of the snapshot). */
async function intentIfAny(store: Store): Promise<Record<string, string>> {
  try {
    return {
      "archive.json": await Deno.readTextFile(store.paths.archiveIntent),
    };
  } catch {
    return {};
  }
}

Deno.test("Store.archive() refuses a damaged intent file, naming it", async () => {
  await withStore(async (store) => {
    await store.init();
    await Deno.writeTextFile(
      store.paths.archiveIntent,
      JSON.stringify({ schema_version: 1, dest: "../../etc" }),
    );
    await assert.rejects(
      store.archive(),
      damagedError(store.paths.archiveIntent, "../../etc"),
    );
  });
});
