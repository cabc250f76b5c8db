import assert from "node:assert/strict";
import { checkUntrusted } from "./trust.ts";
import { ConfigError } from "../errors.ts";

Deno.test("checkUntrusted() refuses trust-gated keys naming --trust-config", () => {
  for (
    const key of [
      "network",
      "image",
      "dockerfile",
      "prepare-command",
      "mount",
      "pass-env",
      "gpus",
      // Spec section 3 (issue 13.4, 16.7): one side's writes reach the
      // other through a cache volume; prices of 0 defeat --max-cost-usd.
      "cache",
      "prices",
    ]
  ) {
    assert.throws(
      () => checkUntrusted({ [key]: "x" }, "ratchet.jsonc"),
      (e: unknown) =>
        e instanceof ConfigError && e.key === key &&
        e.message.includes(`"${key}"`) &&
        (e.hint ?? "").includes("--trust-config"),
    );
  }
});

Deno.test("checkUntrusted() refuses huge resource limits from a repo file", () => {
  assert.throws(() => checkUntrusted({ memory: "none" }, "r"), /memory/);
  assert.throws(() => checkUntrusted({ memory: "1t" }, "r"), /memory/);
  assert.throws(() => checkUntrusted({ cpus: 512 }, "r"), /cpus/);
  assert.throws(() => checkUntrusted({ "pids-limit": 1000000 }, "r"), /pids/);
  assert.throws(
    () => checkUntrusted({ "max-file-size": "none" }, "r"),
    /"max-file-size": "none" from r is above the untrusted ceiling of 1g/,
  );
  checkUntrusted({ memory: "8g", cpus: 4, trials: 3 }, "r");
  checkUntrusted({ "max-file-size": "1g" }, "r");
});
