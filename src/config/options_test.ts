import assert from "node:assert/strict";
import { OPTIONS } from "./options.ts";

Deno.test("OPTIONS names every flag of spec section 3", () => {
  const names = OPTIONS.map((o) => o.name).sort();
  assert.deepEqual(
    names,
    [
      "run-command",
      "direction",
      "metric-name",
      "report-source",
      "trials",
      "iterations",
      "threshold",
      "patience",
      "min-improvement",
      "max-consecutive-crashes",
      "trial-timeout-seconds",
      "critic",
      "instructions",
      "instructions-file",
      "editable",
      "harness",
      "scratch",
      "image",
      "dockerfile",
      "prepare-command",
      "setup-command",
      "check-command",
      "metric-pattern",
      "guard",
      "decision",
      "confidence",
      "min-effect",
      "max-trials",
      "model",
      "max-cost-usd",
      "max-tool-calls",
      "bash-timeout-seconds",
      "cpus",
      "memory",
      "pids-limit",
      "shm-size",
      "gpus",
      "network",
      "mount",
      "pass-env",
      "cache",
      // The file-size cap of spec section 6 (the spec leaves its name open).
      "max-file-size",
    ].sort(),
  );
});
