import assert from "node:assert/strict";
import { join } from "node:path";
import {
  type CurrentIteration,
  type IterationRecord,
  makeRecord,
} from "../../core/state.ts";
import { EnvironmentError, ExitCode, RatchetError } from "../../errors.ts";
import { FAULT_POINTS } from "../fault.ts";
import { CONFIRMATION_ITER, type RunFile, Store } from "./store.ts";
import type { Confirmation } from "../../core/confirm.ts";

const RUN_ID = "20250109-235907-0a9f";
const STORE_URL = new URL("./store.ts", import.meta.url).href;
const FAULT_URL = new URL("../fault.ts", import.meta.url).href;
/** The project's config: the child imports the store, which imports zod by its bare name. */
const DENO_JSON = new URL("../../../deno.json", import.meta.url).pathname;

async function withStore(
  fn: (store: Store, repo: string) => Promise<void>,
): Promise<void> {
  const repo = await Deno.makeTempDir({ prefix: "ratchet-store-" });
  try {
    await fn(new Store(repo), repo);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
}

function record(iter: number, runId = RUN_ID): IterationRecord {
  return makeRecord({
    run_id: runId,
    iter,
    decision: iter === 0 ? "baseline" : "no_change",
    timestamp: `2025-01-10T00:00:0${iter % 10}.000Z`,
    trial_scores: [1.5, null],
    trial_outcomes: ["ok", "crashed"],
  });
}

function runFile(overrides: Partial<RunFile> = {}): RunFile {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    created_at: "2025-01-09T23:59:07.000Z",
    repo_root: "/repo",
    start_sha: "a".repeat(40),
    branch: `ratchet/${RUN_ID}`,
    config: { "run-command": "echo score: 1", trials: 3, harness: ["t/**"] },
    deterministic: null,
    trial_image: null,
    unit: null,
    state: "running",
    stop_reason: null,
    finished_at: null,
    ...overrides,
  };
}

function current(
  iter: number,
  phase: CurrentIteration["phase"],
): CurrentIteration {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    iter,
    phase,
    incumbent_sha: "b".repeat(40),
    candidate_tree: null,
    hypothesis: "h",
    description: "d",
    started_at: "2025-01-10T00:00:00.000Z",
    tokens: { input: 1, output: 2, cache_write: 3, cache_read: 4 },
    cost_usd: 0.25,
  };
}

/** Run a TypeScript snippet in a fresh Deno process. */
async function runChild(
  code: string,
  env: Record<string, string>,
): Promise<
  { code: number; signal: Deno.Signal | null; stdout: string; stderr: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-store-child-" });
  try {
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(script, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", DENO_JSON, "--no-lock", script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return {
      code: out.code,
      signal: out.signal,
      stdout: decode(out.stdout),
      stderr: decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const damagedError = (path: string, ...words: string[]) => (e: unknown) =>
  e instanceof EnvironmentError && e.exitCode === ExitCode.environment &&
  e.message.includes(path) && words.every((w) => e.message.includes(w)) &&
  e.hint !== undefined;

async function tempNames(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir)))
    .map((e) => e.name)
    .filter((n) => n.endsWith(".tmp"));
}

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

// ---- crash at every write point -------------------------------------------

const STORE_WRITE_POINTS = FAULT_POINTS.filter((p) =>
  /^(config|current|reports|diffs|results|notes)\./.test(p)
);

const OLD_RUN = runFile();
const NEW_RUN = runFile({ deterministic: false, trial_image: "img:1" });
const OLD_CURRENT = current(1, "proposing");
const NEW_CURRENT = current(1, "measuring");

/** Old state on disk, with a torn tail in results.jsonl for the repair point. */
async function seed(store: Store): Promise<void> {
  await store.init();
  await store.writeRun(OLD_RUN);
  await store.writeCurrent(OLD_CURRENT);
  await store.saveReport(1, 0, "old report");
  await store.saveDiff(1, "old patch");
  await store.appendRecord(record(0));
  await store.appendNote("first", new Date(0));
  await Deno.writeTextFile(store.paths.results, '{"schema_version":1,"ru', {
    append: true,
  });
}

function writerChild(repo: string): string {
  return `
import { Store } from "${STORE_URL}";
import { createFaultHook } from "${FAULT_URL}";
const store = new Store(${JSON.stringify(repo)}, {
  fault: createFaultHook(Deno.env.get("RATCHET_FAULT_POINT")),
});
await store.writeRun(${JSON.stringify(NEW_RUN)});
await store.writeCurrent(${JSON.stringify(NEW_CURRENT)});
await store.saveReport(1, 0, "new report");
await store.saveDiff(1, "new patch");
await store.appendRecord(${JSON.stringify(record(1))});
await store.appendNote("second", new Date(0));
const taken = await store.takeUnreadNotes();
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify(taken.map((n) => n.id))));
await store.clearCurrent();
`;
}

Deno.test("Store writes killed at every fault point leave old or new state, never broken", async () => {
  assert.ok(STORE_WRITE_POINTS.length >= 15, STORE_WRITE_POINTS.join());
  for (const point of ["", ...STORE_WRITE_POINTS]) {
    await withStore(async (store, repo) => {
      await seed(store);
      const out = await runChild(writerChild(repo), {
        RATCHET_FAULT_POINT: point,
      });
      if (point === "") {
        assert.equal(out.code, 0, out.stderr);
      } else {
        assert.equal(
          out.signal,
          "SIGKILL",
          `${point} was not reached: ${out.stderr}`,
        );
      }

      const oneOf = (actual: unknown, options: unknown[], what: string) =>
        assert.ok(
          options.some((o) => JSON.stringify(o) === JSON.stringify(actual)),
          `${point}: ${what} is ${JSON.stringify(actual)}`,
        );
      const after = new Store(repo);
      oneOf(await after.readRun(), [OLD_RUN, NEW_RUN], "config.json");
      oneOf(
        await after.readCurrent(),
        [OLD_CURRENT, NEW_CURRENT, null],
        "current.json",
      );
      const report = join(after.paths.reports, "iter-0001-trial-00.txt");
      oneOf(
        await Deno.readTextFile(report),
        ["old report", "new report"],
        "report",
      );
      const diff = join(after.paths.diffs, "iter-0001.patch");
      oneOf(await Deno.readTextFile(diff), ["old patch", "new patch"], "diff");
      const records = await after.readRecords();
      oneOf(records, [[record(0)], [record(0), record(1)]], "records");

      // Resuming appends the next iteration cleanly whatever was cut short.
      await after.appendRecord(record(records.length));
      assert.equal((await after.readRecords()).length, records.length + 1);

      // No note is handed out twice.
      const childTook: number[] = out.stdout === ""
        ? []
        : JSON.parse(out.stdout);
      const parentTook = (await after.takeUnreadNotes()).map((n) => n.id);
      assert.deepEqual(
        childTook.filter((id) => parentTook.includes(id)),
        [],
        point,
      );
      assert.deepEqual(await after.takeUnreadNotes(), []);
      if (point === "") assert.deepEqual(childTook, [1, 2]);

      // Temp files of the killed writer are cleaned up on the next start.
      await after.init();
      for (
        const dir of [after.paths.root, after.paths.reports, after.paths.diffs]
      ) {
        assert.deepEqual(await tempNames(dir), [], `${point}: ${dir}`);
      }
    });
  }
});

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

Deno.test("Store.readReports() returns one iteration's saved reports in trial order", async () => {
  await withStore(async (store) => {
    assert.deepEqual(await store.readReports(3), []);
    await store.saveReport(3, 10, "ten\n");
    await store.saveReport(3, 2, "two\n");
    await store.saveReport(30, 1, "other iteration\n");
    assert.deepEqual(await store.readReports(3), ["two\n", "ten\n"]);
  });
});

function confirmation(): Confirmation {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    baseline_sha: "a".repeat(40),
    incumbent_sha: "b".repeat(40),
    incumbent_iter: 1,
    through_iter: 2,
    per_side: 1,
    trials: [{ side: "baseline", k: 1, score: 1, outcome: "ok", guards: {} }],
    result: null,
    started_at: "2025-01-01T00:00:00.000Z",
    finished_at: null,
  };
}

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
