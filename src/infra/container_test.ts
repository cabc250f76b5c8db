/**
 * createOptions() is the one place the container's create request is built;
 * a mount it marks writable is writable in every trial and sandbox, so what
 * it does with `readOnly` is checked here, without a daemon.
 */
import assert from "node:assert/strict";
import { createOptions } from "./container.ts";
import type { ContainerSpec, Mount } from "./runtime.ts";

function spec(mounts: Mount[]): ContainerSpec {
  return {
    image: "busybox:latest",
    cmd: ["true"],
    workingDir: "/work",
    env: {},
    user: "1000:1000",
    mounts,
    network: "none",
    limits: {
      cpus: 1,
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 64,
      shmSizeBytes: 1024 * 1024,
      gpus: null,
    },
    labels: {},
  };
}

Deno.test("createOptions() passes each mount's readOnly to the engine, binds included", () => {
  const mounts: Mount[] = [
    { type: "bind", source: "/h/tree", target: "/work", readOnly: false },
    {
      type: "bind",
      source: "/h/harness",
      target: "/work/score.sh",
      readOnly: true,
    },
    { type: "volume", source: "vol", target: "/cache", readOnly: true },
    { type: "volume", source: "vol2", target: "/data", readOnly: false },
    { type: "tmpfs", source: "", target: "/tmp/ro", readOnly: true },
  ];
  assert.deepEqual(createOptions(spec(mounts)).HostConfig?.Mounts, [
    { Type: "bind", Source: "/h/tree", Target: "/work", ReadOnly: false },
    {
      Type: "bind",
      Source: "/h/harness",
      Target: "/work/score.sh",
      ReadOnly: true,
    },
    { Type: "volume", Source: "vol", Target: "/cache", ReadOnly: true },
    { Type: "volume", Source: "vol2", Target: "/data", ReadOnly: false },
    { Type: "tmpfs", Source: "", Target: "/tmp/ro", ReadOnly: true },
  ]);
});
