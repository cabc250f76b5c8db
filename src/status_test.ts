import assert from "node:assert/strict";
import { readStatus } from "./status.ts";
import { Store } from "./infra/store.ts";
import { sampleRecords, sampleRun } from "../tests/_fakes/records.ts";
import { tempDir } from "../tests/_helpers/git_repo.ts";
import { EnvironmentError } from "./errors.ts";

Deno.test("readStatus() reports state, best, kept and cost from .ratchet/", async () => {
  await using dir = await tempDir();
  const store = new Store(dir.dir);
  await store.init();
  await assert.rejects(readStatus(store), EnvironmentError);
  await store.writeRun(
    sampleRun({ state: "running", stop_reason: null, finished_at: null }),
  );
  for (const r of sampleRecords()) await store.appendRecord(r);
  const interrupted = await readStatus(store);
  assert.equal(interrupted.state, "interrupted");
  assert.equal(interrupted.iter, 6);
  assert.equal(interrupted.kept, 2);
  assert.equal(interrupted.best?.iter, 6);
  assert.equal(interrupted.best?.sha, "c".repeat(40));
  assert.ok(Math.abs(interrupted.cost_usd - 0.59) < 1e-9);
  assert.equal(interrupted.baseline.mean, 10);
  assert.ok(interrupted.baseline.ci !== null);

  await Deno.writeTextFile(store.paths.lock, `${Deno.pid}\n`);
  const running = await readStatus(store);
  assert.equal(running.state, "running");
  assert.equal(running.pid, Deno.pid);

  await store.writeRun(sampleRun());
  const finished = await readStatus(store);
  assert.equal(finished.state, "finished");
  assert.equal(finished.stop_reason, "iterations");
  assert.deepEqual(Object.keys(finished).sort(), [
    "baseline",
    "best",
    "branch",
    "cost_usd",
    "iter",
    "kept",
    "phase",
    "pid",
    "run_id",
    "schema_version",
    "state",
    "stop_reason",
    "worktree",
  ]);
});
