import assert from "node:assert/strict";
import { GroupRecorder } from "./security_support.ts";

Deno.test("GroupRecorder.add() records a case without a kind as an attack and keeps a given kind", () => {
  const recorder = new GroupRecorder("g", {
    title: "t",
    about: "a",
    test: "x",
  });
  const base = {
    attack: "a",
    vector: "trial" as const,
    layer: "l",
    recorded: "r",
    held: true,
  };
  recorder.add({ id: "one", ...base });
  recorder.add({ id: "two", kind: "control", ...base });
  recorder.add({ id: "three", kind: "limit", ...base, held: false });
  assert.deepEqual(recorder.scenarios.map((s) => [s.id, s.kind]), [
    ["one", "attack"],
    ["two", "control"],
    ["three", "limit"],
  ]);
  assert.equal(recorder.failures(), "three (limit): a → r");
});
