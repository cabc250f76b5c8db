/**
 * The user trials run as (spec section 5): the uid:gid that owns the
 * repository, or 0:0 on a rootless engine (where root inside is the user
 * outside).
 */

/** A numeric owner, as on the host. */
export interface Owner {
  uid: number;
  gid: number;
}

/** Parse `"uid:gid"`; null for anything else. */
export function parseOwner(text: string): Owner | null {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { uid: Number(m[1]), gid: Number(m[2]) } : null;
}

/**
 * `"uid:gid"` owning `path` (the repository root): the user trials run as.
 * "0:0" where the platform has no numeric owners.
 */
export async function ownerOf(path: string): Promise<string> {
  const info = await Deno.stat(path);
  return `${info.uid ?? 0}:${info.gid ?? 0}`;
}
