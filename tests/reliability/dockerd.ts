/**
 * A private Docker daemon for tests: its own socket, data root, exec root and
 * pid file under a directory of its own, in its own network namespace with no
 * bridge and no iptables, so it never touches the shared daemon at
 * /var/run/docker.sock. Only the processes started here are ever signalled,
 * by PID.
 *
 * Options make it stand in for other engines (tests/_helpers/engines.ts):
 * `hide` starts it in its own mount namespace too, with an empty tmpfs over
 * each listed directory, so it cannot see those files (a remote host);
 * `tls` makes it serve the Engine API over TLS with client certificates on
 * 127.0.0.1 of the host's network namespace.
 */
import { join } from "node:path";
import { pingDocker } from "../_helpers/docker.ts";

/** A running private dockerd. */
export interface PrivateDockerd extends AsyncDisposable {
  /** `unix://…/docker.sock`, for DOCKER_HOST (and for setting it up). */
  readonly host: string;
  readonly dir: string;
  /** The TCP port of the TLS listener on 127.0.0.1 (null without `tls`). */
  readonly tlsPort: number | null;
  /** The daemon's PID (its namespaces are /proc/PID/ns/*), null while stopped. */
  pid(): number | null;
  /** SIGKILL dockerd and its containerd (a crashed daemon). */
  crash(): Promise<void>;
  /** Start it again on the same data root; resolves once it answers. */
  restart(): Promise<void>;
  /** Stop for good and remove its directories. */
  close(): Promise<void>;
}

/** Server-side TLS files (PEM paths) of {@linkcode startPrivateDockerd}. */
export interface DockerdTls {
  caPath: string;
  certPath: string;
  keyPath: string;
}

/** Options of {@linkcode startPrivateDockerd}. */
export interface PrivateDockerdOptions {
  /**
   * Directories the daemon must not see: it runs in its own mount namespace
   * with an empty tmpfs mounted over each (the situation of a remote host).
   */
  hide?: string[];
  /** Serve the API over TLS (client certificates verified) on 127.0.0.1:PORT. */
  tls?: DockerdTls;
  /**
   * Directory under which the daemon's own directory is made (default /tmp;
   * must not lie under a hidden directory).
   */
  baseDir?: string;
}

async function pidIn(path: string): Promise<number | null> {
  const text = await Deno.readTextFile(path).catch(() => "");
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

/** Whether `pid` is a live process (a zombie counts as gone). */
export function alive(pid: number): boolean {
  try {
    Deno.kill(pid, "SIGCONT");
    // A zombie still accepts signals; it is gone for our purposes.
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}

/** Wait until `pid` is gone; false after `ms`. */
export async function waitGone(pid: number, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (alive(pid)) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
  return true;
}

/** PIDs of the processes whose command line contains `needle`. */
export function processesNaming(needle: string): number[] {
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (pid === Deno.pid) continue;
    try {
      const cmd = Deno.readTextFileSync(`/proc/${pid}/cmdline`);
      if (cmd.includes(needle) && alive(pid)) out.push(pid);
    } catch { /* gone */ }
  }
  return out;
}

/**
 * SIGKILL every process whose command line names `dir` (the shims and
 * `runc init` of containers a crashed daemon left), and their descendants:
 * all of them were started by the private daemon.
 */
export function killStrays(dir: string): number {
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

/** Mount points (as the host sees them) at or under `dir`. */
export function mountsUnder(dir: string): string[] {
  const text = Deno.readTextFileSync("/proc/self/mountinfo");
  return text.split("\n").map((l) => l.split(" ")[4] ?? "").filter((m) =>
    m === dir || m.startsWith(`${dir}/`)
  );
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
 * Binds 127.0.0.1:0 in the caller's (the host's) network namespace, writes
 * the port to ARGV[0], and execs the rest of ARGV with the socket as fd 3
 * and LISTEN_FDS=1 / LISTEN_PID=$$ (systemd socket activation), so the
 * dockerd it becomes (unshare and sh exec in place, keeping the PID) serves
 * `-H fd://` on that socket from inside its own network namespace. perl-base
 * is Essential on Debian, so this needs nothing installed.
 */
const BIND_AND_EXEC = `
use strict; use warnings;
use Socket qw(PF_INET SOCK_STREAM pack_sockaddr_in unpack_sockaddr_in inet_aton);
use POSIX ();
use Fcntl qw(F_SETFD);
my $portfile = shift @ARGV;
socket(my $s, PF_INET, SOCK_STREAM, 0) or die "socket: $!";
bind($s, pack_sockaddr_in(0, inet_aton("127.0.0.1"))) or die "bind: $!";
listen($s, 128) or die "listen: $!";
my ($port) = unpack_sockaddr_in(getsockname($s));
if (fileno($s) != 3) { defined(POSIX::dup2(fileno($s), 3)) or die "dup2: $!"; }
open(my $fd3, "<&=", 3) or die "fd 3: $!";
fcntl($fd3, F_SETFD, 0) or die "fcntl: $!";
$ENV{LISTEN_FDS} = "1";
$ENV{LISTEN_PID} = "$$";
open(my $pf, ">", "$portfile.tmp") or die "port file: $!";
print $pf $port; close $pf; rename("$portfile.tmp", $portfile) or die "rename: $!";
exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!";
`;

/**
 * The shell run inside the new namespaces: an empty tmpfs over each hidden
 * directory ($HIDE, newline-separated), then exec dockerd with "$@".
 */
const HIDE_AND_EXEC = `
set -e
printf '%s\\n' "$HIDE" | while IFS= read -r d; do
  [ -n "$d" ] || continue
  mkdir -p "$d"
  mount -t tmpfs -o mode=1777 ratchet-hidden "$d"
done
exec dockerd "$@"
`;

/**
 * Start a private dockerd and load `images` into it from the default daemon
 * (`docker save | docker load`).
 */
export async function startPrivateDockerd(
  images: string[] = ["busybox:latest"],
  options: PrivateDockerdOptions = {},
): Promise<PrivateDockerd> {
  const hide = options.hide ?? [];
  // Short path: unix socket paths are limited to 108 bytes.
  const baseDir = options.baseDir ?? "/tmp";
  await Deno.mkdir(baseDir, { recursive: true });
  const dir = await Deno.makeTempDir({ prefix: "rdd-", dir: baseDir });
  for (const h of hide) {
    if (dir === h || dir.startsWith(`${h}/`)) {
      throw new Error(`the daemon's directory ${dir} lies under hidden ${h}`);
    }
  }
  const socket = join(dir, "docker.sock");
  const host = `unix://${socket}`;
  const pidfile = join(dir, "pid");
  const portfile = join(dir, "tls-port");
  const containerdPid = join(dir, "exec", "containerd", "containerd.pid");
  let child: Deno.ChildProcess | null = null;
  let log: Deno.FsFile | null = null;
  let tlsPort: number | null = null;

  const dockerdArgs = () => [
    "--host",
    host,
    ...(options.tls
      ? [
        "--host",
        "fd://",
        "--tlsverify",
        "--tlscacert",
        options.tls.caPath,
        "--tlscert",
        options.tls.certPath,
        "--tlskey",
        options.tls.keyPath,
      ]
      : []),
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
  ];

  const start = async () => {
    // A killed daemon leaves its pid files; dockerd refuses to start, or
    // waits on a containerd that is gone.
    await Deno.remove(pidfile).catch(() => {});
    await Deno.remove(containerdPid).catch(() => {});
    await Deno.remove(portfile).catch(() => {});
    log?.close();
    log = await Deno.open(join(dir, "dockerd.log"), {
      append: true,
      create: true,
    });
    // Its own network namespace: a dockerd started with `--bridge none`
    // deletes any interface named docker0 it can see, which would take the
    // shared daemon's bridge away from every other test. With `hide`, its
    // own mount namespace too (unshare makes every mount in it private, so
    // nothing it mounts reaches the host, and all of it goes with its last
    // process).
    const unshare = [
      "unshare",
      "--net",
      ...(hide.length > 0
        ? [
          "--mount",
          "--propagation",
          "private",
          "sh",
          "-c",
          HIDE_AND_EXEC,
          "sh",
        ]
        : ["dockerd"]),
      ...dockerdArgs(),
    ];
    const argv = options.tls
      ? ["perl", "-e", BIND_AND_EXEC, portfile, ...unshare]
      : unshare;
    child = new Deno.Command(argv[0]!, {
      args: argv.slice(1),
      env: { HIDE: hide.join("\n") },
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
    if (options.tls) tlsPort = await pidIn(portfile);
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
      const exited = await Promise.race([
        child.status.then(() => true),
        new Promise<false>((r) => setTimeout(() => r(false), 20_000)),
      ]);
      if (!exited) {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
        await child.status;
      }
      child = null;
    }
    for (const pid of pids) if (pid !== null) await waitGone(pid, 10_000);
  };

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await kill("SIGTERM");
    killStrays(dir);
    // Mounts left by a killed daemon would make the removal fail (without
    // `hide` its mounts are in the host's mount namespace).
    for (const sub of ["root", "exec"]) {
      await new Deno.Command("umount", {
        args: ["-R", "-l", join(dir, sub)],
        stdout: "null",
        stderr: "null",
      }).output().catch(() => {});
    }
    log?.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
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
        throw new Error(
          `loading ${image} into the private dockerd failed: ${
            new TextDecoder().decode(out.stderr)
          }`,
        );
      }
    }
  } catch (error) {
    await close();
    throw error;
  }

  return {
    host,
    dir,
    get tlsPort() {
      return tlsPort;
    },
    pid: () => (child as Deno.ChildProcess | null)?.pid ?? null,
    crash: () => kill("SIGKILL"),
    restart: start,
    close,
    [Symbol.asyncDispose]: close,
  };
}
