/**
 * The context of an image build (`--dockerfile`) as a tar stream: it travels
 * to the engine through the API, so the engine never needs to see the
 * context directory (spec section 1).
 */
import { join } from "node:path";
import picomatch from "picomatch";
import { packTar, type TarItem } from "../tar.ts";

/**
 * The build context: the files of `contextDir` (without `.ratchet/` and what
 * `.dockerignore` excludes) and the Dockerfile text as `dockerfileName`. With
 * a context directory, `.dockerignore` is rewritten to also list the
 * Dockerfile and itself, which the engine then drops from the context after
 * reading them — as the docker CLI does for `-f -`.
 */
export function buildContext(
  contextDir: string | null,
  dockerfileName: string,
  dockerfileText: string,
): AsyncIterable<Uint8Array> {
  return packTar(contextItems(contextDir, dockerfileName, dockerfileText));
}

async function* contextItems(
  contextDir: string | null,
  dockerfileName: string,
  dockerfileText: string,
): AsyncGenerator<TarItem> {
  const encoder = new TextEncoder();
  const mtime = Math.floor(Date.now() / 1000);
  const file = (path: string, text: string): TarItem => ({
    path,
    kind: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    mtime,
    data: encoder.encode(text),
  });
  yield file(dockerfileName, dockerfileText);
  if (contextDir === null) return;
  let ignoreText = "";
  try {
    ignoreText = await Deno.readTextFile(join(contextDir, ".dockerignore"));
  } catch {
    // No .dockerignore: nothing excluded but .ratchet/.
  }
  yield file(
    ".dockerignore",
    `${ignoreText}\n${dockerfileName}\n.dockerignore\n`,
  );
  yield* walk(contextDir, "", dockerignoreMatcher(ignoreText));
}

/** `.dockerignore` semantics: last matching pattern wins; a match on a parent directory counts. */
export function dockerignoreMatcher(text: string): (path: string) => boolean {
  const rules = text.split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("#"))
    .map((line) => {
      const negate = line.startsWith("!");
      const pattern = (negate ? line.slice(1) : line).trim()
        .replace(/^\/+/, "").replace(/^\.\//, "").replace(/\/+$/, "");
      return { negate, match: picomatch(pattern, { dot: true }) };
    });
  return (path) => {
    const parts = path.split("/");
    let excluded = false;
    for (const rule of rules) {
      for (let i = 1; i <= parts.length; i++) {
        if (rule.match(parts.slice(0, i).join("/"))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return excluded;
  };
}

async function* walk(
  root: string,
  relative: string,
  ignored: (path: string) => boolean,
): AsyncGenerator<TarItem> {
  const entries: Deno.DirEntry[] = [];
  for await (const entry of Deno.readDir(join(root, relative))) {
    entries.push(entry);
  }
  entries.sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  for (const entry of entries) {
    const path = relative === "" ? entry.name : `${relative}/${entry.name}`;
    // ratchet's own state (worktree copies, reports) never belongs in an image.
    if (
      relative === "" &&
      (entry.name === ".ratchet" || entry.name === ".dockerignore")
    ) {
      continue;
    }
    const full = join(root, path);
    const info = await Deno.lstat(full);
    const mode = (info.mode ?? 0o644) & 0o7777;
    const mtime = Math.floor((info.mtime?.getTime() ?? Date.now()) / 1000);
    const base = { path, mode, uid: 0, gid: 0, mtime };
    if (info.isDirectory) {
      // Descend even into an excluded directory: a `!` rule may re-include a file.
      if (!ignored(path)) yield { ...base, kind: "dir" };
      yield* walk(root, path, ignored);
    } else if (ignored(path)) {
      continue;
    } else if (info.isSymlink) {
      yield { ...base, kind: "symlink", linkTarget: await Deno.readLink(full) };
    } else if (info.isFile) {
      yield { ...base, kind: "file", stream: fileStream(full, info.size) };
    }
    // Sockets, fifos and devices cannot be sent; the docker CLI skips them too.
  }
}

/** A file's contents, read when the archive reaches it. */
export function fileStream(
  full: string,
  size: number,
): { size: number; chunks: () => AsyncIterable<Uint8Array> } {
  return {
    size,
    async *chunks() {
      using file = await Deno.open(full, { read: true });
      const buffer = new Uint8Array(1 << 20);
      while (true) {
        const read = await file.read(buffer);
        if (read === null) return;
        yield buffer.slice(0, read);
      }
    },
  };
}
