/**
 * Trees travel as images (spec section 5): each distinct tree that is
 * measured or checked becomes one image layer on top of the run's trial
 * image, with the tree at `/work` laid out so the protected paths are
 * read-only by ownership and mode (`core/tree_layout.ts`), and the trial
 * wrapper's control directory (`control_files.ts`). It is built once
 * through the Engine API and every trial of the tree is a fresh container of
 * it, so a trial costs the same whatever the repository's size, and what a
 * trial writes dies with its container.
 *
 * This class owns a run's tree images and their `--cache` volumes (one set
 * per tree: nothing one side of a comparison writes reaches the other's
 * trials). The loop says which trees it still needs (`retainOnly`); the rest
 * are removed as the run goes, and everything at its end (`removeAll`).
 */
import {
  type Ident,
  type LayoutPolicy,
  planTreeLayout,
} from "../core/tree_layout.ts";
import type { GitContext } from "../infra/git/context.ts";
import type { ContainerRuntime, Mount } from "../infra/runtime.ts";
import { packTar, type TarItem } from "../infra/tar.ts";
import {
  cacheInitSpec,
  cacheMounts,
  type SpecContext,
} from "./container_spec.ts";
import { controlDirItems } from "./control_files.ts";
import {
  ContentReader,
  listSource,
  overlaySnapshot,
  type SourceEntry,
  type TreeSource,
} from "./tree_source.ts";

/** A tree and the name it goes by in this run (a git tree id, or "checkout"). */
export interface TreeRef {
  key: string;
  source: TreeSource;
}

/**
 * The time every file of a tree image carries: fixed, so identical trees make
 * identical layers, and after 1980 (zip archives cannot store older times,
 * and Python's packaging builds zips).
 */
const TREE_MTIME = 1_000_000_000;

/** What a tree image build cost, for progress and `bench:trial`. */
export interface TreeBuilt {
  key: string;
  image: string;
  files: number;
  bytes: number;
  seconds: number;
}

/** Everything the tree images of one run share. */
export interface TreeImagesOptions {
  runtime: ContainerRuntime;
  /** What git trees are read with. */
  git: GitContext;
  runId: string;
  /** The run's trial image (built, pulled or prepared). */
  baseImage: string;
  /** The pinned harness snapshot laid over every tree, or null (measure). */
  snapshotDir: string | null;
  policy: LayoutPolicy;
  trialUser: Ident;
  /** Extra labels on every image and volume (tests add `ratchet.test`). */
  labels?: Record<string, string>;
  /** Called at each durable step (fault injection in tests). */
  fault?: (point: string) => void;
  signal?: AbortSignal;
  onBuilt?: (built: TreeBuilt) => void;
}

/** Docker tags allow [A-Za-z0-9_.-] (at most 128, not starting with . or -). */
function tagPart(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9_.-]/g, "_").replace(/^[.-]+/, "")
    .slice(0, 60);
}

/** The image name of a tree of a run. */
export function treeImageTag(runId: string, key: string): string {
  return `ratchet-tree:${tagPart(runId)}-${tagPart(key).slice(0, 16)}`;
}

/** The tar items of a placed tree, under `work/`, contents read lazily. */
function* treeItems(
  entries: readonly SourceEntry[],
  policy: LayoutPolicy,
  trialUser: Ident,
  reader: ContentReader,
): Generator<TarItem> {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const placed = planTreeLayout(
    entries.map((e) => ({
      path: e.path,
      kind: e.kind,
      executable: e.executable,
    })),
    policy,
    trialUser,
  );
  yield* controlDirItems(trialUser, TREE_MTIME);
  for (const p of placed) {
    const base = {
      path: p.path === "" ? "work" : `work/${p.path}`,
      mode: p.mode,
      uid: p.uid,
      gid: p.gid,
      mtime: TREE_MTIME,
    };
    const source = byPath.get(p.path);
    if (p.kind === "dir") yield { ...base, kind: "dir" };
    else if (p.kind === "symlink") {
      yield { ...base, kind: "symlink", linkTarget: source?.linkTarget ?? "" };
    } else {
      yield {
        ...base,
        kind: "file",
        stream: { size: source!.size, chunks: () => reader.chunks(source!) },
      };
    }
  }
}

/** The tree images (and cache volumes) of one run. */
export class TreeImages {
  readonly #o: TreeImagesOptions;
  readonly #images = new Map<string, Promise<string>>();
  readonly #caches = new Map<string, Promise<Mount[]>>();

  constructor(options: TreeImagesOptions) {
    this.#o = options;
  }

  /** The run's trial image the layers sit on. */
  get baseImage(): string {
    return this.#o.baseImage;
  }

  #labels(key: string): Record<string, string> {
    return {
      "ratchet.run": this.#o.runId,
      "ratchet.role": "tree",
      "ratchet.tree": key,
      ...this.#o.labels,
    };
  }

  /** The image of `ref`, built on first use. */
  imageOf(ref: TreeRef): Promise<string> {
    let image = this.#images.get(ref.key);
    if (image === undefined) {
      image = this.#build(ref);
      this.#images.set(ref.key, image);
      image.catch(() => this.#images.delete(ref.key));
    }
    return image;
  }

  async #build(ref: TreeRef): Promise<string> {
    const started = performance.now();
    const o = this.#o;
    const tag = treeImageTag(o.runId, ref.key);
    const listing = await listSource(o.git, ref.source);
    const entries = o.snapshotDir === null
      ? listing.entries
      : await overlaySnapshot(listing.entries, o.snapshotDir);
    {
      await using reader = new ContentReader(o.git);
      await o.runtime.buildLayer({
        base: o.baseImage,
        content: packTar(treeItems(entries, o.policy, o.trialUser, reader)),
        tag,
        labels: this.#labels(ref.key),
        ...(o.signal === undefined ? {} : { signal: o.signal }),
      });
    }
    o.fault?.("tree.image-built");
    o.onBuilt?.({
      key: ref.key,
      image: tag,
      files: entries.filter((e) => e.kind === "file").length,
      bytes: entries.reduce((n, e) => n + e.size, 0),
      seconds: (performance.now() - started) / 1000,
    });
    return tag;
  }

  /**
   * The `--cache` volumes of `ref` (created and opened to the trial user on
   * first use); none without `--cache`.
   */
  caches(
    ref: TreeRef,
    paths: readonly string[],
    ctx: SpecContext,
  ): Promise<Mount[]> {
    if (paths.length === 0) return Promise.resolve([]);
    let mounts = this.#caches.get(ref.key);
    if (mounts === undefined) {
      mounts = (async () => {
        const list = cacheMounts(this.#o.runId, ref.key, paths);
        for (const m of list) {
          await this.#o.runtime.createVolume(m.source, {
            ...this.#labels(ref.key),
            "ratchet.role": "cache",
            "ratchet.cache": m.target,
          });
        }
        // From the tree's image, so the engine first copies the image's
        // content at each path into its fresh volume.
        const init = await this.#o.runtime.run(
          cacheInitSpec(ctx, {
            image: await this.imageOf(ref),
            caches: list,
          }),
          { timeoutMs: 60_000, outputCapBytes: 64 * 1024 },
        );
        if (init.exitCode !== 0) {
          throw new Error(
            `opening the --cache volumes failed (exit ${init.exitCode}): ${
              new TextDecoder().decode(init.stderr)
            }`,
          );
        }
        return list;
      })();
      this.#caches.set(ref.key, mounts);
      mounts.catch(() => this.#caches.delete(ref.key));
    }
    return mounts;
  }

  /** Remove the image and volumes of every tree but `keep`. */
  async retainOnly(keep: readonly string[]): Promise<void> {
    const wanted = new Set(keep);
    const known = new Set([...this.#images.keys(), ...this.#caches.keys()]);
    for (const key of known) {
      if (!wanted.has(key)) await this.release(key);
    }
  }

  /** Remove the image and volumes of one tree (they are rebuilt if needed again). */
  async release(key: string): Promise<void> {
    const image = this.#images.get(key);
    this.#images.delete(key);
    const caches = this.#caches.get(key);
    this.#caches.delete(key);
    await image?.catch(() => null);
    await caches?.catch(() => null);
    const { runtime } = this.#o;
    await runtime.removeImage(treeImageTag(this.#o.runId, key));
    if (caches !== undefined) {
      await runtime.removeVolumes({
        "ratchet.run": this.#o.runId,
        "ratchet.tree": key,
        "ratchet.role": "cache",
      });
    }
    this.#o.fault?.("images.removed");
  }

  /** Remove every tree image and cache volume of the run, known here or left by an earlier process. */
  async removeAll(): Promise<void> {
    this.#images.clear();
    this.#caches.clear();
    await removeRunImages(this.#o.runtime, this.#o.runId);
  }
}

/**
 * Remove the tree images, cache volumes and containers of `runId`, whoever
 * made them (a killed process leaves them behind).
 */
export async function removeRunImages(
  runtime: ContainerRuntime,
  runId: string,
): Promise<void> {
  // Each step on its own: one that fails (an engine refusing one image)
  // must not keep the others from running; the first failure is reported.
  const failures: unknown[] = [];
  const step = (p: Promise<unknown>) => p.catch((e) => void failures.push(e));
  await step(runtime.removeContainers({ "ratchet.run": runId }));
  await step(
    runtime.removeImages({ "ratchet.run": runId, "ratchet.role": "tree" }),
  );
  await step(runtime.removeVolumes({ "ratchet.run": runId }));
  if (failures.length > 0) throw failures[0];
}
