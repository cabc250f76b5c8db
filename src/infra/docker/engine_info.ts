/**
 * What the engine is: version, Docker or Podman, rootless or not, where it
 * keeps its data. Asked once per runtime (`DockerRuntime.info()` keeps the
 * answer); API differences depend on it.
 */
import { EnvironmentError, UpstreamError } from "../../errors.ts";
import type { EngineInfo } from "../runtime.ts";
import type { EngineClient } from "./_context.ts";
import { within } from "./_streams.ts";
import { messageOf } from "./errors.ts";

/** How long `info()` waits for an answer before calling the engine unreachable. */
const INFO_TIMEOUT_MS = 15_000;

/** Engine facts; EnvironmentError (exit 3) with a hint when nothing answers. */
export async function engineInfo(ctx: EngineClient): Promise<EngineInfo> {
  let info: {
    ServerVersion?: string;
    SecurityOptions?: string[];
    DockerRootDir?: string;
  };
  let components: { Name?: string }[] = [];
  try {
    // A tcp endpoint that drops packets would otherwise hang forever.
    const answer = await within(
      Promise.all([ctx.docker.info(), ctx.docker.version()]),
      INFO_TIMEOUT_MS,
    );
    if (answer === "timeout") {
      throw new Error(`no answer within ${INFO_TIMEOUT_MS / 1000} s`);
    }
    info = answer[0];
    components = (answer[1] as { Components?: { Name?: string }[] })
      .Components ?? [];
  } catch (error) {
    throw new EnvironmentError(
      `Docker is not reachable at ${ctx.endpoint.url} (${ctx.endpoint.source}): ${
        messageOf(error)
      }`,
      {
        hint: (error as { code?: string } | null)?.code === "EACCES"
          ? `You may not use ${ctx.endpoint.url}: add your user to the docker group (then log in again), or use rootless Docker.`
          : ctx.endpoint.hint,
        cause: error,
      },
    );
  }
  // Rootless Docker and rootless Podman both report "name=rootless".
  const rootless = (info.SecurityOptions ?? []).some((option) =>
    option.split(",").includes("name=rootless")
  );
  const podman = components.some((c) => /podman/i.test(c.Name ?? ""));
  return {
    rootless,
    serverVersion: info.ServerVersion ?? "unknown",
    product: podman ? "podman" : "docker",
    endpoint: `${ctx.endpoint.url} (${ctx.endpoint.source})`,
    dataRoot: info.DockerRootDir ?? null,
  };
}

/**
 * Whether the engine is Podman, whose API differs (see the README), from
 * `info` (the runtime's cached `info()`).
 */
export async function isPodman(
  info: () => Promise<EngineInfo>,
): Promise<boolean> {
  try {
    return (await info()).product === "podman";
  } catch (error) {
    // info() speaks for start time (exit 3); here a run is going (exit 4).
    throw new UpstreamError(
      error instanceof Error ? error.message : String(error),
      {
        hint: "Make sure Docker is running, then `ratchet resume`.",
        cause: error,
      },
    );
  }
}
