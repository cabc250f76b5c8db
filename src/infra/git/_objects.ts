/** Reading many git objects, or their sizes, in one git process. */
import { text } from "./_output.ts";
import { runGitRaw } from "./process.ts";
import type { GitContext } from "./context.ts";

/**
 * Read many objects in one git process (`cat-file --batch`): sha → content,
 * or null for an object the repository does not have.
 */
export async function readObjects(
  git: GitContext,
  root: string,
  shas: readonly string[],
): Promise<Map<string, Uint8Array | null>> {
  const out = new Map<string, Uint8Array | null>();
  const wanted = [...new Set(shas)];
  if (wanted.length === 0) return out;
  const raw = (await runGitRaw(git, root, ["cat-file", "--batch"], {
    input: wanted.join("\n") + "\n",
  })).stdout;
  let at = 0;
  for (const sha of wanted) {
    const eol = raw.indexOf(0x0a, at);
    if (eol < 0) break;
    const header = text(raw.subarray(at, eol));
    at = eol + 1;
    // "<sha> <type> <size>", or "<name> missing".
    const size = /^\S+ \S+ (\d+)$/.exec(header)?.[1];
    if (size === undefined) {
      out.set(sha, null);
      continue;
    }
    out.set(sha, raw.slice(at, at + Number(size)));
    at += Number(size) + 1;
  }
  return out;
}

/** Sizes of objects (`cat-file --batch-check`): sha → bytes, or null when missing. */
export async function objectSizes(
  git: GitContext,
  root: string,
  shas: readonly string[],
): Promise<Map<string, number | null>> {
  const out = new Map<string, number | null>();
  const wanted = [...new Set(shas)];
  if (wanted.length === 0) return out;
  const lines = text(
    (await runGitRaw(git, root, [
      "cat-file",
      "--batch-check=%(objectname) %(objectsize)",
    ], { input: wanted.join("\n") + "\n" })).stdout,
  ).split("\n");
  wanted.forEach((sha, i) => {
    const m = /^(\S+) (\d+)$/.exec(lines[i] ?? "");
    out.set(sha, m ? Number(m[2]) : null);
  });
  return out;
}
