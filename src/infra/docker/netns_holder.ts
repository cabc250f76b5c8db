/**
 * Containers that share a network namespace (`netns_pool.ts` keeps the
 * bookkeeping): the sleeping holder container that owns a group's namespace,
 * and a run that joins it, falling back to a namespace of its own.
 */
import type Docker from "dockerode";
import { EnvironmentError } from "../../errors.ts";
import type { NetnsGroup, NetnsPool } from "../netns_pool.ts";
import type { ContainerSpec, RunOptions, RunResult } from "../runtime.ts";
import { type EngineClient, type EngineContext, upstream } from "./_context.ts";
import { removeQuietly } from "./_removals.ts";
import { HolderGone, runContainer } from "./containers.ts";
import { createOptions } from "./create_options.ts";
import { isConnectionError } from "./errors.ts";

/**
 * How long a network-namespace holder sleeps. It is removed when its group
 * ends; the lifetime only bounds one left behind by a killed ratchet (a group
 * that outlives it gets a new holder).
 */
const HOLDER_LIFETIME_S = 3600;

/**
 * Run `spec` joined to `group`'s holder; a holder found dead is replaced
 * once, then the container gets a namespace of its own, as it does when the
 * engine or the image cannot hold one.
 */
export async function runJoined(
  ctx: EngineContext,
  netns: NetnsPool,
  group: NetnsGroup,
  spec: ContainerSpec,
  options: RunOptions,
): Promise<RunResult> {
  for (let attempt = 1;; attempt++) {
    options.signal?.throwIfAborted();
    const lease = await netns.acquire(
      group,
      () => startHolder(ctx, spec, group),
    );
    if (lease === null) return runContainer(ctx, spec, options);
    try {
      return await runContainer(ctx, spec, options, `container:${lease.id}`);
    } catch (error) {
      if (error instanceof HolderGone) {
        lease.gone();
        if (attempt >= 2) return await runContainer(ctx, spec, options);
        continue;
      }
      // An engine that cannot join namespaces refuses the create or the
      // start: run unshared. A fault of the container itself (a missing
      // mount source) fails the same way again, and that error is thrown.
      if (!(error instanceof EnvironmentError)) throw error;
      lease.refused();
      options.signal?.throwIfAborted();
      return await runContainer(ctx, spec, options);
    } finally {
      await lease.release();
    }
  }
}

/**
 * Start the sleeping container that owns `group`'s network namespace: from
 * the trial image (any image has a `sleep`; one without runs unshared), as
 * the trial's user, as hardened as a trial, labelled like the group's
 * containers so cleanup by run finds it. Null when the engine or image
 * refuses it; an engine that stops answering is an UpstreamError.
 */
async function startHolder(
  ctx: EngineClient,
  spec: ContainerSpec,
  group: NetnsGroup,
): Promise<string | null> {
  // Not a trial: without iter/trial labels, lookups of a run's trial
  // containers do not find it.
  const labels: Record<string, string> = Object.fromEntries(
    Object.entries(spec.labels).filter(([k]) =>
      k !== "ratchet.iter" && k !== "ratchet.trial"
    ),
  );
  labels["ratchet.netns"] = group.key;
  const options = createOptions({
    ...spec,
    image: group.image ?? spec.image,
    cmd: ["sleep", String(HOLDER_LIFETIME_S)],
    workingDir: "/",
    env: {},
    mounts: [],
    network: "none",
    labels,
    capabilities: "none",
    readOnlyRoot: false,
    limits: {
      ...spec.limits,
      memoryBytes: spec.limits.memoryBytes === null ? null : 16 * 1024 ** 2,
      pidsLimit: 4,
      gpus: null,
    },
  });
  // No init: an image without `sleep` then fails the start at once, which
  // is remembered, instead of leaving a stopped holder for every container
  // to discover.
  options.HostConfig = { ...options.HostConfig, Init: false };
  let container: Docker.Container;
  try {
    container = await ctx.docker.createContainer(options);
  } catch (error) {
    if (isConnectionError(error)) {
      throw upstream(ctx, "creating a network holder", error);
    }
    return null;
  }
  try {
    await container.start();
  } catch (error) {
    await removeQuietly(container);
    if (isConnectionError(error)) {
      throw upstream(ctx, "starting a network holder", error);
    }
    return null;
  }
  return container.id;
}
