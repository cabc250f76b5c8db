import assert from "node:assert/strict";
import { parseMount, parseSize } from "./value_text.ts";

Deno.test("parseSize() reads byte counts and k/m/g/t suffixes", () => {
  assert.equal(parseSize("4g"), 4 * 1024 ** 3);
  assert.equal(parseSize("512m"), 512 * 1024 ** 2);
  assert.equal(parseSize("1.5G"), 1.5 * 1024 ** 3);
  assert.equal(parseSize("2048"), 2048);
  assert.equal(parseSize("lots"), null);
  assert.equal(parseSize("4x"), null);
  assert.equal(parseSize("0"), null);
});

Deno.test("parseMount() reads SRC:DST and SRC:DST:ro", () => {
  assert.deepEqual(parseMount("/data:/data:ro"), {
    source: "/data",
    target: "/data",
    readOnly: true,
  });
  assert.deepEqual(parseMount("w:/weights"), {
    source: "w",
    target: "/weights",
    readOnly: false,
  });
  assert.equal(parseMount("/data"), null);
  assert.equal(parseMount("/a:relative"), null);
  assert.equal(parseMount("/a:/b:xx"), null);
});
