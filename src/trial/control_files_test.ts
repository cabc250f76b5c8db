import assert from "node:assert/strict";
import { reportPathOf } from "./control_files.ts";

Deno.test("reportPathOf() names the report file only for a path --report-source", () => {
  assert.equal(reportPathOf({ reportSource: "stdout" }), null);
  assert.equal(reportPathOf({ reportSource: "stderr" }), null);
  assert.equal(reportPathOf({ reportSource: "wall" }), null);
  assert.equal(reportPathOf({ reportSource: "./out//r.json" }), "out/r.json");
});
