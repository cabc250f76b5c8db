/**
 * A private Docker daemon for tests that stop the engine under a run: its
 * own socket, data root, exec root and pid file under a temp directory, no
 * bridge and no iptables, so it never touches the shared daemon at
 * /var/run/docker.sock. Only the processes started here are ever signalled,
 * by PID.
 */
import { join } from "node:path";
import { pingDocker } from "../_helpers/docker.ts";

/** A running private dockerd. */
export interface PrivateDockerd extends AsyncDisposable {
  /** `unix://…/docker.sock`, for DOCKER_HOST. */
  readonly host: string;
  readonly dir: string;
  /** SIGKILL dockerd and its containerd (a crashed daemon). */
  crash(): Promise<void>;
  /** Start it again on the same data root; resolves once it answers. */
  restart(): Promise<void>;
  /** Stop for good and remove its directories. */
  close(): Promise<void>;
}

async function pidIn(path: string): Promise<number | null> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    // A zombie still accepts signals; it is gone for our purposes.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/**
 * SIGKILL every process whose command line names `dir` (the shims and
 * `runc init` of containers a crashed daemon left), and their descendants:
 * all of them were started by the private daemon.
 */
function killStrays(dir: string): number {
  const parent = new Map<number, number>();
  const roots: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (pid === Deno.pid) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      parent.set(
        pid,
        Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]),
      );
      const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (cmd.includes(dir)) roots.push(pid);
    } catch { /* gone */ }
  }
  const doomed = new Set(roots);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!doomed.has(pid) && doomed.has(ppid)) {
        doomed.add(pid);
        grew = true;
      }
    }
  }
  for (const pid of doomed) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch { /* gone */ }
  }
  return doomed.size;
}

/** Whether this machine can run a private dockerd (the binary and root). */
export function canRunDockerd(): boolean {
  try {
    Deno.statSync("/usr/sbin/dockerd");
  } catch {
    try {
      Deno.statSync("/usr/bin/dockerd");
    } catch {
      return false;
    }
  }
  return Deno.uid() === 0;
}

/**
 * Start a private dockerd and load `images` into it from the default daemon
 * (`docker save | docker load`).
 */
export async function startPrivateDockerd(
  images: string[] = ["busybox:latest"],
): Promise<PrivateDockerd> {
  // Short path: unix socket paths are limited to 108 bytes.
  const dir = await Deno.makeTempDir({ prefix: "rdd-", dir: "/tmp" });
  const socket = join(dir, "docker.sock");
  const host = `unix://${socket}`;
  const pidfile = join(dir, "pid");
  const containerdPid = join(dir, "exec", "containerd", "containerd.pid");
  let child: Deno.ChildProcess | null = null;
  let log: Deno.FsFile | null = null;

  const start = async () => {
    // A killed daemon leaves its pid files; dockerd refuses to start, or
    // waits on a containerd that is gone.
    await Deno.remove(pidfile).catch(() => {});
    await Deno.remove(containerdPid).catch(() => {});
    log?.close();
    log = await Deno.open(join(dir, "dockerd.log"), {
      append: true,
      create: true,
    });
    // Its own network namespace: a dockerd started with `--bridge none`
    // deletes any interface named docker0 it can see, which would take the
    // shared daemon's bridge away from every other test.
    child = new Deno.Command("unshare", {
      args: [
        "--net",
        "dockerd",
        "--host",
        host,
        "--data-root",
        join(dir, "root"),
        "--exec-root",
        join(dir, "exec"),
        "--pidfile",
        pidfile,
        "--bridge",
        "none",
        "--iptables=false",
        "--ip6tables=false",
      ],
      stdin: "null",
      stdout: "null",
      stderr: "piped",
    }).spawn();
    const w = log;
    child.stderr.pipeTo(w.writable, { preventClose: true }).catch(() => {});
    const end = Date.now() + 60_000;
    while (!(await pingDocker(socket, 1000))) {
      if (Date.now() > end) {
        const text = await Deno.readTextFile(join(dir, "dockerd.log")).catch(
          () => "",
        );
        throw new Error(
          `private dockerd did not answer in 60 s:\n${text.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  const kill = async (signal: Deno.Signal) => {
    const pids = [child?.pid ?? null, await pidIn(containerdPid)];
    for (const pid of pids) {
      if (pid !== null && alive(pid)) {
        try {
          Deno.kill(pid, signal);
        } catch { /* gone */ }
      }
    }
    if (child !== null) {
      await Promise.race([
        child.status,
        new Promise((r) => setTimeout(r, 20_000)),
      ]);
      child = null;
    }
    for (const pid of pids) if (pid !== null) await waitGone(pid, 10_000);
  };

  await start();
  for (const image of images) {
    const out = await new Deno.Command("sh", {
      args: [
        "-c",
        `docker save "$1" | DOCKER_HOST="$2" docker load`,
        "sh",
        image,
        host,
      ],
      env: { DOCKER_HOST: "unix:///var/run/docker.sock" },
      stdout: "null",
      stderr: "piped",
    }).output();
    if (!out.success) {
      await kill("SIGTERM");
      throw new Error(
        `loading ${image} into the private dockerd failed: ${
          new TextDecoder().decode(out.stderr)
        }`,
      );
    }
  }

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await kill("SIGTERM");
    killStrays(dir);
    // Mounts left by a killed daemon would make the removal fail.
    await new Deno.Command("umount", {
      args: ["-R", "-l", join(dir, "root")],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
    await new Deno.Command("umount", {
      args: ["-R", "-l", join(dir, "exec")],
      stdout: "null",
      stderr: "null",
    }).output().catch(() => {});
    log?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  return {
    host,
    dir,
    crash: () => kill("SIGKILL"),
    restart: start,
    close,
    [Symbol.asyncDispose]: close,
  };
}
