import assert from "node:assert/strict";
import { parseGpus } from "./gpus.ts";
import { ConfigError } from "../errors.ts";

Deno.test("parseGpus() reads the docker CLI's --gpus forms", () => {
  const gpu = [["gpu"]];
  assert.deepEqual(parseGpus("all"), {
    Driver: "",
    Count: -1,
    Capabilities: gpu,
  });
  assert.deepEqual(parseGpus("2"), { Driver: "", Count: 2, Capabilities: gpu });
  assert.deepEqual(parseGpus("device=0,1"), {
    Driver: "",
    Count: 0,
    DeviceIDs: ["0", "1"],
    Capabilities: gpu,
  });
  assert.deepEqual(parseGpus('"device=0,2",capabilities=compute,utility'), {
    Driver: "",
    Count: 0,
    DeviceIDs: ["0", "2"],
    Capabilities: [["compute", "utility"]],
  });
  assert.deepEqual(parseGpus("driver=nvidia,count=all"), {
    Driver: "nvidia",
    Count: -1,
    Capabilities: gpu,
  });
});

Deno.test("parseGpus() refuses what the engine would not understand, naming it", () => {
  const cases: [string, RegExp][] = [
    ["many", /"many" is not understood/],
    ["bogus=1", /option "bogus"/],
    ["count=two", /count "two"/],
    ["count=0", /count "0"/],
    ["device=", /"device" has no value/],
    ["", /empty/],
    [" , ", /empty/],
  ];
  for (const [spec, message] of cases) {
    assert.throws(() => parseGpus(spec), (e: unknown) => {
      assert.ok(e instanceof ConfigError, `${spec}: ${e}`);
      assert.match(e.message, message);
      assert.match(e.message, /--gpus/);
      assert.equal(e.key, "gpus");
      return true;
    });
  }
});
