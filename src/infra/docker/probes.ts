/**
 * Probes: throwaway containers that answer a question about the engine's
 * host by running `test -e` with a directory bound at /probe.
 */
import { EnvironmentError } from "../../errors.ts";
import type { Mount, RunResult } from "../runtime.ts";
import type { EngineContext } from "./_context.ts";
import { runContainer } from "./containers.ts";

/**
 * Whether the engine has this machine's `dir` at the same path (see the
 * port): a container binding it must find a file written there just now
 * (Podman creates a missing bind source instead of refusing it).
 */
export async function seesPath(
  ctx: EngineContext,
  dir: string,
  image: string,
): Promise<boolean> {
  const token = `ratchet-probe-${crypto.randomUUID()}`;
  await Deno.writeTextFile(`${dir}/${token}`, "");
  try {
    return await probe(ctx, image, dir, `test -e /probe/${token}`);
  } finally {
    await Deno.remove(`${dir}/${token}`).catch(() => {});
  }
}

/** EnvironmentError naming the first bind source missing on the engine's host. */
export async function checkMounts(
  ctx: EngineContext,
  mounts: readonly Mount[],
  image: string,
): Promise<void> {
  for (const m of mounts) {
    if (m.type !== "bind") continue;
    const slash = m.source.replace(/\/+$/, "").lastIndexOf("/");
    const parent = slash <= 0 ? "/" : m.source.slice(0, slash);
    const name = m.source.replace(/\/+$/, "").slice(slash + 1);
    // The parent is bound and the source looked for in it: an engine that
    // creates missing bind sources (Podman) cannot fake the answer.
    const found = name === "" ||
      await probe(ctx, image, parent, `test -e "/probe/$1"`, [name]);
    if (!found) {
      throw new EnvironmentError(
        `--mount ${m.source}:${m.target}: ${m.source} does not exist on the engine's host (${ctx.endpoint.url})`,
        {
          hint:
            "A --mount source is a path on the machine the engine runs on; create it there, or fix the path.",
        },
      );
    }
  }
}

/** Run `script` in a throwaway container with `dir` bound read-only at /probe: exit 0? */
async function probe(
  ctx: EngineContext,
  image: string,
  dir: string,
  script: string,
  args: string[] = [],
): Promise<boolean> {
  let result: RunResult;
  try {
    result = await runContainer(ctx, {
      image,
      cmd: ["sh", "-c", script, "ratchet-probe", ...args],
      workingDir: "/",
      env: {},
      user: "0:0",
      mounts: [{
        type: "bind",
        source: dir,
        target: "/probe",
        readOnly: true,
      }],
      network: "none",
      limits: {
        cpus: 1,
        memoryBytes: 64 * 1024 ** 2,
        pidsLimit: 16,
        shmSizeBytes: 1024 ** 2,
        gpus: null,
      },
      labels: { "ratchet.role": "probe" },
      capabilities: "none",
      readOnlyRoot: true,
    }, { timeoutMs: 60_000, outputCapBytes: 4096 });
  } catch (error) {
    if (error instanceof EnvironmentError) return false;
    throw error;
  }
  return result.exitCode === 0;
}
