import assert from "node:assert/strict";
import { REPORT_STREAMS, reportFileOf } from "./report_source.ts";

Deno.test("reportFileOf() names a file for anything but stdout, stderr and wall", () => {
  assert.deepEqual([...REPORT_STREAMS], ["stdout", "stderr", "wall"]);
  for (const s of REPORT_STREAMS) assert.equal(reportFileOf(s), null);
  assert.equal(reportFileOf("out/score.json"), "out/score.json");
  assert.equal(reportFileOf("Wall"), "Wall");
});
