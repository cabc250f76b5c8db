/**
 * The container spec the runtime tests start from: busybox running `sh -c`
 * as root with no mounts, no network, no capabilities and small limits,
 * labelled `ratchet.test=<testId>`. Imports nothing that reaches for Docker,
 * so unit tests may use it too.
 */
import type { ContainerSpec } from "../../src/infra/runtime.ts";

const MiB = 1024 * 1024;

/** A busybox spec running `script`, labelled for `testId`, with `overrides` laid over it. */
export function containerSpec(
  testId: string,
  script: string,
  overrides: Partial<ContainerSpec> = {},
): ContainerSpec {
  return {
    image: "busybox:latest",
    cmd: ["sh", "-c", script],
    workingDir: "/",
    env: {},
    user: "0:0",
    mounts: [],
    network: "none",
    limits: {
      cpus: 1,
      memoryBytes: 256 * MiB,
      pidsLimit: 256,
      shmSizeBytes: 64 * MiB,
      gpus: null,
    },
    labels: { "ratchet.test": testId },
    capabilities: "none",
    readOnlyRoot: false,
    ...overrides,
  };
}
