import assert from "node:assert/strict";
import { randomHex } from "./random.ts";

Deno.test("randomHex() gives 2 lowercase hex digits a byte, different each time", () => {
  assert.match(randomHex(2), /^[0-9a-f]{4}$/);
  assert.match(randomHex(16), /^[0-9a-f]{32}$/);
  const seen = new Set(Array.from({ length: 50 }, () => randomHex(8)));
  assert.equal(seen.size, 50);
});
