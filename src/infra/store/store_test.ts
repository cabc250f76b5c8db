import assert from "node:assert/strict";
import { join } from "node:path";
import { makeRecord } from "../../core/state.ts";
import { EnvironmentError, ExitCode, RatchetError } from "../../errors.ts";
import { CONFIRMATION_ITER, Store } from "./store.ts";
import {
  confirmation,
  current,
  damagedError,
  record,
  RUN_ID,
  runFile,
  tempNames,
  withStore,
} from "../../../tests/_helpers/store.ts";

// ---- layout --------------------------------------------------------------

Deno.test("Store.paths names every entry of spec section 8", () => {
  const store = new Store("/repo");
  assert.deepEqual(store.paths, {
    root: "/repo/.ratchet",
    config: "/repo/.ratchet/config.json",
    results: "/repo/.ratchet/results.jsonl",
    current: "/repo/.ratchet/current.json",
    reports: "/repo/.ratchet/reports",
    diffs: "/repo/.ratchet/diffs",
    notes: "/repo/.ratchet/notes.jsonl",
    harness: "/repo/.ratchet/harness",
    worktree: "/repo/.ratchet/worktree",
    tmp: "/repo/.ratchet/tmp",
    lock: "/repo/.ratchet/lock",
    runs: "/repo/.ratchet/runs",
    reportHtml: "/repo/.ratchet/report.html",
    confirmation: "/repo/.ratchet/confirmation.json",
    archiveIntent: "/repo/.ratchet/archive.json",
    startIntent: "/repo/.ratchet/starting.json",
  });
});

Deno.test("Store start intent round-trips, clears idempotently, and names damage", async () => {
  await withStore(async (store) => {
    await store.init();
    assert.equal(await store.readStartIntent(), null);
    const intent = {
      run_id: RUN_ID,
      branch: `ratchet/${RUN_ID}`,
      start_sha: "a".repeat(40),
    };
    await store.writeStartIntent(intent);
    assert.deepEqual(await store.readStartIntent(), intent);
    await store.clearStartIntent();
    await store.clearStartIntent();
    assert.equal(await store.readStartIntent(), null);

    // A branch that is not the run's own must never be deleted from it.
    await store.writeStartIntent({ ...intent, branch: "main" });
    await assert.rejects(store.readStartIntent(), (error: unknown) => {
      assert.ok(error instanceof EnvironmentError);
      assert.match(
        error.message,
        /starting\.json is damaged: "branch" is "main"/,
      );
      return true;
    });
  });
});

Deno.test("Store.init() creates the directories and removes temp files of dead writers", async () => {
  const repo = await Deno.makeTempDir({ prefix: "ratchet-store-" });
  try {
    const store = new Store(repo, { isAlive: (pid) => pid === 222 });
    await Deno.mkdir(store.paths.root);
    const dead = join(store.paths.root, ".config.json.111.0badc0de.tmp");
    const live = join(store.paths.root, ".config.json.222.0badc0de.tmp");
    await Deno.writeTextFile(dead, "{");
    await Deno.writeTextFile(live, "{");
    await store.init();
    for (
      const dir of [store.paths.reports, store.paths.diffs, store.paths.tmp]
    ) {
      assert.ok((await Deno.stat(dir)).isDirectory, dir);
    }
    assert.deepEqual(await tempNames(store.paths.root), [
      ".config.json.222.0badc0de.tmp",
    ]);
    await store.init(); // idempotent
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
});

Deno.test("Store.removeRunFile(), removeHarnessSnapshot() and clearTmp() remove durably and only their entry", async () => {
  await withStore(async (store) => {
    // Nothing there, not even .ratchet/: no error.
    await store.removeRunFile();
    await store.removeHarnessSnapshot();
    await store.clearTmp();
    await store.init();
    await store.writeRun(runFile());
    await store.writeCurrent(current(0, "measuring"));
    await Deno.mkdir(join(store.paths.harness, "tests"), { recursive: true });
    await Deno.writeTextFile(join(store.paths.harness, "tests", "t.py"), "1");
    await Deno.mkdir(join(store.paths.tmp, "probe-1"), { recursive: true });
    await Deno.writeTextFile(join(store.paths.tmp, "probe-1", "f"), "x");
    const names = async () =>
      (await Array.fromAsync(Deno.readDir(store.paths.root)))
        .map((e) => e.name).sort();

    await store.removeRunFile();
    assert.equal(await store.readRun(), null);
    await store.removeHarnessSnapshot();
    await store.clearTmp();
    assert.deepEqual(await names(), ["current.json", "diffs", "reports"]);
    // Idempotent, and init() makes tmp/ again.
    await store.removeRunFile();
    await store.removeHarnessSnapshot();
    await store.clearTmp();
    await store.init();
    assert.ok((await Deno.stat(store.paths.tmp)).isDirectory);
  });
});

Deno.test("Store.holdsRun() is true while a run's config, results or interrupted archive is there", async () => {
  await withStore(async (store) => {
    await store.init();
    assert.equal(await store.holdsRun(), false);
    for (
      const path of [
        store.paths.config,
        store.paths.results,
        store.paths.archiveIntent,
      ]
    ) {
      await Deno.writeTextFile(path, "{}");
      assert.equal(await store.holdsRun(), true, path);
      await Deno.remove(path);
    }
    assert.equal(await store.holdsRun(), false);
  });
});

// ---- config.json ---------------------------------------------------------

Deno.test("Store.writeRun() round-trips through readRun()", async () => {
  await withStore(async (store) => {
    assert.equal(await store.readRun(), null);
    const run = runFile();
    await store.writeRun(run);
    assert.deepEqual(await store.readRun(), run);
    const finished = runFile({
      state: "finished",
      stop_reason: "patience",
      finished_at: "2025-01-10T01:00:00.000Z",
      deterministic: true,
      trial_image: "ratchet-trial:abc",
    });
    await store.writeRun(finished);
    assert.deepEqual(await store.readRun(), finished);
    assert.deepEqual(await tempNames(store.paths.root), []);
  });
});

Deno.test("Store.readRun() reports a damaged config.json as an environment error", async () => {
  await withStore(async (store) => {
    await store.init();
    const path = store.paths.config;
    await Deno.writeTextFile(path, '{"schema_version": 1, "run_id": "x"');
    await assert.rejects(store.readRun(), damagedError(path, "not valid JSON"));
    await Deno.writeTextFile(path, "[]");
    await assert.rejects(
      store.readRun(),
      damagedError(path, "not a JSON object"),
    );
    const { branch: _, ...noBranch } = runFile();
    await Deno.writeTextFile(path, JSON.stringify(noBranch));
    await assert.rejects(store.readRun(), damagedError(path, '"branch"'));
    await Deno.writeTextFile(
      path,
      JSON.stringify(runFile({ state: "paused" as "running" })),
    );
    await assert.rejects(store.readRun(), damagedError(path, "paused"));
    await Deno.writeTextFile(
      path,
      JSON.stringify(runFile({ stop_reason: "bored" as "cost" })),
    );
    await assert.rejects(store.readRun(), damagedError(path, "bored"));
    await Deno.writeTextFile(
      path,
      JSON.stringify(runFile({ schema_version: 2 })),
    );
    await assert.rejects(
      store.readRun(),
      (e: unknown) =>
        e instanceof EnvironmentError &&
        e.message.includes("schema_version 2") &&
        (e.hint ?? "").includes("upgrade"),
    );
  });
});

// ---- results.jsonl -------------------------------------------------------

Deno.test("Store.appendRecord() round-trips a makeRecord() record with every key", async () => {
  await withStore(async (store) => {
    const full = makeRecord({
      run_id: RUN_ID,
      iter: 0,
      decision: "baseline",
      timestamp: "2025-01-10T00:00:00.123Z",
      kept: true,
      hypothesis: 'h "quoted"\nnewline',
      description: "d ✓",
      trial_scores: [1, null, -2.5e-7],
      trial_outcomes: ["ok", "timeout", "ok"],
      baseline_scores: [3, 4],
      p_value: 0.012,
      effect: -0.1,
      ci: [-0.2, -0.05],
      sha: "c".repeat(40),
      reason: "within_noise",
      detail: "detail",
      tokens: { input: 10, output: 20, cache_write: 30, cache_read: 40 },
      cost_usd: 0.5,
      duration_s: 12.25,
      diff_stat: { files: 1, insertions: 2, deletions: 3 },
      critic: {
        proposals: [
          { title: "A", hypothesis: "ha", plan: "pa" },
          { title: "B", hypothesis: "hb", plan: "pb" },
        ],
        choice: "B",
        rationale: "bolder",
      },
    });
    await store.appendRecord(full);
    const minimal = record(1);
    await store.appendRecord(minimal);
    assert.deepEqual(await store.readRecords(), [full, minimal]);
    const lines = (await Deno.readTextFile(store.paths.results)).split("\n");
    assert.equal(lines.length, 3, "one line per record, newline-terminated");
    assert.equal(lines[2], "");
    const onDisk = JSON.parse(lines[1] ?? "");
    assert.deepEqual(Object.keys(onDisk).sort(), Object.keys(minimal).sort());
  });
});

Deno.test("Store.appendRecord() refuses a record that is not the next dense iter", async () => {
  await withStore(async (store) => {
    const refused = (e: unknown) =>
      e instanceof RatchetError && e.exitCode === ExitCode.internal;
    await assert.rejects(store.appendRecord(record(1)), refused);
    await store.appendRecord(record(0));
    await assert.rejects(store.appendRecord(record(0)), refused);
    await assert.rejects(store.appendRecord(record(2)), refused);
    await store.appendRecord(record(1));
    // A fresh store (a resumed process) learns the last iter from the file.
    const again = new Store(store.paths.root.slice(0, -".ratchet".length - 1));
    await assert.rejects(again.appendRecord(record(1)), refused);
    await assert.rejects(
      again.appendRecord(record(2, "20250101-000000-ffff")),
      refused,
    );
    await again.appendRecord(record(2));
    assert.deepEqual(
      (await store.readRecords()).map((r) => r.iter),
      [0, 1, 2],
    );
  });
});

Deno.test("Store.readRecords() ignores a torn last line", async () => {
  await withStore(async (store) => {
    assert.deepEqual(await store.readRecords(), []);
    await store.appendRecord(record(0));
    await store.appendRecord(record(1));
    const good = await Deno.readTextFile(store.paths.results);
    for (
      const tail of [
        JSON.stringify(record(2)).slice(0, 40), // no newline: never completed
        JSON.stringify(record(2)), // complete JSON but its newline is missing
        "\0\0\0\0\0\0", // zeroed block after a power loss
        '{"schema_version":1,"run\n', // terminated but unparseable
      ]
    ) {
      await Deno.writeTextFile(store.paths.results, good + tail);
      assert.deepEqual(
        (await store.readRecords()).map((r) => r.iter),
        [0, 1],
        JSON.stringify(tail),
      );
    }
  });
});

Deno.test("Store.readRecords() names the line of damage in the middle", async () => {
  await withStore(async (store) => {
    const path = store.paths.results;
    await store.init();
    const l0 = JSON.stringify(record(0));
    const l1 = JSON.stringify(record(1));
    const l2 = JSON.stringify(record(2));
    await Deno.writeTextFile(path, `${l0}\n{garbage\n${l2}\n`);
    await assert.rejects(store.readRecords(), damagedError(path, "line 2"));
    await Deno.writeTextFile(path, `${l0}\n${l2}\n`);
    await assert.rejects(
      store.readRecords(),
      damagedError(path, "line 2", "iter is 2"),
    );
    const { sha: _, ...noSha } = record(1);
    await Deno.writeTextFile(path, `${l0}\n${JSON.stringify(noSha)}\n`);
    await assert.rejects(
      store.readRecords(),
      damagedError(path, "line 2", '"sha"'),
    );
    await Deno.writeTextFile(path, `${l0}\n\n${l1}\n`);
    assert.equal(
      (await store.readRecords()).length,
      2,
      "blank lines are skipped",
    );
  });
});

Deno.test("Store.repairTornTail() cuts the torn line so the next append starts clean", async () => {
  await withStore(async (store) => {
    assert.equal(await store.repairTornTail(), null, "no file");
    await store.appendRecord(record(0));
    assert.equal(await store.repairTornTail(), null, "nothing torn");
    const torn = JSON.stringify(record(1)).slice(0, 33);
    await Deno.writeTextFile(store.paths.results, torn, { append: true });
    assert.equal(await store.repairTornTail(), torn);
    assert.equal(
      await Deno.readTextFile(store.paths.results),
      JSON.stringify(record(0)) + "\n",
    );
    await store.appendRecord(record(1));
    assert.deepEqual((await store.readRecords()).map((r) => r.iter), [0, 1]);
  });
});

Deno.test("Store.appendRecord() on a fresh store repairs a torn tail before appending", async () => {
  await withStore(async (store, repo) => {
    await store.appendRecord(record(0));
    await Deno.writeTextFile(store.paths.results, '{"schema_ver', {
      append: true,
    });
    const resumed = new Store(repo);
    await resumed.appendRecord(record(1));
    assert.deepEqual(await resumed.readRecords(), [record(0), record(1)]);
  });
});

// ---- current.json --------------------------------------------------------

Deno.test("Store.writeCurrent() round-trips and clearCurrent() removes it", async () => {
  await withStore(async (store) => {
    assert.equal(await store.readCurrent(), null);
    await store.clearCurrent(); // absent: no error
    await store.writeCurrent(current(3, "proposing"));
    await store.writeCurrent(current(3, "measuring"));
    assert.deepEqual(await store.readCurrent(), current(3, "measuring"));
    await store.clearCurrent();
    assert.equal(await store.readCurrent(), null);
    await Deno.writeTextFile(store.paths.current, "{");
    await assert.rejects(
      store.readCurrent(),
      damagedError(store.paths.current),
    );
  });
});

// ---- reports/ and diffs/ -------------------------------------------------

Deno.test("Store.saveReport() and saveDiff() use the spec's zero-padded names", async () => {
  await withStore(async (store) => {
    const report = await store.saveReport(7, 3, "score: 1\n");
    assert.equal(report, join(store.paths.reports, "iter-0007-trial-03.txt"));
    assert.equal(await Deno.readTextFile(report), "score: 1\n");
    assert.equal(
      await store.saveReport(12345, 123, ""),
      join(store.paths.reports, "iter-12345-trial-123.txt"),
    );
    const diff = await store.saveDiff(42, "--- a\n+++ b\n");
    assert.equal(diff, join(store.paths.diffs, "iter-0042.patch"));
    assert.equal(await Deno.readTextFile(diff), "--- a\n+++ b\n");
    await assert.rejects(store.saveReport(-2, 1, ""), RatchetError);
    await assert.rejects(store.saveDiff(1.5, ""), RatchetError);
  });
});

// ---- notes.jsonl ---------------------------------------------------------

Deno.test("Store.takeUnreadNotes() hands out each note exactly once, across restarts", async () => {
  await withStore(async (store, repo) => {
    assert.deepEqual(await store.takeUnreadNotes(), []);
    const t = new Date("2025-01-10T00:00:00.000Z");
    const a = await store.appendNote("prefer SIMD", t);
    const b = await store.appendNote("leave io.c alone", t);
    assert.deepEqual(a, {
      id: 1,
      text: "prefer SIMD",
      timestamp: t.toISOString(),
    });
    assert.equal(b.id, 2);
    assert.deepEqual(await store.takeUnreadNotes(), [a, b]);
    assert.deepEqual(await store.takeUnreadNotes(), []);
    const c = await store.appendNote("try -O3", t);
    const restarted = new Store(repo);
    assert.deepEqual(await restarted.takeUnreadNotes(), [c]);
    assert.deepEqual(await new Store(repo).takeUnreadNotes(), []);
    assert.equal((await restarted.appendNote("again", t)).id, 4);
  });
});

Deno.test("Store.appendNote() gives unique ids to concurrent writers", async () => {
  await withStore(async (store, repo) => {
    const t = new Date(0);
    const notes = await Promise.all(
      Array.from(
        { length: 20 },
        (_, i) => new Store(repo).appendNote(`n${i}`, t),
      ),
    );
    assert.deepEqual(
      notes.map((n) => n.id).sort((x, y) => x - y),
      Array.from({ length: 20 }, (_, i) => i + 1),
    );
    assert.equal((await store.takeUnreadNotes()).length, 20);
  });
});

Deno.test("Store.appendNote() cuts a torn last line and rejects empty text", async () => {
  await withStore(async (store) => {
    const t = new Date(0);
    await store.appendNote("one", t);
    await Deno.writeTextFile(store.paths.notes, '{"id":2,"te', {
      append: true,
    });
    await store.appendNote("two", t);
    assert.deepEqual((await store.takeUnreadNotes()).map((n) => n.text), [
      "one",
      "two",
    ]);
    await assert.rejects(store.appendNote("  ", t), RatchetError);
  });
});

Deno.test("Store.readReports() returns one iteration's saved reports in trial order", async () => {
  await withStore(async (store) => {
    assert.deepEqual(await store.readReports(3), []);
    await store.saveReport(3, 10, "ten\n");
    await store.saveReport(3, 2, "two\n");
    await store.saveReport(30, 1, "other iteration\n");
    assert.deepEqual(await store.readReports(3), ["two\n", "ten\n"]);
  });
});

Deno.test("Store confirmation.json round-trips and confirmation reports have their own name", async () => {
  await withStore(async (store) => {
    assert.equal(await store.readConfirmation(), null);
    await store.writeConfirmation(confirmation());
    assert.deepEqual(await store.readConfirmation(), confirmation());
    const path = await store.saveReport(CONFIRMATION_ITER, 3, "x");
    assert.equal(path, join(store.paths.reports, "confirm-trial-03.txt"));
    // Iteration reports do not include them.
    assert.deepEqual(await store.readReports(0), []);
    await Deno.writeTextFile(
      store.paths.confirmation,
      JSON.stringify({ schema_version: 1, run_id: 5 }),
    );
    await assert.rejects(store.readConfirmation(), /run_id/);
  });
});
