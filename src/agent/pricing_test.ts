import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { costUsd, PRICE_TABLE, priceFor, worstCaseCallUsd } from "./pricing.ts";
import { DEFAULT_MODEL } from "../config/config.ts";

Deno.test("costUsd() prices input, output, cache writes and cache reads separately", () => {
  const sonnet = priceFor("claude-sonnet-4-6");
  const cost = costUsd({
    input: 1000,
    output: 500,
    cache_write: 2000,
    cache_read: 10_000,
  }, sonnet);
  // 1000*3 + 500*15 + 2000*3.75 + 10000*0.3, per million.
  assert.equal(cost, 0.021);
  assert.equal(
    costUsd({ input: 0, output: 0, cache_write: 0, cache_read: 0 }, sonnet),
    0,
  );
});

Deno.test("priceFor() finds dated snapshots by family and knows the default model", () => {
  assert.deepEqual(
    priceFor("claude-sonnet-4-5-20250929"),
    PRICE_TABLE["claude-sonnet-4-5"],
  );
  assert.deepEqual(
    priceFor("claude-haiku-4-5-20251001"),
    PRICE_TABLE["claude-haiku-4-5"],
  );
  assert.ok(priceFor(DEFAULT_MODEL).input > 0);
});

Deno.test("priceFor() prefers the configured prices", () => {
  const custom = { input: 1, output: 2, cache_write: 3, cache_read: 4 };
  assert.deepEqual(
    priceFor("claude-sonnet-4-6", { "claude-sonnet-4-6": custom }),
    custom,
  );
  assert.deepEqual(
    priceFor("my-proxy-model", { "my-proxy-model": custom }),
    custom,
  );
});

Deno.test("priceFor() refuses a model without a price, naming the prices key", () => {
  assert.throws(() => priceFor("claude-unknown-9"), (error: unknown) => {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.key, "prices");
    assert.match(error.message, /claude-unknown-9/);
    return true;
  });
});

Deno.test("worstCaseCallUsd() bills the prompt at the cache-write rate and the whole output allowance", () => {
  const sonnet = priceFor("claude-sonnet-4-6");
  // 30000 bytes -> 10000 tokens, plus 1500 for the built-in tools, at 3.75; 1000 output at 15.
  assert.equal(
    worstCaseCallUsd(30_000, 1000, sonnet),
    (11_500 * 3.75 + 1000 * 15) / 1_000_000,
  );
});
