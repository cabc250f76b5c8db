/** Lookups of containers, volumes and images by labels. */

/**
 * The engine-side filter of a lookup by labels: the first label only.
 * Podman 4.3 answers a list filtered by two labels with nothing at all, so
 * the rest are checked here (`hasLabels`).
 */
export function labelFilters(labels: Record<string, string>): string {
  const first = Object.entries(labels)[0];
  return JSON.stringify(
    first === undefined ? {} : {
      label: [`${first[0]}=${first[1]}`],
    },
  );
}

/** Whether `have` carries every label of `want`. */
export function hasLabels(
  have: Record<string, string> | null | undefined,
  want: Record<string, string>,
): boolean {
  return Object.entries(want).every(([k, v]) => have?.[k] === v);
}
