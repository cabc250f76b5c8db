import assert from "node:assert/strict";
import { fromFileForm, toFileForm } from "./file_form.ts";
import { finalizeConfig } from "./finalize.ts";
import { validateValues } from "./schema.ts";

const required = {
  "run-command": "python bench.py",
  direction: "min",
  "metric-name": "time",
  "report-source": "stdout",
};

Deno.test("toFileForm() and fromFileForm() round-trip a config", () => {
  const c = finalizeConfig(
    [
      validateValues({
        ...required,
        mount: ["/a:/b:ro"],
        memory: "none",
        "shm-size": "512m",
        threshold: 1.5,
        harness: ["tests/**"],
        guard: ["accuracy:max", "peak.rss:min:0.1"],
        prices: {
          m: { input: 1, output: 2, cache_write: 3, cache_read: 0.1 },
        },
      }, "f"),
    ],
    "run",
  );
  const back = fromFileForm(JSON.parse(JSON.stringify(toFileForm(c))));
  assert.deepEqual(back, c);
});
