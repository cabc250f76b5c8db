/**
 * The git context tests run git with: made from this process's environment
 * the way main.ts and the composition root make the real one.
 */
import {
  type GitContext,
  gitContextFrom,
} from "../../src/infra/git/context.ts";

export const testGit: GitContext = gitContextFrom(Deno.env.toObject());
