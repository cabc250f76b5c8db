/**
 * Store behaviour found by the reliability tests (tests/e2e/reliability_*):
 * notes are marked read only when asked (so a run killed before recording
 * the iteration that got a note hands it out again), and an interrupted
 * archive completes even after `init()` has made reports/ and diffs/ again.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Store } from "./store.ts";

async function withRepo(fn: (repo: string) => Promise<void>): Promise<void> {
  const repo = await Deno.makeTempDir({ prefix: "ratchet-store-rec-" });
  try {
    await fn(repo);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
}

Deno.test("Store.peekUnreadNotes() does not mark notes read; markNotesRead() does, durably", async () => {
  await withRepo(async (repo) => {
    const store = new Store(repo);
    assert.deepEqual(await store.peekUnreadNotes(), []);
    const now = new Date("2026-01-01T00:00:00Z");
    const a = await store.appendNote("try a hash map", now);
    const b = await store.appendNote("avoid the regex", now);
    assert.deepEqual(await store.peekUnreadNotes(), [a, b]);
    // A restart before the iteration was recorded: still unread.
    assert.deepEqual(await new Store(repo).peekUnreadNotes(), [a, b]);
    await store.markNotesRead(b.id);
    assert.deepEqual(await new Store(repo).peekUnreadNotes(), []);
    const c = await store.appendNote("one more", now);
    await store.markNotesRead(a.id); // an older mark changes nothing
    assert.deepEqual(await new Store(repo).peekUnreadNotes(), [c]);
  });
});

Deno.test("Store.archive() finishes an interrupted archive although init() made reports/ and diffs/ again", async () => {
  await withRepo(async (repo) => {
    const store = new Store(repo);
    await store.init();
    await Deno.writeTextFile(
      join(store.paths.reports, "iter-0000-trial-01.txt"),
      "r",
    );
    await Deno.writeTextFile(join(store.paths.diffs, "iter-0001.patch"), "d");
    await Deno.writeTextFile(store.paths.results, "");
    // An archive killed after it moved results, reports and diffs.
    const dest = join(store.paths.runs, "20260101-000000-abcd");
    await Deno.mkdir(dest, { recursive: true });
    await Deno.writeTextFile(
      store.paths.archiveIntent,
      JSON.stringify({ schema_version: 1, dest: "20260101-000000-abcd" }) +
        "\n",
    );
    for (const name of ["results.jsonl", "reports", "diffs"]) {
      await Deno.rename(join(store.paths.root, name), join(dest, name));
    }
    await store.init(); // the next run makes the directories again
    assert.equal(await store.archive(), dest);
    assert.equal(
      await Deno.readTextFile(join(dest, "reports", "iter-0000-trial-01.txt")),
      "r",
    );
    assert.equal(
      await Deno.readTextFile(join(dest, "diffs", "iter-0001.patch")),
      "d",
    );
    await assert.rejects(Deno.lstat(store.paths.archiveIntent));
    await assert.rejects(Deno.lstat(store.paths.reports));
  });
});
