/**
 * Container engines other than the shared local dockerd, for tests that
 * prove ratchet works on any Docker Engine API endpoint (spec section 1):
 *
 * - {@linkcode startHiddenEngine}: a private dockerd in its own mount and
 *   network namespaces with an empty tmpfs over the directories that hold
 *   the test repositories (and ratchet's checkout and HOME), so it cannot
 *   see ratchet's files — the situation of a remote host.
 * - {@linkcode startPodmanEngine}: Podman's Docker-compatible socket
 *   (`podman system service`), which shares the host's filesystem.
 * - {@linkcode startTlsEngine}: a remote engine on tcp://127.0.0.1:PORT with
 *   TLS and client certificates made by the test (a CA, a server certificate
 *   for 127.0.0.1, a client certificate), hidden from ratchet's files too.
 *
 * Each returns a {@linkcode TestEngine}: the environment to give ratchet
 * (DOCKER_HOST, and DOCKER_TLS_VERIFY / DOCKER_CERT_PATH for TLS), an Engine
 * API client the tests use behind ratchet's back, an inventory of what is on
 * the engine, and an async dispose that leaves nothing behind: no process,
 * no mount, no data directory, no network namespace, and on Podman (whose
 * store is the host's) nothing the test added to the store.
 *
 * Tests that start engines must run one at a time (the Docker lock).
 */
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  alive,
  mountsUnder,
  type PrivateDockerd,
  processesNaming,
  startPrivateDockerd,
  waitGone,
} from "../reliability/dockerd.ts";

/** Where the engines' own directories live: never under a hidden directory. */
export const ENGINES_DIR = "/var/lib/ratchet-test-engines";

/** The checkout of ratchet these tests run from (hidden from the engines). */
const CHECKOUT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

/** The kinds of engine this module starts. */
export type EngineKind = "hidden" | "podman" | "tls";

/** How to reach an engine's API. */
export type EngineAddress =
  | { socketPath: string }
  | {
    host: string;
    port: number;
    ca: string;
    cert: string;
    key: string;
  };

/** An object on an engine (container, image or volume). */
export interface EngineObject {
  id: string;
  /** Names or tags, for messages. */
  names: string[];
  labels: Record<string, string>;
  /** An image's parent image id ("" when none or unknown). */
  parent?: string;
}

/** What is on an engine at one moment. */
export interface Inventory {
  containers: EngineObject[];
  images: EngineObject[];
  volumes: EngineObject[];
}

/** A running engine for tests. */
export interface TestEngine extends AsyncDisposable {
  readonly kind: EngineKind;
  /** For test names and messages. */
  readonly label: string;
  /** The DOCKER_HOST value ratchet is given. */
  readonly dockerHost: string;
  /** DOCKER_HOST (and the TLS variables) for ratchet's environment. */
  readonly env: Record<string, string>;
  readonly address: EngineAddress;
  /** Whether the engine sees the host's files (Podman: yes; the others: no). */
  readonly sharesFilesystem: boolean;
  /** The daemon's PID (dockerd, or `podman system service`), null once closed. */
  pid(): number | null;
  /**
   * One Engine API call: the parsed JSON body (text when not JSON), null for
   * an empty body or a 404; rejects on other errors.
   */
  api(method: string, path: string, body?: unknown): Promise<unknown>;
  /** `sh -c script` in the engine's host (its mount namespace). */
  hostShell(script: string): Promise<ShellResult>;
  /** Containers, images and volumes on the engine now. */
  inventory(): Promise<Inventory>;
  /** Stop the engine and remove everything it left (idempotent). */
  close(): Promise<void>;
  /**
   * What the engine has left on the host (after close(): nothing): live
   * processes naming its directories or inside its namespaces, mounts under
   * its directories, the directories themselves.
   */
  traces(): Promise<string[]>;
}

/** What a shell command printed. */
export interface ShellResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A raw Engine API call; resolves with the status and the body text. */
export function engineRequest(
  address: EngineAddress,
  method: string,
  path: string,
  body?: unknown,
  timeoutMs = 30_000,
): Promise<{ status: number; text: string; headers: Record<string, string> }> {
  const payload = body === undefined
    ? undefined
    : body instanceof Uint8Array
    ? body
    : new TextEncoder().encode(JSON.stringify(body));
  const headers: Record<string, string> = {};
  if (payload !== undefined) {
    headers["Content-Type"] = body instanceof Uint8Array
      ? "application/x-tar"
      : "application/json";
    headers["Content-Length"] = String(payload.byteLength);
  }
  return new Promise((resolve, reject) => {
    const onResponse = (res: import("node:http").IncomingMessage) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          text,
          headers: Object.fromEntries(
            Object.entries(res.headers).map((
              [k, v],
            ) => [k, Array.isArray(v) ? v.join(",") : String(v)]),
          ),
        }));
      res.on("error", reject);
    };
    const req = "socketPath" in address
      ? httpRequest({
        socketPath: address.socketPath,
        path,
        method,
        headers,
        timeout: timeoutMs,
      }, onResponse)
      : httpsRequest({
        host: address.host,
        port: address.port,
        path,
        method,
        headers,
        timeout: timeoutMs,
        ca: address.ca,
        cert: address.cert,
        key: address.key,
      }, onResponse);
    req.on("error", reject);
    req.on(
      "timeout",
      () => req.destroy(new Error(`${method} ${path}: timeout`)),
    );
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** {@linkcode engineRequest} with the body parsed; null for 404 or empty. */
export async function engineApi(
  address: EngineAddress,
  method: string,
  path: string,
  body?: unknown,
): Promise<unknown> {
  const r = await engineRequest(address, method, path, body);
  if (r.status === 404) return null;
  if (r.status >= 400) {
    throw new Error(`engine ${method} ${path}: ${r.status} ${r.text}`);
  }
  if (r.text === "") return null;
  try {
    return JSON.parse(r.text);
  } catch {
    return r.text;
  }
}

/** True when the engine answers `/_ping` with OK. */
export async function pingEngine(address: EngineAddress): Promise<boolean> {
  try {
    const r = await engineRequest(address, "GET", "/_ping", undefined, 2000);
    return r.status === 200;
  } catch {
    return false;
  }
}

/** Every container, image and volume on the engine. */
export async function inventoryOf(address: EngineAddress): Promise<Inventory> {
  const containers = (await engineApi(
    address,
    "GET",
    "/containers/json?all=1",
  ) ?? []) as {
    Id: string;
    Names?: string[];
    Labels?: Record<string, string>;
  }[];
  const images = (await engineApi(address, "GET", "/images/json") ?? []) as {
    Id: string;
    ParentId?: string;
    RepoTags?: string[] | null;
    Labels?: Record<string, string> | null;
  }[];
  const volumes = ((await engineApi(address, "GET", "/volumes")) as {
    Volumes?: { Name: string; Labels?: Record<string, string> | null }[] | null;
  } | null)?.Volumes ?? [];
  return {
    containers: containers.map((c) => ({
      id: c.Id,
      names: c.Names ?? [],
      labels: c.Labels ?? {},
    })),
    images: images.map((i) => ({
      id: i.Id,
      // Untagged images show as "<none>:<none>".
      names: (i.RepoTags ?? []).filter((t) => !t.startsWith("<none>")),
      labels: i.Labels ?? {},
      parent: i.ParentId ?? "",
    })),
    volumes: volumes.map((v) => ({
      id: v.Name,
      names: [v.Name],
      labels: v.Labels ?? {},
    })),
  };
}

/**
 * Whether an image is one the spec lets outlive a run, given every image on
 * the engine (`all`): a trial image built from a Dockerfile (tagged
 * `ratchet-trial:…`, `ratchet.image=default|custom`: built once per ratchet
 * version or Dockerfile), or a prepared-image cache "labelled as such" (a
 * tag, or a `ratchet.*` label of its own, naming it prepared or a cache).
 * Never an untagged image, and never on the strength of a label inherited
 * from its parent: an image built or committed on top of another carries
 * the parent's labels, so a tree image on a prepared image would otherwise
 * pass for the cache.
 */
export function isKeptImage(
  image: EngineObject,
  all: EngineObject[] = [],
): boolean {
  if (image.names.length === 0) return false;
  const kind = image.labels["ratchet.image"];
  if (
    (kind === "default" || kind === "custom") &&
    image.names.some((n) => /(^|\/)ratchet-trial:/.test(n))
  ) {
    return true;
  }
  if (image.names.some((n) => /prepared|cache/i.test(n.split(":")[0]!))) {
    return true;
  }
  const parent = all.find((o) => o.id === image.parent);
  return Object.entries(image.labels).some(([k, v]) =>
    k.startsWith("ratchet.") && v !== "" &&
    /prepared|cache/i.test(`${k}=${v}`) && parent?.labels[k] !== v
  );
}

/** Whether an object carries any `ratchet.*` label or a ratchet-* name. */
export function isRatchets(o: EngineObject): boolean {
  return Object.keys(o.labels).some((k) => k.startsWith("ratchet.")) ||
    o.names.some((n) => /(^|\/)ratchet[-_]/.test(n));
}

/**
 * What `after` holds that `before` did not, as readable lines: every new
 * container and volume, and every new image that {@linkcode isKeptImage}
 * does not allow (`keep` overrides). With `onlyRatchets` (a shared engine
 * other tests use too) only objects that are ratchet's count.
 */
export function leftovers(
  before: Inventory,
  after: Inventory,
  options: {
    keep?: (image: EngineObject, all: EngineObject[]) => boolean;
    onlyRatchets?: boolean;
  } = {},
): string[] {
  const keep = options.keep ?? isKeptImage;
  const known = (list: EngineObject[]) => new Set(list.map((o) => o.id));
  const fresh = (now: EngineObject[], then: EngineObject[]) => {
    const seen = known(then);
    return now.filter((o) =>
      !seen.has(o.id) && (!options.onlyRatchets || isRatchets(o))
    );
  };
  const show = (kind: string, o: EngineObject) =>
    `${kind} ${o.id.replace(/^sha256:/, "").slice(0, 12)} ${
      o.names.join(",")
    } ${JSON.stringify(o.labels)}`;
  return [
    ...fresh(after.containers, before.containers).map((o) =>
      show("container", o)
    ),
    ...fresh(after.images, before.images).filter((o) => !keep(o, after.images))
      .map((o) => show("image", o)),
    ...fresh(after.volumes, before.volumes).map((o) => show("volume", o)),
  ];
}

// ---------------------------------------------------------------------------
// Tools the engines need (installed only when missing)

async function onPath(command: string): Promise<boolean> {
  const out = await new Deno.Command("sh", {
    args: ["-c", 'command -v "$1"', "sh", command],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

async function run(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<ShellResult> {
  const out = await new Deno.Command(command, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    ...(options.env ? { env: options.env } : {}),
    ...(options.cwd ? { cwd: options.cwd } : {}),
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

async function mustRun(
  command: string,
  args: string[],
  options: { env?: Record<string, string>; cwd?: string } = {},
): Promise<string> {
  const r = await run(command, args, options);
  if (r.code !== 0) {
    throw new Error(
      `${command} ${args.join(" ")} failed (${r.code}): ${
        r.stderr.slice(-2000)
      }`,
    );
  }
  return r.stdout;
}

/** `apt-get install` the packages whose command is missing (root only). */
async function ensureCommands(wanted: Record<string, string>): Promise<void> {
  const missing: string[] = [];
  for (const [command, pkg] of Object.entries(wanted)) {
    if (!(await onPath(command))) missing.push(pkg);
  }
  if (missing.length === 0) return;
  await mustRun("sh", [
    "-c",
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null',
    "sh",
    ...missing,
  ]);
}

/**
 * Remove engine directories a killed test process left under
 * {@linkcode ENGINES_DIR}: those whose processes are all gone and that are
 * older than ten minutes (a directory being set up has no pid file yet).
 */
async function sweepStale(): Promise<void> {
  await Deno.mkdir(ENGINES_DIR, { recursive: true });
  for await (const e of Deno.readDir(ENGINES_DIR)) {
    const dir = join(ENGINES_DIR, e.name);
    const info = await Deno.stat(dir).catch(() => null);
    if (info === null || info.mtime === null) continue;
    if (Date.now() - info.mtime.getTime() < 10 * 60_000) continue;
    if (processesNaming(dir).length > 0) continue;
    for (const m of mountsUnder(dir).reverse()) {
      await run("umount", ["-l", m]);
    }
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}

/** The directories an engine that must not see ratchet's files hides. */
export function hiddenDirectories(): string[] {
  const tmp = Deno.env.get("TMPDIR") ?? "/tmp";
  const home = Deno.env.get("HOME");
  const dirs = [tmp, CHECKOUT, ...(home ? [home] : [])];
  // Never "/" or an ancestor of the engines' own directory.
  return [...new Set(dirs)].filter((d) =>
    d !== "/" && d !== "" && !`${ENGINES_DIR}/`.startsWith(`${d}/`)
  );
}

/** A private dockerd as a {@linkcode TestEngine}. */
function dockerdEngine(
  kind: EngineKind,
  label: string,
  dockerd: PrivateDockerd,
  address: EngineAddress,
  env: Record<string, string>,
  extra: { dirs: string[]; cleanup: () => Promise<void> },
): TestEngine {
  const dirs = [dockerd.dir, ...extra.dirs];
  const pid = dockerd.pid();
  const host = namespacesOf(Deno.pid, ["net", "mnt"]);
  // Its own namespaces (never the host's, which live on after it).
  const namespaces = pid === null
    ? []
    : namespacesOf(pid, ["net", "mnt"]).filter((ns) => !host.includes(ns));
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await dockerd.close();
    await extra.cleanup();
  };
  return {
    kind,
    label,
    dockerHost: env.DOCKER_HOST!,
    env,
    address,
    sharesFilesystem: false,
    pid: () => (closed ? null : dockerd.pid()),
    api: (method, path, body) => engineApi(address, method, path, body),
    async hostShell(script) {
      const pid = dockerd.pid();
      if (pid === null) throw new Error(`${label} is not running`);
      return await run("nsenter", [
        `--target=${pid}`,
        "--mount",
        "sh",
        "-c",
        script,
      ]);
    },
    inventory: () => inventoryOf(address),
    close,
    traces: () => tracesOf(dirs, namespaces),
    [Symbol.asyncDispose]: close,
  };
}

/**
 * A dockerd that cannot see ratchet's files: started under `unshare -m -n`
 * (its own mount and network namespaces; `--bridge none --iptables=false`
 * only ever apply inside its namespace, so the host's docker0 is untouched),
 * with an empty tmpfs over each of `hide` (default: TMPDIR, which holds the
 * test repositories and ratchet's temporary files, ratchet's checkout and
 * HOME), its own data root, exec root, pid file and socket under
 * {@linkcode ENGINES_DIR}. `images` are loaded with `docker save | docker
 * load` from the shared daemon.
 */
export async function startHiddenEngine(
  options: { images?: string[]; hide?: string[] } = {},
): Promise<TestEngine> {
  await ensureCommands({ unshare: "util-linux", nsenter: "util-linux" });
  await sweepStale();
  const dockerd = await startPrivateDockerd(
    options.images ?? ["busybox:latest"],
    { hide: options.hide ?? hiddenDirectories(), baseDir: ENGINES_DIR },
  );
  const socketPath = dockerd.host.slice("unix://".length);
  return dockerdEngine(
    "hidden",
    `hidden-filesystem dockerd (${dockerd.host})`,
    dockerd,
    { socketPath },
    { DOCKER_HOST: dockerd.host },
    { dirs: [], cleanup: () => Promise.resolve() },
  );
}

/** PEM files of a test CA, a server certificate and a client certificate. */
export interface TlsFiles {
  dir: string;
  /** Holds ca.pem, cert.pem, key.pem: what DOCKER_CERT_PATH names. */
  clientDir: string;
  caPath: string;
  serverCertPath: string;
  serverKeyPath: string;
  clientCertPath: string;
  clientKeyPath: string;
}

/**
 * Make a CA, a server certificate for IP 127.0.0.1 (serverAuth) and a client
 * certificate (clientAuth) with openssl in `dir`; the client's files go to
 * `dir/client` under the names the Docker CLI expects.
 */
export async function makeTlsFiles(
  dir: string,
  cn = "ratchet-test",
): Promise<TlsFiles> {
  await ensureCommands({ openssl: "openssl" });
  const clientDir = join(dir, "client");
  await Deno.mkdir(clientDir, { recursive: true });
  const ssl = (...args: string[]) => mustRun("openssl", args, { cwd: dir });
  await ssl(
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca-key.pem",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    `/CN=${cn}-ca`,
  );
  const sign = async (name: string, subject: string, ext: string) => {
    await ssl(
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}-key.pem`,
      "-out",
      `${name}.csr`,
      "-subj",
      subject,
    );
    await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
    await ssl(
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca-key.pem",
      "-CAcreateserial",
      "-out",
      `${name}-cert.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    );
  };
  await sign(
    "server",
    "/CN=127.0.0.1",
    "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n",
  );
  await sign("client", `/CN=${cn}-client`, "extendedKeyUsage=clientAuth\n");
  await Deno.copyFile(join(dir, "ca.pem"), join(clientDir, "ca.pem"));
  await Deno.copyFile(
    join(dir, "client-cert.pem"),
    join(clientDir, "cert.pem"),
  );
  await Deno.copyFile(join(dir, "client-key.pem"), join(clientDir, "key.pem"));
  return {
    dir,
    clientDir,
    caPath: join(dir, "ca.pem"),
    serverCertPath: join(dir, "server-cert.pem"),
    serverKeyPath: join(dir, "server-key.pem"),
    clientCertPath: join(clientDir, "cert.pem"),
    clientKeyPath: join(clientDir, "key.pem"),
  };
}

/**
 * A remote engine on tcp://127.0.0.1:PORT with TLS, client certificates
 * verified (`--tlsverify`).
 *
 * How, and why this way: the constraint is that a second dockerd in the
 * host's network namespace must not run `--bridge none` (it deletes the
 * host's docker0), while 127.0.0.1 inside a private network namespace is
 * out of the host's reach. Rather than give a host-namespace dockerd a
 * bridge of its own (it would still share the host's interfaces, routes and
 * sysctls with the shared daemon) or put a forwarder in between (then the
 * daemon's TLS would not be the TLS ratchet talks to), the listening socket
 * is made in the host's namespace (127.0.0.1, a free port) by a tiny perl
 * program and handed to dockerd as fd 3 through systemd socket activation
 * (`-H fd://`, LISTEN_FDS); dockerd itself runs in its own network and
 * mount namespaces exactly like {@linkcode startHiddenEngine} (same `hide`),
 * so nothing of the host's network is touched, and it terminates TLS itself
 * with `--tlsverify`: the connection ratchet makes is verified TLS with a
 * client certificate, end to end, with no forwarder.
 */
export async function startTlsEngine(
  options: { images?: string[]; hide?: string[] } = {},
): Promise<TestEngine & { tls: TlsFiles }> {
  await ensureCommands({
    unshare: "util-linux",
    nsenter: "util-linux",
    perl: "perl-base",
  });
  await sweepStale();
  const certDir = await Deno.makeTempDir({ prefix: "rtls-", dir: ENGINES_DIR });
  let tls: TlsFiles;
  let dockerd: PrivateDockerd;
  try {
    tls = await makeTlsFiles(certDir);
    dockerd = await startPrivateDockerd(options.images ?? ["busybox:latest"], {
      hide: options.hide ?? hiddenDirectories(),
      baseDir: ENGINES_DIR,
      tls: {
        caPath: tls.caPath,
        certPath: tls.serverCertPath,
        keyPath: tls.serverKeyPath,
      },
    });
  } catch (error) {
    await Deno.remove(certDir, { recursive: true }).catch(() => {});
    throw error;
  }
  const port = dockerd.tlsPort;
  if (port === null) {
    await dockerd.close();
    await Deno.remove(certDir, { recursive: true }).catch(() => {});
    throw new Error("the TLS dockerd did not report its port");
  }
  const address: EngineAddress = {
    host: "127.0.0.1",
    port,
    ca: await Deno.readTextFile(tls.caPath),
    cert: await Deno.readTextFile(tls.clientCertPath),
    key: await Deno.readTextFile(tls.clientKeyPath),
  };
  const engine = dockerdEngine(
    "tls",
    `TLS dockerd (tcp://127.0.0.1:${port})`,
    dockerd,
    address,
    {
      DOCKER_HOST: `tcp://127.0.0.1:${port}`,
      DOCKER_TLS_VERIFY: "1",
      DOCKER_CERT_PATH: tls.clientDir,
    },
    {
      dirs: [certDir],
      cleanup: () => Deno.remove(certDir, { recursive: true }).catch(() => {}),
    },
  );
  if (!(await pingEngine(address))) {
    await engine.close();
    throw new Error(`the TLS dockerd does not answer on 127.0.0.1:${port}`);
  }
  return Object.assign(engine, { tls });
}

/**
 * Podman's Docker-compatible API: `podman system service --time=0
 * unix://…/podman.sock` (Debian's podman + catatonit; provisioning with
 * PROVISION_PODMAN=1 installs them and clears `default_ulimits`, which this
 * does too when missing). `images` must resolve through the socket; those
 * missing from Podman's store are copied from the shared daemon. Podman's
 * store is the host's, so close() removes every container, volume and image
 * that was not there when the engine started, then stops the service.
 */
export async function startPodmanEngine(
  options: { images?: string[] } = {},
): Promise<TestEngine> {
  await ensureCommands({ podman: "podman" });
  if (!(await Deno.stat("/usr/libexec/podman/catatonit").catch(() => null))) {
    await mustRun("sh", [
      "-c",
      "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends catatonit >/dev/null",
    ]);
  }
  const conf = await Deno.readTextFile("/etc/containers/containers.conf")
    .catch(() => "");
  if (!/^default_ulimits/m.test(conf)) {
    await Deno.mkdir("/etc/containers", { recursive: true });
    await Deno.writeTextFile(
      "/etc/containers/containers.conf",
      "[containers]\ndefault_ulimits = []\n",
      { append: true },
    );
  }
  await sweepStale();
  const dir = await Deno.makeTempDir({ prefix: "rpm-", dir: ENGINES_DIR });
  const socketPath = join(dir, "podman.sock");
  const address: EngineAddress = { socketPath };
  const log = await Deno.open(join(dir, "podman.log"), {
    create: true,
    append: true,
  });
  const child = new Deno.Command("podman", {
    args: ["system", "service", "--time=0", `unix://${socketPath}`],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  child.stderr.pipeTo(log.writable, { preventClose: true }).catch(() => {});
  let before: Inventory = { containers: [], images: [], volumes: [] };
  let closed = false;

  const stopService = async () => {
    if (alive(child.pid)) {
      try {
        child.kill("SIGTERM");
      } catch { /* gone */ }
    }
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
    await waitGone(child.pid, 10_000);
  };

  const close = async () => {
    if (closed) return;
    closed = true;
    if (await pingEngine(address)) {
      // What the test added to the host's store goes. A container that
      // others joined (a network holder) can only go after them: retry.
      for (let round = 0; round < 3; round++) {
        const now = await inventoryOf(address).catch(() => null);
        if (now === null) break;
        const seen = new Set(before.containers.map((c) => c.id));
        const extra = now.containers.filter((c) => !seen.has(c.id));
        if (extra.length === 0) break;
        for (const c of extra) {
          await engineRequest(
            address,
            "DELETE",
            `/containers/${c.id}?force=1&v=1`,
          ).catch(() => {});
        }
      }
      const now = await inventoryOf(address).catch(() => null);
      if (now !== null) {
        const volumes = new Set(before.volumes.map((v) => v.id));
        for (const v of now.volumes.filter((v) => !volumes.has(v.id))) {
          await engineRequest(address, "DELETE", `/volumes/${v.id}?force=1`)
            .catch(() => {});
        }
        const images = new Set(before.images.map((i) => i.id));
        for (const i of now.images.filter((i) => !images.has(i.id))) {
          await engineRequest(address, "DELETE", `/images/${i.id}?force=1`)
            .catch(() => {});
        }
      }
    }
    await stopService();
    log.close();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };

  try {
    const end = Date.now() + 60_000;
    while (!(await pingEngine(address))) {
      if (Date.now() > end || !alive(child.pid)) {
        const text = await Deno.readTextFile(join(dir, "podman.log")).catch(
          () => "",
        );
        throw new Error(
          `podman system service did not answer in 60 s:\n${text.slice(-2000)}`,
        );
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    for (const image of options.images ?? ["busybox:latest"]) {
      const path = `/images/${encodeURIComponent(image)}/json`;
      if (await engineApi(address, "GET", path) !== null) continue;
      await mustRun("sh", [
        "-c",
        'docker save "$1" | podman load >/dev/null && (podman image exists "docker.io/library/$1" || podman tag "localhost/$1" "docker.io/library/$1")',
        "sh",
        image,
      ], {
        env: {
          ...Deno.env.toObject(),
          DOCKER_HOST: "unix:///var/run/docker.sock",
        },
      });
      if (await engineApi(address, "GET", path) === null) {
        throw new Error(`${image} does not resolve through Podman's socket`);
      }
    }
    before = await inventoryOf(address);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    kind: "podman",
    label: `Podman (unix://${socketPath})`,
    dockerHost: `unix://${socketPath}`,
    env: { DOCKER_HOST: `unix://${socketPath}` },
    address,
    sharesFilesystem: true,
    pid: () => (closed ? null : child.pid),
    api: (method, path, body) => engineApi(address, method, path, body),
    hostShell: (script) => run("sh", ["-c", script]),
    inventory: () => inventoryOf(address),
    close,
    traces: () => tracesOf([dir], []),
    [Symbol.asyncDispose]: close,
  };
}

/** Start an engine of `kind` (see the three starters). */
export function startEngine(
  kind: EngineKind,
  options: { images?: string[] } = {},
): Promise<TestEngine> {
  switch (kind) {
    case "hidden":
      return startHiddenEngine(options);
    case "podman":
      return startPodmanEngine(options);
    case "tls":
      return startTlsEngine(options);
  }
}

/** The namespaces (`net:[…]`, `mnt:[…]`) process `pid` is in. */
function namespacesOf(pid: number, kinds: string[]): string[] {
  const out: string[] = [];
  for (const kind of kinds) {
    try {
      out.push(Deno.readLinkSync(`/proc/${pid}/ns/${kind}`));
    } catch { /* gone */ }
  }
  return out;
}

/** Live processes inside any of `namespaces`. */
function processesIn(namespaces: string[]): number[] {
  if (namespaces.length === 0) return [];
  const wanted = new Set(namespaces);
  const out: number[] = [];
  for (const e of Deno.readDirSync("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const pid = Number(e.name);
    if (
      namespacesOf(pid, ["net", "mnt"]).some((ns) => wanted.has(ns)) &&
      alive(pid)
    ) {
      out.push(pid);
    }
  }
  return out;
}

/**
 * What is left on the host of an engine that used `dirs` and ran in
 * `namespaces` (its own, never the host's): live processes naming a
 * directory or inside a namespace, mounts under a directory, the
 * directories. Empty when it left nothing.
 */
async function tracesOf(
  dirs: string[],
  namespaces: string[],
): Promise<string[]> {
  const traces: string[] = [];
  for (const dir of dirs) {
    for (const pid of processesNaming(dir)) {
      traces.push(`process ${pid} naming ${dir}`);
    }
    for (const m of mountsUnder(dir)) traces.push(`mount ${m}`);
    if (await Deno.lstat(dir).then(() => true, () => false)) {
      traces.push(`directory ${dir}`);
    }
  }
  for (const pid of processesIn(namespaces)) {
    traces.push(`process ${pid} in the engine's namespace`);
  }
  return traces;
}
