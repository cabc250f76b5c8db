/**
 * createOptions() is the one place a container's create request is built:
 * what it sets (or forgets) holds in every trial, check, sandbox and prepare
 * container, so each hardening is checked here without a daemon.
 */
import assert from "node:assert/strict";
import { ConfigError } from "../../errors.ts";
import type { ContainerSpec, Mount } from "../runtime.ts";
import {
  createOptions,
  DEFAULT_READONLY_PATHS,
  gpuDeviceRequests,
  SHARED_NETNS_FILES,
} from "./create_options.ts";

function spec(overrides: Partial<ContainerSpec> = {}): ContainerSpec {
  return {
    image: "busybox:latest",
    cmd: ["sh", "-c", "true"],
    workingDir: "/work",
    env: {},
    user: "1000:1000",
    mounts: [],
    network: "none",
    limits: {
      cpus: 1,
      memoryBytes: 64 * 1024 * 1024,
      pidsLimit: 64,
      shmSizeBytes: 1024 * 1024,
      gpus: null,
    },
    labels: { "ratchet.run": "r" },
    capabilities: "none",
    readOnlyRoot: false,
    ...overrides,
  };
}

Deno.test("gpuDeviceRequests() translates --gpus values like the docker CLI", () => {
  const gpu = [["gpu"]];
  assert.deepEqual(gpuDeviceRequests("all"), [{
    Driver: "",
    Count: -1,
    Capabilities: gpu,
  }]);
  assert.deepEqual(gpuDeviceRequests("2"), [{
    Driver: "",
    Count: 2,
    Capabilities: gpu,
  }]);
  assert.deepEqual(gpuDeviceRequests("device=0"), [
    { Driver: "", Count: 0, DeviceIDs: ["0"], Capabilities: gpu },
  ]);
  assert.deepEqual(
    gpuDeviceRequests('"device=0,2",capabilities=compute,utility'),
    [
      {
        Driver: "",
        Count: 0,
        DeviceIDs: ["0", "2"],
        Capabilities: [["compute", "utility"]],
      },
    ],
  );
  assert.deepEqual(gpuDeviceRequests("driver=nvidia,count=1"), [
    { Driver: "nvidia", Count: 1, Capabilities: gpu },
  ]);
  assert.throws(() => gpuDeviceRequests("bogus=1"), ConfigError);
  assert.throws(() => gpuDeviceRequests("many"), ConfigError);
});

Deno.test("createOptions() hardens every container and clears the entrypoint", () => {
  const options = createOptions(spec({
    env: { A: "1", B: "x=y" },
    user: "1:2",
    limits: {
      cpus: 0.5,
      memoryBytes: null,
      pidsLimit: 9,
      shmSizeBytes: 1024,
      gpus: "all",
    },
  }));
  assert.deepEqual(options.Entrypoint, []);
  assert.deepEqual(options.Cmd, ["sh", "-c", "true"]);
  assert.deepEqual(options.Env, ["A=1", "B=x=y"]);
  assert.equal(options.User, "1:2");
  assert.equal(options.WorkingDir, "/work");
  assert.deepEqual(options.Labels, { "ratchet.run": "r" });
  assert.equal(options.Tty, false);
  assert.equal(options.OpenStdin, false);
  const host = options.HostConfig;
  assert.ok(host);
  assert.deepEqual(host.CapDrop, ["ALL"]);
  assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
  assert.equal(host.Init, true);
  assert.equal(host.NanoCpus, 500_000_000);
  assert.equal(host.PidsLimit, 9);
  assert.equal(host.ShmSize, 1024);
  assert.equal(host.NetworkMode, "none");
  // No engine-side log: output is read only through ratchet's capped attach.
  assert.deepEqual(host.LogConfig, { Type: "none", Config: {} });
  // memory "none": no limit at all.
  assert.equal(host.Memory, undefined);
  assert.equal(host.MemorySwap, undefined);
  assert.equal(host.AutoRemove, undefined);
  assert.equal(host.ReadonlyRootfs, undefined);
  assert.equal(host.DeviceRequests?.[0]?.Count, -1);
});

Deno.test("createOptions() sets no swap beside a memory limit, and no GPUs without --gpus", () => {
  const host = createOptions(spec()).HostConfig!;
  assert.equal(host.Memory, 64 * 1024 * 1024);
  assert.equal(host.MemorySwap, 64 * 1024 * 1024);
  assert.equal(host.DeviceRequests, undefined);
});

Deno.test("createOptions() keeps the engine's default capabilities only for capabilities: default", () => {
  const none = createOptions(spec({ capabilities: "none" })).HostConfig!;
  assert.deepEqual(none.CapDrop, ["ALL"]);
  const dflt = createOptions(spec({ capabilities: "default", user: "0:0" }))
    .HostConfig!;
  assert.equal(dflt.CapDrop, undefined);
  assert.equal(dflt.CapAdd, undefined);
  assert.equal(dflt.Privileged, undefined);
});

Deno.test("createOptions() makes the whole root read-only for readOnlyRoot", () => {
  assert.equal(
    createOptions(spec({ readOnlyRoot: true })).HostConfig!.ReadonlyRootfs,
    true,
  );
});

Deno.test("createOptions() joined to a holder's network makes the files it shares read-only", () => {
  const alone = createOptions(spec()).HostConfig! as {
    ReadonlyPaths?: string[];
  };
  // The engine's defaults stay untouched when the namespace is the container's own.
  assert.equal(alone.ReadonlyPaths, undefined);
  const joined = createOptions(spec(), "container:abc123").HostConfig! as {
    NetworkMode?: string;
    ReadonlyPaths?: string[];
  };
  assert.equal(joined.NetworkMode, "container:abc123");
  assert.deepEqual(joined.ReadonlyPaths, [
    ...DEFAULT_READONLY_PATHS,
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
  ]);
  assert.deepEqual([...SHARED_NETNS_FILES], [
    "/etc/hosts",
    "/etc/resolv.conf",
    "/etc/hostname",
  ]);
  // ReadonlyPaths replaces the engine's list: its defaults must stay in it.
  assert.deepEqual(DEFAULT_READONLY_PATHS, [
    "/proc/bus",
    "/proc/fs",
    "/proc/irq",
    "/proc/sys",
    "/proc/sysrq-trigger",
  ]);
  assert.equal(
    (createOptions(spec({ network: "bridge" })).HostConfig!).NetworkMode,
    "bridge",
  );
});

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
    { type: "tmpfs", source: "ignored", target: "/tmp/ro", readOnly: true },
  ];
  assert.deepEqual(createOptions(spec({ mounts })).HostConfig?.Mounts, [
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
  // Mounts go through HostConfig.Mounts only (a missing bind source fails
  // instead of being created, as HostConfig.Binds would).
  assert.equal(createOptions(spec({ mounts })).HostConfig?.Binds, undefined);
});
