/**
 * Shared loopback-only network namespaces for back-to-back containers.
 *
 * A container created with `--network none` still gets a new network
 * namespace, and the engine spends most of a trial's start-up on it (about
 * 100 ms of ~270 ms here, mostly a hook that re-executes the daemon). A
 * sleeping "holder" container owns one namespace instead, and the containers
 * of one group join it (`NetworkMode: container:<holder>`): still no route
 * anywhere, only loopback, and every container keeps its own PID, mount and
 * IPC namespaces. Processes never outlive their container, so what passes from
 * one trial to the next is only kernel socket residue on loopback (TIME_WAIT
 * entries), like the page cache. A group is one iteration of one run: when a
 * new group of the same scope arrives, the previous holder is removed, so
 * every iteration starts with a namespace nobody has used.
 *
 * This module keeps the bookkeeping engine-free (which holder serves which
 * group, who still uses it, when to remove it); `docker/netns_holder.ts` starts and
 * removes the holder containers.
 */

/** Which containers may share a namespace (`key`), and which retire each other (`scope`). */
export interface NetnsGroup {
  key: string;
  scope: string;
  /**
   * The image the holder runs (it needs `sleep`): one that outlives every
   * container of the group, so removing a tree's image never finds it in
   * use by the holder. Default: the first container's image.
   */
  image?: string;
}

/** One container's use of a holder; release it when the container is gone. */
export interface NetnsLease {
  /** The holder container's id, for `NetworkMode: container:<id>`. */
  readonly id: string;
  /** The holder was found stopped or missing: never hand it out again. */
  gone(): void;
  /**
   * The engine would not run a container joined to the holder: the group
   * runs unshared from now on.
   */
  refused(): void;
  /** The container that joined the holder has been removed. */
  release(): Promise<void>;
}

/**
 * Starts a holder for a group: its id, or null when this engine or image
 * cannot hold one (the group then runs with plain `none`). Throws when the
 * engine itself fails.
 */
export type StartHolder = () => Promise<string | null>;

/** Removes a holder; a holder already gone is not an error. */
export type RemoveHolder = (id: string) => Promise<void>;

interface Entry {
  group: NetnsGroup;
  holder: Promise<string | null>;
  /** The holder's id once started (undefined while starting). */
  id?: string | null;
  users: number;
  retired: boolean;
}

/** The holders of one engine connection. */
export class NetnsPool {
  readonly #remove: RemoveHolder;
  readonly #entries = new Map<string, Entry>();

  constructor(remove: RemoveHolder) {
    this.#remove = remove;
  }

  /**
   * A lease on the holder of `group`, starting one with `start` when there is
   * none, or null when the group runs without a holder. Retires the holders of
   * earlier groups of the same scope first.
   */
  async acquire(
    group: NetnsGroup,
    start: StartHolder,
  ): Promise<NetnsLease | null> {
    for (const [key, entry] of this.#entries) {
      if (key !== group.key && entry.group.scope === group.scope) {
        await this.#retire(key, entry);
      }
    }
    let entry = this.#entries.get(group.key);
    if (entry === undefined) {
      const created: Entry = {
        group,
        holder: start(),
        users: 0,
        retired: false,
      };
      entry = created;
      this.#entries.set(group.key, created);
      created.holder.then((id) => {
        created.id = id;
      }, () => {
        // A failed start is not remembered: the next container tries again.
        if (this.#entries.get(group.key) === created) {
          this.#entries.delete(group.key);
        }
      });
    }
    const id = await entry.holder;
    if (id === null) return null;
    entry.users++;
    const held = entry;
    let released = false;
    return {
      id,
      gone: () => {
        if (this.#entries.get(held.group.key) === held) {
          this.#entries.delete(held.group.key);
        }
        held.retired = true;
      },
      refused: () => {
        if (this.#entries.get(held.group.key) === held) {
          this.#entries.set(held.group.key, {
            group: held.group,
            holder: Promise.resolve(null),
            id: null,
            users: 0,
            retired: false,
          });
        }
        held.retired = true;
      },
      release: async () => {
        if (released) return;
        released = true;
        held.users--;
        if (held.retired && held.users === 0) await this.#remove(id);
      },
    };
  }

  /** Forget every holder among `ids` (removed by someone else, e.g. by label). */
  forget(ids: Iterable<string>): void {
    const removed = new Set(ids);
    for (const [key, entry] of [...this.#entries]) {
      if (typeof entry.id === "string" && removed.has(entry.id)) {
        this.#entries.delete(key);
        entry.retired = true;
      }
    }
  }

  async #retire(key: string, entry: Entry): Promise<void> {
    this.#entries.delete(key);
    entry.retired = true;
    const id = await entry.holder.catch(() => null);
    if (id !== null && entry.users === 0) await this.#remove(id);
  }
}
