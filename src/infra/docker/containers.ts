/**
 * One container's life: create it (mapping the engine's refusals to errors
 * that name the cause), put files in, attach, start, wait with the timeout
 * and the abort signal, then read back its state (OOM-kill), the files asked
 * for and its changes, commit it if asked, and remove it (see `runtime.ts`).
 * Also the removal of containers by label.
 */
import type Docker from "dockerode";
import { EnvironmentError, type RatchetError } from "../../errors.ts";
import type { NetnsPool } from "../netns_pool.ts";
import type {
  Collected,
  ContainerSpec,
  FsChange,
  RunOptions,
  RunResult,
} from "../runtime.ts";
import { packTarBytes } from "../tar.ts";
import { type EngineClient, type EngineContext, upstream } from "./_context.ts";
import { hasLabels, labelFilters } from "./_labels.ts";
import { removeQuietly } from "./_removals.ts";
import { CappedBuffer, Demuxer, pump, within } from "./_streams.ts";
import { collectPath, putArchive } from "./archive.ts";
import { createOptions } from "./create_options.ts";
import { isConnectionError, messageOf, statusOf } from "./errors.ts";
import { commit } from "./images.ts";
import { waitContainer } from "./wait.ts";

/** After a container stops, how long its output may take to drain. */
const DRAIN_TIMEOUT_MS = 5_000;

/** The holder a container was to join is gone. */
export class HolderGone extends Error {}

/** `/changes` kinds: 0 modified, 1 added, 2 deleted. */
const CHANGE_KINDS: FsChange["kind"][] = ["modified", "added", "deleted"];

/**
 * Run `spec` in a new container (joined to `networkMode` when given) to
 * completion and remove it: in the background after a normal end, at once
 * after a failure or an abort. HolderGone when the holder to join is gone.
 */
export async function runContainer(
  ctx: EngineContext,
  spec: ContainerSpec,
  options: RunOptions,
  networkMode?: string,
): Promise<RunResult> {
  const { signal } = options;
  signal?.throwIfAborted();
  const container = await createContainer(ctx, spec, networkMode);
  const stdout = new CappedBuffer(options.outputCapBytes);
  const stderr = new CappedBuffer(options.outputCapBytes);
  let stream: NodeJS.ReadableStream | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let killing: Promise<void> | undefined;
  let timedOut = false;
  let removeLater = false;
  const kill = () =>
    container.kill({ signal: "SIGKILL" }).then(() => true, () => false);
  const onAbort = () => void kill();
  try {
    if (options.files !== undefined && options.files.length > 0) {
      try {
        await putArchive(
          ctx.docker,
          container.id,
          "/",
          await packTarBytes(options.files),
        );
      } catch (error) {
        throw upstream(ctx, "putting files into a container", error);
      }
    }
    if (options.content !== undefined) {
      try {
        await putArchive(ctx.docker, container.id, "/", options.content(), {
          timeoutMs: 3_600_000,
          ...(signal === undefined ? {} : { signal }),
        });
      } catch (error) {
        signal?.throwIfAborted();
        throw upstream(ctx, "putting a tree into a container", error);
      }
    }
    try {
      // Attached before start so not a byte of early output is missed.
      stream = await container.attach({
        stream: true,
        stdout: true,
        stderr: true,
        hijack: true,
      });
    } catch (error) {
      throw upstream(ctx, "attaching to a container", error);
    }
    const drained = pump(stream, new Demuxer(stdout, stderr));
    // The previous container's removal overlapped this one's creation; it
    // must not overlap the command (its disk work would be measured).
    await ctx.removals.settled();
    try {
      await container.start();
    } catch (error) {
      if (
        networkMode !== undefined && !isConnectionError(error) &&
        /non running container|no such container|not running/i.test(
          messageOf(error),
        )
      ) {
        throw new HolderGone();
      }
      throw startFailure(ctx, spec, error);
    }
    options.onStart?.((maxBytes) => stderr.head(maxBytes));
    signal?.addEventListener("abort", onAbort, { once: true });
    // An abort that landed before the listener: kill now.
    if (signal?.aborted) await kill();
    if (options.timeoutMs !== null) {
      timer = setTimeout(() => {
        timedOut = true;
        // A kill refused because the container already stopped means it
        // finished in time.
        killing = kill().then((killed) => {
          if (!killed) timedOut = false;
        });
      }, options.timeoutMs);
    }
    let statusCode: number | null;
    try {
      statusCode = await waitContainer(ctx.docker, container.id);
    } catch (error) {
      throw upstream(ctx, "waiting for a container", error);
    }
    clearTimeout(timer);
    await killing;
    signal?.throwIfAborted();
    await within(drained, DRAIN_TIMEOUT_MS);
    let oomKilled = false;
    try {
      const inspected = await container.inspect();
      oomKilled = inspected.State.OOMKilled === true ||
        // Podman (cgroup v1) never sets OOMKilled: a SIGKILL ratchet did
        // not send, under a memory limit, is taken for the OOM killer.
        (await ctx.podman() && statusCode === 137 && !timedOut &&
          spec.limits.memoryBytes !== null);
    } catch (error) {
      throw upstream(ctx, "inspecting a container", error);
    }
    const collected: Record<string, Collected> = {};
    const wants = typeof options.collect === "function"
      ? options.collect({
        stderr: stderr.bytes(),
        stderrTruncated: stderr.truncated,
      })
      : options.collect ?? [];
    for (const want of wants) {
      try {
        collected[want.path] = await collectPath(
          ctx.docker,
          container.id,
          want.path,
          want.maxBytes,
        );
      } catch (error) {
        throw upstream(ctx, `reading ${want.path} from a container`, error);
      }
    }
    let changes: FsChange[] | null = null;
    if (options.changes === true) {
      try {
        const list = await container.changes() as
          | { Path: string; Kind: number }[]
          | null;
        changes = (list ?? []).map((c) => ({
          path: c.Path,
          kind: CHANGE_KINDS[c.Kind] ?? "modified",
        }));
      } catch (error) {
        throw upstream(ctx, "listing a container's changes", error);
      }
    }
    const exitCode = timedOut ? null : statusCode;
    if (options.commit !== undefined && exitCode === 0) {
      const { labels } = options.commit;
      await commit(
        ctx,
        container,
        options.commit.tag,
        typeof labels === "function" ? labels(changes ?? []) : labels,
      );
    }
    removeLater = true;
    return {
      containerId: container.id,
      exitCode,
      stdout: stdout.bytes(),
      stderr: stderr.bytes(),
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      timedOut,
      oomKilled,
      collected,
      changes,
    };
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener("abort", onAbort);
    (stream as { destroy?: () => void } | undefined)?.destroy?.();
    if (removeLater) {
      ctx.removals.later(container);
    } else {
      // A failure or an abort (Ctrl-C): the process may be about to end.
      await removeQuietly(container);
    }
  }
}

/** Create (not start) a container of `spec`; the engine's refusal named as an EnvironmentError. */
export async function createContainer(
  ctx: EngineClient,
  spec: ContainerSpec,
  networkMode?: string,
): Promise<Docker.Container> {
  try {
    return await ctx.docker.createContainer(
      createOptions(spec, networkMode),
    );
  } catch (error) {
    if (isConnectionError(error)) {
      throw upstream(ctx, "creating a container", error);
    }
    const message = messageOf(error);
    const missingMount =
      /(?:bind source path does not exist|no such file or directory)[^/]*(\/\S*)/i
        .exec(message);
    if (missingMount && spec.mounts.some((m) => m.type === "bind")) {
      throw new EnvironmentError(
        `A --mount source does not exist on the engine's host (${ctx.endpoint.url}): ${
          missingMount[1]
        }`,
        {
          hint:
            "--mount sources are paths on the machine Docker runs on; create it there or fix the --mount value.",
          cause: error,
        },
      );
    }
    if (statusOf(error) === 404) {
      throw new EnvironmentError(
        `Image "${spec.image}" is not available: ${message}`,
        {
          hint:
            `Build or pull it (\`docker pull ${spec.image}\`), or leave out --image to use ratchet's default image.`,
          cause: error,
        },
      );
    }
    throw new EnvironmentError(
      `Docker refused to create a container from ${spec.image}: ${message}`,
      {
        hint:
          "Check --cpus, --memory, --pids-limit, --shm-size and --gpus against what this engine supports.",
        cause: error,
      },
    );
  }
}

/** A container the engine would not start: UpstreamError when it did not answer. */
export function startFailure(
  ctx: EngineClient,
  spec: ContainerSpec,
  error: unknown,
): RatchetError {
  if (isConnectionError(error)) {
    return upstream(ctx, "starting a container", error);
  }
  return new EnvironmentError(
    `Docker could not start a container from ${spec.image}: ${
      messageOf(error)
    }`,
    {
      hint: spec.cmd[0] === undefined
        ? "Check the image."
        : `Check that the image provides ${
          spec.cmd[0]
        }, and that --gpus matches this machine.`,
      cause: error,
    },
  );
}

/** Remove every container carrying all `labels`, running or not. */
export async function removeContainers(
  ctx: EngineContext,
  netns: NetnsPool,
  labels: Record<string, string>,
): Promise<number> {
  await ctx.removals.settled();
  let removed = 0;
  try {
    const list = (await ctx.docker.listContainers({
      all: true,
      filters: labelFilters(labels),
    })).filter((info) => hasLabels(info.Labels, labels));
    for (const info of list) {
      try {
        await ctx.docker.getContainer(info.Id).remove({
          force: true,
          v: true,
        });
        netns.forget([info.Id]);
        removed++;
      } catch (error) {
        // Already gone (removed concurrently) is what we wanted.
        if (statusOf(error) !== 404) throw error;
      }
    }
  } catch (error) {
    throw upstream(ctx, "removing containers", error);
  }
  return removed;
}
