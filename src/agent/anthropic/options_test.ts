import assert from "node:assert/strict";
import { clientTuningFromEnv } from "./options.ts";
import { UsageError } from "../../errors.ts";

Deno.test("clientTuningFromEnv() is empty when no override is set", () => {
  assert.deepEqual(clientTuningFromEnv({}), {});
  assert.deepEqual(clientTuningFromEnv({ RATCHET_API_TIMEOUT_MS: "" }), {});
});

Deno.test("clientTuningFromEnv() reads the timeouts and the retry count", () => {
  assert.deepEqual(
    clientTuningFromEnv({
      RATCHET_API_TIMEOUT_MS: "1500",
      RATCHET_API_IDLE_TIMEOUT_MS: "800",
      RATCHET_API_MAX_RETRIES: "0",
    }),
    { timeoutMs: 1500, idleTimeoutMs: 800, maxRetries: 0 },
  );
});

Deno.test("clientTuningFromEnv() refuses a value that is not a whole number in range, naming it", () => {
  for (
    const [name, value] of [
      ["RATCHET_API_TIMEOUT_MS", "fast"],
      ["RATCHET_API_TIMEOUT_MS", "0"],
      ["RATCHET_API_IDLE_TIMEOUT_MS", "1.5"],
      ["RATCHET_API_MAX_RETRIES", "-1"],
      ["RATCHET_API_MAX_RETRIES", "1000"],
    ] as const
  ) {
    assert.throws(
      () => clientTuningFromEnv({ [name]: value }),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes(name) &&
        e.message.includes(`"${value}"`),
    );
  }
});
