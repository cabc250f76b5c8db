/**
 * `deno task bench:readers`: what `ratchet status` and `ratchet report`
 * cost on a long run, without the CLI around them (bench/load_bench.ts
 * times the whole commands). These were wall-clock assertions in the unit
 * suite; a loaded machine made them fail, so they are measured here.
 *
 * Usage: deno task bench:readers   (deno bench -A bench/readers_bench.ts)
 */
import { readStatus } from "../src/app/status.ts";
import { Store } from "../src/infra/store/store.ts";
import { renderReport } from "../src/ui/report/render.ts";
import {
  buildFixture,
  installFixture,
  manyRecords,
} from "../tests/fixtures/records/generate.ts";

const RECORDS = 10_000;

const dir = await Deno.makeTempDir({ prefix: "ratchet-bench-readers-" });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(dir, { recursive: true });
});
await installFixture("mixed", dir);
const store = new Store(dir);
const runId = (await store.readRun())!.run_id;
await Deno.writeTextFile(
  store.paths.results,
  manyRecords(RECORDS).map((r) => JSON.stringify({ ...r, run_id: runId }))
    .join("\n") + "\n",
);

Deno.bench(`readStatus() on ${RECORDS} records`, async () => {
  await readStatus(store, { isAlive: () => false });
});

const { run } = buildFixture("long");
const records = manyRecords(RECORDS);
Deno.bench(`renderReport() on ${RECORDS} records`, () => {
  renderReport({
    run,
    records,
    diffs: new Map(),
    environment: {
      ratchet: "bench",
      deno: Deno.version.deno,
      os: Deno.build.os,
    },
    generatedAt: new Date(0).toISOString(),
  });
});
