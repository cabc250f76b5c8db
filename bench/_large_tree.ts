/**
 * A large repository for `bench:trial` and tests of the trial path (issue
 * 14: "a trial costs the same on a 390 MB repo as on a 1 KB one"): by
 * default 10,000 files and 320 MiB, shaped like a real repository (many
 * small files in nested directories, a few large data files), written in a
 * second or two.
 *
 * The bytes come from AES-128-CTR keyed by a seed, one stream per file,
 * so the tree is the same on every machine for a given seed (its digest
 * says so) and does not compress: it really is 320 MiB on the wire, in a
 * tar sent to the engine or in git's objects.
 *
 *   const tree = await writeLargeTree(dir);            // files only
 *   const repo = await largeTreeRepo(dir);             // and one git commit
 */
import { createCipheriv, createHash } from "node:crypto";
import { join } from "node:path";

/** Shape of a generated tree. */
export interface LargeTreeOptions {
  /** Number of files (default 10,000). */
  files?: number;
  /** Total bytes of file content (default 320 MiB). */
  bytes?: number;
  /** Seed of the content and the sizes (default 14). */
  seed?: number;
}

/** What was written. */
export interface LargeTree {
  files: number;
  bytes: number;
  /** Of the large data files (the rest are small source-like files). */
  largeFiles: number;
  /** sha256 over every (path, content) in path order: equal trees, equal digests. */
  digest: string;
}

export const LARGE_TREE_DEFAULTS = {
  files: 10_000,
  bytes: 320 * 1024 * 1024,
  seed: 14,
} as const;

/** Bounds of a small file's size. */
const SMALL_MIN = 512;
const SMALL_MAX = 12 * 1024;
/** One large file per this many files (at least one). */
const LARGE_EVERY = 250;

/**
 * `n` pseudo-random bytes of stream `stream`: AES-128-CTR over zeros, keyed
 * by the seed, the counter starting at the stream number. Deterministic,
 * native speed (about 300 MB/s), and incompressible.
 */
function bytesOf(seed: number, stream: number, n: number): Uint8Array {
  const key = createHash("sha256").update(`ratchet-large-tree:${seed}`)
    .digest().subarray(0, 16);
  const iv = new Uint8Array(16);
  new DataView(iv.buffer).setUint32(4, stream >>> 0);
  const cipher = createCipheriv("aes-128-ctr", key, iv);
  return new Uint8Array(cipher.update(new Uint8Array(n)));
}

/** `n` pseudo-random 32-bit words of stream `stream`. */
function wordsOf(seed: number, stream: number, n: number): Uint32Array {
  const bytes = bytesOf(seed, stream, n * 4);
  return new Uint32Array(bytes.buffer, bytes.byteOffset, n);
}

/** The layout: every file's path and size, in path order. */
export function largeTreeLayout(
  options: LargeTreeOptions = {},
): { path: string; size: number }[] {
  const files = options.files ?? LARGE_TREE_DEFAULTS.files;
  const bytes = options.bytes ?? LARGE_TREE_DEFAULTS.bytes;
  const seed = options.seed ?? LARGE_TREE_DEFAULTS.seed;
  if (!Number.isSafeInteger(files) || files < 1) {
    throw new RangeError(`files must be a positive integer, not ${files}`);
  }
  const large = Math.max(1, Math.floor(files / LARGE_EVERY));
  const small = files - large;
  // Small sizes from stream 0, uniform in [SMALL_MIN, SMALL_MAX].
  const draws = wordsOf(seed, 0, Math.max(small, 1));
  const span = SMALL_MAX - SMALL_MIN + 1;
  const smallSizes = Array.from(
    { length: small },
    (_, i) => SMALL_MIN + (draws[i]! % span),
  );
  const smallTotal = smallSizes.reduce((a, b) => a + b, 0);
  const rest = bytes - smallTotal;
  if (rest < large) {
    throw new RangeError(
      `${bytes} bytes is too little for ${files} files (the small files alone take ${smallTotal})`,
    );
  }
  const out: { path: string; size: number }[] = [];
  const pad = (n: number, w: number) => String(n).padStart(w, "0");
  smallSizes.forEach((size, i) => {
    const dir = `src/pkg_${pad(Math.floor(i / 1000), 2)}/mod_${
      pad(Math.floor(i / 100) % 10, 1)
    }`;
    out.push({ path: `${dir}/file_${pad(i, 5)}.dat`, size });
  });
  for (let j = 0; j < large; j++) {
    const size = Math.floor(rest / large) + (j < rest % large ? 1 : 0);
    out.push({ path: `data/blob_${pad(j, 3)}.bin`, size });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Write the tree into `dir` (which must exist; existing files of the same
 * names are overwritten). Returns its shape and digest.
 */
export async function writeLargeTree(
  dir: string,
  options: LargeTreeOptions = {},
): Promise<LargeTree> {
  const seed = options.seed ?? LARGE_TREE_DEFAULTS.seed;
  const layout = largeTreeLayout(options);
  const hash = createHash("sha256");
  const made = new Set<string>();
  let total = 0;
  let large = 0;
  for (const [k, { path, size }] of layout.entries()) {
    const parent = join(dir, path, "..");
    if (!made.has(parent)) {
      await Deno.mkdir(parent, { recursive: true });
      made.add(parent);
    }
    // Stream k + 1 (stream 0 drew the sizes).
    const data = bytesOf(seed, k + 1, size);
    await Deno.writeFile(join(dir, path), data);
    hash.update(`${path}\0${size}\0`);
    hash.update(data);
    total += size;
    if (path.startsWith("data/")) large++;
  }
  return {
    files: layout.length,
    bytes: total,
    largeFiles: large,
    digest: hash.digest("hex"),
  };
}

/** The digest {@linkcode writeLargeTree} returns, recomputed from the files in `dir`. */
export async function digestOfTree(dir: string): Promise<string> {
  const paths: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(join(dir, rel))) {
      const p = rel === "" ? e.name : `${rel}/${e.name}`;
      if (e.isDirectory) {
        if (p !== ".git") await walk(p);
      } else paths.push(p);
    }
  };
  await walk("");
  paths.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const hash = createHash("sha256");
  for (const p of paths) {
    const data = await Deno.readFile(join(dir, p));
    hash.update(`${p}\0${data.length}\0`);
    hash.update(data);
  }
  return hash.digest("hex");
}

/**
 * {@linkcode writeLargeTree} into `dir`, then `git init` and one commit on
 * `main` (git's zlib turned off: the content does not compress anyway, and
 * this halves the time). Returns the tree and the commit.
 */
export async function largeTreeRepo(
  dir: string,
  options: LargeTreeOptions = {},
): Promise<LargeTree & { sha: string }> {
  const tree = await writeLargeTree(dir, options);
  const git = async (...args: string[]) => {
    const out = await new Deno.Command("git", {
      args: [
        "-c",
        "core.compression=0",
        "-c",
        "core.looseCompression=0",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "core.hooksPath=/dev/null",
        ...args,
      ],
      cwd: dir,
      env: {
        GIT_AUTHOR_NAME: "bench",
        GIT_AUTHOR_EMAIL: "bench@localhost",
        GIT_COMMITTER_NAME: "bench",
        GIT_COMMITTER_EMAIL: "bench@localhost",
        GIT_CONFIG_NOSYSTEM: "1",
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) {
      throw new Error(
        `git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
      );
    }
    return new TextDecoder().decode(out.stdout).trim();
  };
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "a large tree");
  return { ...tree, sha: await git("rev-parse", "HEAD") };
}
