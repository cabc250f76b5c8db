/**
 * Images: look up, pull, build (from a Dockerfile, or one layer from a tar),
 * commit a container, list and remove by label. A daemon that does not
 * answer is an EnvironmentError from lookups, pulls and builds (they run at
 * start) and an UpstreamError from the rest.
 */
import type Docker from "dockerode";
import { Readable } from "node:stream";
import { EnvironmentError } from "../../errors.ts";
import type { ProgressSink } from "../runtime.ts";
import {
  atStart,
  type EngineClient,
  type EngineContext,
  upstream,
} from "./_context.ts";
import { hasLabels, labelFilters } from "./_labels.ts";
import { removeQuietly } from "./_removals.ts";
import { followProgress, ProgressLines, untilAborted } from "./_streams.ts";
import { putArchive } from "./archive.ts";
import { buildContext } from "./build_context.ts";
import { isConnectionError, messageOf, statusOf } from "./errors.ts";

/** Name under which the Dockerfile text travels in a build context with files. */
const CONTEXT_DOCKERFILE = ".ratchet.Dockerfile";

/** Split `repo:tag` (a registry port's colon is not a tag). */
function repoAndTag(name: string): { repo: string; tag: string } {
  const colon = name.lastIndexOf(":");
  return colon > name.lastIndexOf("/")
    ? { repo: name.slice(0, colon), tag: name.slice(colon + 1) }
    : { repo: name, tag: "latest" };
}

/** An image name without the default registry Podman spells out. */
export function shortName(name: string): string {
  return name.replace(/^(docker\.io\/library\/|localhost\/)/, "");
}

/** A `LABEL` instruction for `docker commit`'s `changes`. */
function labelChange(key: string, value: string): string {
  return `LABEL ${JSON.stringify(key)}=${JSON.stringify(value)}`;
}

/** Whether `name` exists on the engine. */
export async function hasImage(
  ctx: EngineClient,
  name: string,
): Promise<boolean> {
  return (await inspectImage(ctx, name)) !== null;
}

/** The image's id and labels, or null when the engine has no `name`. */
export async function inspectImage(
  ctx: EngineClient,
  name: string,
): Promise<{ id: string; labels: Record<string, string> } | null> {
  try {
    const image = await ctx.docker.getImage(name).inspect();
    return { id: image.Id, labels: image.Config?.Labels ?? {} };
  } catch (error) {
    if (statusOf(error) === 404) return null;
    throw atStart(ctx, `checking for image ${name}`, error);
  }
}

/** Pull `name`; EnvironmentError naming it when the registry refuses or is unreachable. */
export async function pullImage(
  ctx: EngineClient,
  name: string,
  options: { onProgress?: ProgressSink; signal?: AbortSignal } = {},
): Promise<void> {
  const lines = new ProgressLines(options.onProgress);
  const fail = (why: string, cause?: unknown) =>
    new EnvironmentError(`Image "${name}" could not be pulled: ${why}`, {
      hint:
        `Build it (\`docker build -t ${name} .\`) or pull it (\`docker pull ${name}\`) first, or leave out --image to use ratchet's default image.`,
      cause,
    });
  options.signal?.throwIfAborted();
  let stream: NodeJS.ReadableStream;
  try {
    stream = await untilAborted(
      ctx.docker.pull(
        name,
        options.signal === undefined ? {} : { abortSignal: options.signal },
      ),
      options.signal,
    );
  } catch (error) {
    options.signal?.throwIfAborted();
    if (isConnectionError(error)) {
      throw atStart(ctx, `pulling ${name}`, error);
    }
    throw fail(messageOf(error), error);
  }
  try {
    await followProgress(stream, lines, options.signal);
  } catch (error) {
    options.signal?.throwIfAborted();
    throw fail(messageOf(error), error);
  }
  if (lines.error !== null) throw fail(lines.error);
}

/**
 * Build `dockerfile` tagged `tag`. With `contextDir` the directory is the
 * build context (minus `.ratchet/` and what `.dockerignore` excludes), sent
 * as a tar, and the Dockerfile text travels beside it under a name the
 * context excludes; without one the context is the Dockerfile alone. A
 * failed build is an EnvironmentError carrying the last lines of the log.
 */
export async function buildImage(ctx: EngineClient, options: {
  dockerfile: string;
  contextDir: string | null;
  tag: string;
  labels?: Record<string, string>;
  onProgress?: ProgressSink;
  signal?: AbortSignal;
}): Promise<void> {
  const lines = new ProgressLines(options.onProgress);
  const dockerfileName = options.contextDir === null
    ? "Dockerfile"
    : CONTEXT_DOCKERFILE;
  const context = Readable.from(
    buildContext(options.contextDir, dockerfileName, options.dockerfile),
  );
  const fail = (why: string, cause?: unknown) =>
    new EnvironmentError(
      `Building image ${options.tag} failed: ${why}` +
        (lines.tail.length > 0
          ? `\nLast lines of the build log:\n${lines.tail.join("\n")}`
          : ""),
      {
        hint:
          "Fix the Dockerfile (or pass --image NAME of an image you built yourself).",
        cause,
      },
    );
  options.signal?.throwIfAborted();
  let stream: NodeJS.ReadableStream;
  try {
    stream = await untilAborted(
      ctx.docker.buildImage(context, {
        t: options.tag,
        dockerfile: dockerfileName,
        labels: options.labels ?? {},
        rm: true,
        forcerm: true,
        // Cutting the request off makes the engine cancel the build.
        ...(options.signal === undefined
          ? {}
          : { abortSignal: options.signal }),
      }),
      options.signal,
    );
  } catch (error) {
    context.destroy();
    options.signal?.throwIfAborted();
    if (isConnectionError(error)) {
      throw atStart(ctx, `building ${options.tag}`, error);
    }
    throw fail(messageOf(error), error);
  }
  try {
    await followProgress(stream, lines, options.signal);
  } catch (error) {
    options.signal?.throwIfAborted();
    throw fail(messageOf(error), error);
  }
  if (lines.error !== null) throw fail(lines.error);
  if (!(await hasImage(ctx, options.tag))) {
    throw fail("the engine reported no error but the image does not exist");
  }
}

/**
 * One layer on `base`: a container is created (never started), the tar
 * `content` is extracted into it at "/" by the engine (owners and modes as
 * the tar says), and it is committed as `tag` with `labels`.
 */
export async function buildLayer(ctx: EngineClient, options: {
  base: string;
  content: AsyncIterable<Uint8Array>;
  tag: string;
  labels: Record<string, string>;
  signal?: AbortSignal;
}): Promise<void> {
  options.signal?.throwIfAborted();
  let container: Docker.Container;
  try {
    // A command is needed to create a container from an image without one;
    // the layer's containers always set their own.
    container = await ctx.docker.createContainer({
      Image: options.base,
      Cmd: ["/bin/sh"],
      Entrypoint: [],
      Labels: options.labels,
      HostConfig: {
        NetworkMode: "none",
        LogConfig: { Type: "none", Config: {} },
      },
    });
  } catch (error) {
    throw upstream(ctx, `creating a layer from ${options.base}`, error);
  }
  try {
    await putArchive(ctx.docker, container.id, "/", options.content, {
      // A large tree takes a while; the signal still stops it at once.
      timeoutMs: 3_600_000,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    options.signal?.throwIfAborted();
    await commit(ctx, container, options.tag, options.labels);
  } catch (error) {
    options.signal?.throwIfAborted();
    throw upstream(ctx, `building the layer ${options.tag}`, error);
  } finally {
    await removeQuietly(container);
  }
}

/** Commit `container` as the image `tag` carrying `labels`. */
export async function commit(
  ctx: EngineClient,
  container: Docker.Container,
  tag: string,
  labels: Record<string, string>,
): Promise<void> {
  const { repo, tag: version } = repoAndTag(tag);
  try {
    await container.commit({
      repo,
      tag: version,
      pause: false,
      // Labels make the image findable for cleanup (by run, by role).
      changes: Object.entries(labels).map(([k, v]) => labelChange(k, v)),
    });
  } catch (error) {
    throw upstream(ctx, `committing image ${tag}`, error);
  }
}

/** The images carrying all `labels`, by short name. */
export async function listImages(
  ctx: EngineClient,
  labels: Record<string, string>,
): Promise<
  { name: string; created: number; labels: Record<string, string> }[]
> {
  try {
    const list = (await ctx.docker.listImages({
      filters: labelFilters(labels),
    })).filter((image) => hasLabels(image.Labels, labels));
    return list.map((image) => ({
      name: shortName(
        (image.RepoTags ?? []).find((t) => t !== "<none>:<none>") ??
          image.Id,
      ),
      created: image.Created,
      labels: image.Labels ?? {},
    }));
  } catch (error) {
    throw upstream(ctx, "listing images", error);
  }
}

/** Remove image `name`; an image that is already gone is fine. */
export async function removeImage(
  ctx: EngineContext,
  name: string,
): Promise<void> {
  await ctx.removals.settled();
  try {
    await ctx.docker.getImage(name).remove({ noprune: false });
  } catch (error) {
    if (statusOf(error) === 404) return;
    throw upstream(ctx, `removing image ${name}`, error);
  }
}

/** Remove every image carrying all `labels`; returns how many. */
export async function removeImages(
  ctx: EngineContext,
  labels: Record<string, string>,
): Promise<number> {
  const images = await listImages(ctx, labels);
  let first: unknown = null;
  for (const image of images) {
    // One image the engine refuses does not keep the others.
    await removeImage(ctx, image.name).catch((e) => (first ??= e));
  }
  if (first !== null) throw first;
  return images.length;
}
