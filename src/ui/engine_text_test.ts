import assert from "node:assert/strict";
import { engineLine, engineModeText } from "./engine_text.ts";

Deno.test("engineLine() names the engine and says whether it shares this machine's files", () => {
  const info = {
    rootless: false,
    serverVersion: "27.1",
    product: "docker",
    endpoint: "unix:///var/run/docker.sock",
  };
  assert.equal(
    engineLine(info, true),
    "Engine: docker 27.1 at unix:///var/run/docker.sock; it shares this machine's files",
  );
  const remote = engineLine(
    { ...info, rootless: true, product: "podman", endpoint: "ssh://gpu" },
    false,
  );
  assert.match(remote, /^Engine: podman 27\.1 at ssh:\/\/gpu, rootless; /);
  assert.match(remote, /does not see this machine's files/);
  assert.match(engineModeText(false), /travel through the Engine API/);
});
