/** Who commits on a run branch. */

/** Author and committer of every commit on a run branch. */
export const RATCHET_IDENTITY = {
  name: "ratchet",
  email: "ratchet@localhost",
} as const;

/** Environment that makes commits authored and committed by `identity`. */
export function identityEnv(
  identity: { name: string; email: string },
): Record<string, string> {
  return {
    GIT_AUTHOR_NAME: identity.name,
    GIT_AUTHOR_EMAIL: identity.email,
    GIT_COMMITTER_NAME: identity.name,
    GIT_COMMITTER_EMAIL: identity.email,
  };
}
