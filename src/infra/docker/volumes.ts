/** Named volumes (`--cache`): create one, remove by label. */
import { type EngineClient, type EngineContext, upstream } from "./_context.ts";
import { hasLabels, labelFilters } from "./_labels.ts";
import { statusOf } from "./errors.ts";

/** Create a named volume (a no-op when it exists). */
export async function createVolume(
  ctx: EngineClient,
  name: string,
  labels: Record<string, string>,
): Promise<void> {
  try {
    await ctx.docker.createVolume({ Name: name, Labels: labels });
  } catch (error) {
    throw upstream(ctx, `creating volume ${name}`, error);
  }
}

/** Remove every volume carrying all `labels`; returns how many. */
export async function removeVolumes(
  ctx: EngineContext,
  labels: Record<string, string>,
): Promise<number> {
  // A container still being removed holds its volumes.
  await ctx.removals.settled();
  let removed = 0;
  try {
    const list = await ctx.docker.listVolumes({
      filters: labelFilters(labels),
    });
    const volumes = (list.Volumes ?? []).filter((v) =>
      hasLabels(v.Labels, labels)
    );
    for (const volume of volumes) {
      try {
        await ctx.docker.getVolume(volume.Name).remove();
        removed++;
      } catch (error) {
        if (statusOf(error) !== 404) throw error;
      }
    }
  } catch (error) {
    throw upstream(ctx, "removing volumes", error);
  }
  return removed;
}
