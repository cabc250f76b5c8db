import assert from "node:assert/strict";
import { join } from "node:path";
import { FAULT_POINTS } from "../fault.ts";
import { Store } from "./store.ts";
import {
  current,
  FAULT_URL,
  record,
  runChild,
  runFile,
  STORE_URL,
  tempNames,
  withStore,
} from "../../../tests/_helpers/store.ts";

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
