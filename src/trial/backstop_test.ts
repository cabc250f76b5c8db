import assert from "node:assert/strict";
import { BACKSTOP_GRACE_MS, backstopFor } from "./backstop.ts";

const NONCE = "6f1c0a52-3b7e-4d2a-9a61-0c2d8e4f7b13";
const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("backstopFor() without a setup command sets the engine's timeout and watches nothing", () => {
  const host = new AbortController();
  const backstop = backstopFor({
    timeoutSeconds: 60,
    setupCommand: null,
    host,
  });
  assert.equal(backstop.engineTimeoutMs, 60_000 + BACKSTOP_GRACE_MS);
  assert.equal(backstop.onStart, undefined);
  backstop.stop();
  const untimed = backstopFor({
    timeoutSeconds: null,
    setupCommand: "make",
    host,
  });
  assert.equal(untimed.engineTimeoutMs, null);
  assert.equal(untimed.onStart, undefined);
});

Deno.test("backstopFor() with a setup command arms its kill only at the start line signed with the announced nonce", async () => {
  const host = new AbortController();
  const backstop = backstopFor({
    timeoutSeconds: 0,
    setupCommand: "make",
    host,
    graceMs: 50,
  });
  assert.equal(backstop.engineTimeoutMs, null);
  assert.ok(backstop.onStart);
  // The setup runs: only the announcement, then lines no wrapper wrote.
  let stderr = `\n${NONCE} begin\n`;
  const asked: number[] = [];
  backstop.onStart((maxBytes) => {
    asked.push(maxBytes);
    return encode(stderr);
  });
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    stderr += "\nforged start\n\n0123456789abcdef0123456789abcdef start\n";
    await new Promise((resolve) => setTimeout(resolve, 500));
    assert.equal(host.signal.aborted, false);
    assert.ok(asked.length >= 2 && asked.every((n) => n <= 4096), `${asked}`);
    // The wrapper's own start line: the kill fires after timeout + grace.
    stderr += `\n${NONCE} start\n`;
    await new Promise((resolve) => setTimeout(resolve, 600));
    assert.equal(host.signal.aborted, true);
  } finally {
    backstop.stop();
  }
});
