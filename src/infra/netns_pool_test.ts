import assert from "node:assert/strict";
import { NetnsPool } from "./netns_pool.ts";

/** A pool over fake holders that records every start and removal. */
function fakePool(
  options: { refuse?: boolean; failStarts?: number } = {},
) {
  const started: string[] = [];
  const removed: string[] = [];
  let failures = options.failStarts ?? 0;
  const pool = new NetnsPool((id) => {
    removed.push(id);
    return Promise.resolve();
  });
  const start = (key: string) => () => {
    if (failures > 0) {
      failures--;
      return Promise.reject(new Error("engine down"));
    }
    if (options.refuse) return Promise.resolve(null);
    const id = `holder-${started.length + 1}-${key}`;
    started.push(id);
    return Promise.resolve(id);
  };
  const acquire = (key: string, scope = "run") =>
    pool.acquire({ key, scope }, start(key));
  return { pool, started, removed, acquire };
}

Deno.test("NetnsPool.acquire() starts one holder per group and shares it", async () => {
  const { started, removed, acquire } = fakePool();
  const a = await acquire("run/1");
  const b = await acquire("run/1");
  assert.ok(a !== null && b !== null);
  assert.equal(a.id, b.id);
  assert.deepEqual(started, ["holder-1-run/1"]);
  await a.release();
  await b.release();
  assert.deepEqual(removed, []);
});

Deno.test("NetnsPool.acquire() starts concurrent first users' holder only once", async () => {
  const { started, acquire } = fakePool();
  const [a, b] = await Promise.all([acquire("run/1"), acquire("run/1")]);
  assert.equal(a?.id, b?.id);
  assert.equal(started.length, 1);
});

Deno.test("NetnsPool.acquire() retires the previous group of the same scope, not other scopes", async () => {
  const { removed, acquire } = fakePool();
  const one = await acquire("run/1");
  await one!.release();
  const other = await acquire("other/1", "other");
  await other!.release();
  const two = await acquire("run/2");
  assert.deepEqual(removed, ["holder-1-run/1"]);
  assert.notEqual(two!.id, one!.id);
  // Back to group 1 later: a new holder, never the removed one.
  await two!.release();
  const again = await acquire("run/1");
  assert.equal(again!.id, "holder-4-run/1");
  assert.deepEqual(removed, ["holder-1-run/1", "holder-3-run/2"]);
});

Deno.test("NetnsPool keeps a retired holder until its last user releases it", async () => {
  const { removed, acquire } = fakePool();
  const inUse = await acquire("run/1");
  const next = await acquire("run/2");
  assert.deepEqual(removed, []);
  await inUse!.release();
  assert.deepEqual(removed, ["holder-1-run/1"]);
  // A second release does not count twice.
  await inUse!.release();
  assert.deepEqual(removed, ["holder-1-run/1"]);
  await next!.release();
});

Deno.test("NetnsPool.acquire() replaces a holder reported gone", async () => {
  const { removed, acquire } = fakePool();
  const first = await acquire("run/1");
  first!.gone();
  await first!.release();
  // The dead holder is cleaned up and never handed out again.
  assert.deepEqual(removed, ["holder-1-run/1"]);
  const second = await acquire("run/1");
  assert.equal(second!.id, "holder-2-run/1");
});

Deno.test("NetnsPool.acquire() remembers a group that cannot have a holder", async () => {
  const { started, acquire } = fakePool({ refuse: true });
  assert.equal(await acquire("run/1"), null);
  assert.equal(await acquire("run/1"), null);
  assert.deepEqual(started, []);
});

Deno.test("NetnsPool.acquire() rejects with the engine's error and tries again next time", async () => {
  const { acquire } = fakePool({ failStarts: 1 });
  await assert.rejects(acquire("run/1"), /engine down/);
  const lease = await acquire("run/1");
  assert.equal(lease?.id, "holder-1-run/1");
});

Deno.test("NetnsPool.forget() drops holders removed elsewhere, and only those", async () => {
  const { pool, removed, acquire } = fakePool();
  const a = await acquire("run/1");
  await a!.release();
  const b = await acquire("x/1", "x");
  await b!.release();
  pool.forget([a!.id]);
  const c = await acquire("run/1");
  assert.notEqual(c!.id, a!.id);
  assert.equal((await acquire("x/1", "x"))!.id, b!.id);
  // Already removed by whoever reported it: not removed a second time.
  assert.deepEqual(removed, []);
});

Deno.test("NetnsPool runs a group unshared once the engine refused to join its holder", async () => {
  const { started, removed, acquire } = fakePool();
  const first = await acquire("run/1");
  first!.refused();
  await first!.release();
  assert.deepEqual(removed, ["holder-1-run/1"]);
  assert.equal(await acquire("run/1"), null);
  assert.equal(started.length, 1);
  // The next group tries again: the refusal may have been the container's.
  assert.notEqual(await acquire("run/2"), null);
});
