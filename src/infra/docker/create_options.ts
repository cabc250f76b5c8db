/**
 * The create request of a container: the one place container hardening lives
 * (spec section 5, "Container"). Pure.
 *
 * Every container: the run's limits, no swap, an init process as PID 1 (so
 * orphans are reaped and one SIGKILL ends everything), `HostConfig.Mounts`
 * (a missing bind source fails instead of being created), only the given
 * environment, no log driver (ratchet reads output through its own capped
 * attach), `no-new-privileges` (no setuid binary gains anything), and the
 * image's ENTRYPOINT cleared so `cmd` runs exactly as given. Containers that
 * run the repository's code also drop every capability; the prepare step
 * keeps the engine's default set. A container joined to another's
 * network namespace shares that container's /etc/hosts, /etc/resolv.conf and
 * /etc/hostname, so those are made read-only in it.
 */
import type Docker from "dockerode";
import { parseGpus } from "../../config/gpus.ts";
import type { ContainerSpec, Mount } from "../runtime.ts";

/** The engine's default read-only paths (replaced, not extended, by ReadonlyPaths). */
export const DEFAULT_READONLY_PATHS: readonly string[] = [
  "/proc/bus",
  "/proc/fs",
  "/proc/irq",
  "/proc/sys",
  "/proc/sysrq-trigger",
];

/** Files a container joined to a holder's network namespace shares with it. */
export const SHARED_NETNS_FILES: readonly string[] = [
  "/etc/hosts",
  "/etc/resolv.conf",
  "/etc/hostname",
];

/**
 * Translate a Docker `--gpus` value into the device requests the CLI would
 * send. The parsing is `parseGpus` (src/config/gpus.ts), which also
 * validates the option before anything starts.
 */
export function gpuDeviceRequests(spec: string): Docker.DeviceRequest[] {
  return [parseGpus(spec)];
}

/** The `HostConfig.Mounts` entry for one mount. */
function mountSettings(mount: Mount): Docker.MountSettings {
  switch (mount.type) {
    case "bind":
      return {
        Type: "bind",
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
    case "volume":
      return {
        Type: "volume",
        Source: mount.source,
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
    case "tmpfs":
      return {
        Type: "tmpfs",
        Source: "",
        Target: mount.target,
        ReadOnly: mount.readOnly,
      };
  }
}

/** The create request for `spec`, joined to `networkMode` when given. */
export function createOptions(
  spec: ContainerSpec,
  networkMode: string = spec.network,
): Docker.ContainerCreateOptions {
  const { limits } = spec;
  const hostConfig: Docker.HostConfig = {
    NanoCpus: Math.round(limits.cpus * 1e9),
    PidsLimit: limits.pidsLimit,
    ShmSize: limits.shmSizeBytes,
    NetworkMode: networkMode,
    Mounts: spec.mounts.map(mountSettings),
    Init: true,
    // ratchet reads output only through its own attach (capped at
    // outputCapBytes); the engine's default json-file log has no size cap, so
    // a command flooding stdout would otherwise fill the engine's disk.
    LogConfig: { Type: "none", Config: {} },
    SecurityOpt: ["no-new-privileges"],
  };
  if (spec.capabilities === "none") hostConfig.CapDrop = ["ALL"];
  if (spec.readOnlyRoot) hostConfig.ReadonlyRootfs = true;
  if (networkMode.startsWith("container:")) {
    (hostConfig as { ReadonlyPaths?: string[] }).ReadonlyPaths = [
      ...DEFAULT_READONLY_PATHS,
      ...SHARED_NETNS_FILES,
    ];
  }
  if (limits.memoryBytes !== null) {
    hostConfig.Memory = limits.memoryBytes;
    // Equal to Memory: no swap, so an over-limit trial is OOM-killed instead
    // of slowing down (which would bias timings).
    hostConfig.MemorySwap = limits.memoryBytes;
  }
  if (limits.gpus !== null) {
    hostConfig.DeviceRequests = gpuDeviceRequests(limits.gpus);
  }
  return {
    Image: spec.image,
    Cmd: spec.cmd,
    // Cleared so the exec-form cmd runs as given, whatever ENTRYPOINT the
    // image declares (a non-nil empty list resets it in the engine).
    Entrypoint: [],
    WorkingDir: spec.workingDir,
    Env: Object.entries(spec.env).map(([k, v]) => `${k}=${v}`),
    User: spec.user,
    Labels: spec.labels,
    AttachStdin: false,
    AttachStdout: true,
    AttachStderr: true,
    OpenStdin: false,
    Tty: false,
    HostConfig: hostConfig,
  };
}
