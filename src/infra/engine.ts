/**
 * Where the container engine is (spec section 1): `DOCKER_HOST`, else the
 * current `docker context`, else the default socket. This module only finds
 * the endpoint; `docker/connect.ts` connects to it. It reads the Docker CLI's own
 * files (`config.json`, context metadata) so ratchet talks to the same engine
 * as the user's `docker` command without running it.
 */
import { createHash } from "node:crypto";
import { join } from "node:path";
import { EnvironmentError } from "../errors.ts";

/** TLS material for a tcp endpoint (file paths; read when connecting). */
export interface EngineTls {
  caPath: string | null;
  certPath: string | null;
  keyPath: string | null;
  /** false for DOCKER_TLS without DOCKER_TLS_VERIFY, or a context's SkipTLSVerify. */
  verify: boolean;
}

/** Fields every endpoint shares. */
interface EndpointBase {
  /** A DOCKER_HOST-style URL, for messages. */
  url: string;
  /** Where it came from: "DOCKER_HOST", `docker context "name"`, "default socket", … */
  source: string;
  /** What to tell the user when nothing answers there. */
  hint: string;
}

/** An engine reachable through a unix socket (Linux, Docker Desktop, colima, rootless, Podman). */
export interface UnixEndpoint extends EndpointBase {
  protocol: "unix";
  socketPath: string;
}

/** An engine on tcp, plain (`http`) or TLS (`https`). */
export interface TcpEndpoint extends EndpointBase {
  protocol: "http" | "https";
  host: string;
  port: number;
  tls: EngineTls | null;
}

/** An engine reached through ssh (dockerode's `protocol: "ssh"`, with the ssh agent). */
export interface SshEndpoint extends EndpointBase {
  protocol: "ssh";
  host: string;
  port: number;
  username: string | null;
  /** SSH_AUTH_SOCK, used to authenticate; null when no agent runs. */
  agentSocket: string | null;
}

/** A resolved engine endpoint. */
export type EngineEndpoint = UnixEndpoint | TcpEndpoint | SshEndpoint;

/** Injection points for tests; production passes nothing. */
export interface ResolveEngineOptions {
  /** Home directory holding `.docker/` (default: HOME / USERPROFILE from `env`). */
  homeDir?: string;
  /** The platform's default socket (default `/var/run/docker.sock`). */
  defaultSocket?: string;
  /** Whether a path exists (default: a real stat). */
  exists?: (path: string) => boolean;
}

const DEFAULT_SOCKET = "/var/run/docker.sock";

const START_HINT =
  "Start Docker (or Docker Desktop / colima), or point DOCKER_HOST at a running engine (e.g. DOCKER_HOST=unix:///var/run/docker.sock).";

/**
 * Find the engine the way the Docker CLI does: `DOCKER_HOST` (unix://, tcp://
 * with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, ssh://) wins; else the context
 * named by DOCKER_CONTEXT or by `currentContext` in `~/.docker/config.json`
 * (or `$DOCKER_CONFIG/config.json`); else the default socket, falling back to
 * the rootless / Desktop / colima / Podman sockets when it does not exist.
 * Throws EnvironmentError for an unparsable DOCKER_HOST or an unknown context.
 */
export function resolveEngine(
  env: Record<string, string | undefined>,
  options: ResolveEngineOptions = {},
): EngineEndpoint {
  const exists = options.exists ?? pathExists;
  const home = options.homeDir ?? env.HOME ?? env.USERPROFILE ?? "";
  const configDir = nonEmpty(env.DOCKER_CONFIG) ?? join(home, ".docker");

  const agent = nonEmpty(env.SSH_AUTH_SOCK) ?? null;
  const dockerHost = nonEmpty(env.DOCKER_HOST);
  if (dockerHost !== undefined) {
    return parseHost(
      dockerHost,
      "DOCKER_HOST",
      tlsFromEnv(env, configDir),
      agent,
    );
  }

  const contextName = nonEmpty(env.DOCKER_CONTEXT) ??
    readCurrentContext(configDir);
  if (contextName !== undefined && contextName !== "default") {
    return contextEndpoint(contextName, configDir, exists, agent);
  }

  return defaultEndpoint(
    env,
    home,
    options.defaultSocket ?? DEFAULT_SOCKET,
    exists,
  );
}

/** Parse a DOCKER_HOST-style URL. */
function parseHost(
  value: string,
  source: string,
  tls: EngineTls | null,
  agentSocket: string | null,
): EngineEndpoint {
  const bad = (why: string) =>
    new EnvironmentError(`${source} is not usable: "${value}" (${why})`, {
      hint:
        "Use unix:///path/to/docker.sock, tcp://HOST:PORT or ssh://USER@HOST, or unset it to use the current docker context.",
    });
  const hint =
    `Check that the engine at ${value} (from ${source}) is running and reachable, or fix ${source}.`;
  if (value.startsWith("unix://")) {
    const socketPath = value.slice("unix://".length);
    if (socketPath === "") throw bad("no socket path");
    return { protocol: "unix", socketPath, url: value, source, hint };
  }
  if (value.startsWith("/")) {
    // The CLI accepts a bare socket path too.
    return {
      protocol: "unix",
      socketPath: value,
      url: `unix://${value}`,
      source,
      hint,
    };
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw bad("not a URL");
  }
  if (
    url.protocol === "tcp:" || url.protocol === "http:" ||
    url.protocol === "https:"
  ) {
    if (url.hostname === "") throw bad("no host");
    const useTls = tls !== null || url.protocol === "https:";
    const port = url.port === "" ? (useTls ? 2376 : 2375) : Number(url.port);
    return {
      protocol: useTls ? "https" : "http",
      host: url.hostname,
      port,
      tls: useTls
        ? (tls ?? { caPath: null, certPath: null, keyPath: null, verify: true })
        : null,
      url: value,
      source,
      hint,
    };
  }
  if (url.protocol === "ssh:") {
    if (url.hostname === "") throw bad("no host");
    return {
      protocol: "ssh",
      host: url.hostname,
      port: url.port === "" ? 22 : Number(url.port),
      username: url.username === "" ? null : decodeURIComponent(url.username),
      agentSocket,
      url: value,
      source,
      hint: `${hint} ratchet uses your ssh agent (SSH_AUTH_SOCK) for ${value}.`,
    };
  }
  throw bad(`unsupported scheme ${url.protocol.replace(/:$/, "")}://`);
}

/** TLS settings from DOCKER_TLS_VERIFY / DOCKER_TLS / DOCKER_CERT_PATH, or null. */
function tlsFromEnv(
  env: Record<string, string | undefined>,
  configDir: string,
): EngineTls | null {
  const verify = nonEmpty(env.DOCKER_TLS_VERIFY) !== undefined;
  const tls = verify || nonEmpty(env.DOCKER_TLS) !== undefined;
  if (!tls) return null;
  const certDir = nonEmpty(env.DOCKER_CERT_PATH) ?? configDir;
  return {
    caPath: join(certDir, "ca.pem"),
    certPath: join(certDir, "cert.pem"),
    keyPath: join(certDir, "key.pem"),
    verify,
  };
}

/** `currentContext` from config.json, or undefined when absent or unreadable. */
function readCurrentContext(configDir: string): string | undefined {
  const text = readText(join(configDir, "config.json"));
  if (text === null) return undefined;
  try {
    const parsed: unknown = JSON.parse(text);
    if (isRecord(parsed) && typeof parsed.currentContext === "string") {
      return nonEmpty(parsed.currentContext);
    }
  } catch {
    // The CLI would fail on a corrupt config.json; we only want the context
    // name, so fall through to the default socket instead.
  }
  return undefined;
}

/** The docker endpoint of a named context (`docker context inspect NAME`). */
function contextEndpoint(
  name: string,
  configDir: string,
  exists: (path: string) => boolean,
  agentSocket: string | null,
): EngineEndpoint {
  // The CLI stores each context under the sha256 of its name.
  const id = createHash("sha256").update(name).digest("hex");
  const metaPath = join(configDir, "contexts", "meta", id, "meta.json");
  const source = `docker context "${name}"`;
  const missing = new EnvironmentError(
    `The current docker context "${name}" was not found (${metaPath})`,
    {
      hint:
        "Run `docker context ls` and `docker context use NAME`, or set DOCKER_HOST.",
    },
  );
  const text = readText(metaPath);
  if (text === null) throw missing;
  let host: unknown;
  let skipVerify = false;
  try {
    const meta: unknown = JSON.parse(text);
    const endpoints = isRecord(meta) ? meta.Endpoints : undefined;
    const docker = isRecord(endpoints) ? endpoints.docker : undefined;
    if (isRecord(docker)) {
      host = docker.Host;
      skipVerify = docker.SkipTLSVerify === true;
    }
  } catch {
    throw new EnvironmentError(
      `The metadata of docker context "${name}" is not valid JSON (${metaPath})`,
      { hint: "Recreate the context with `docker context create`." },
    );
  }
  if (typeof host !== "string" || host === "") {
    throw new EnvironmentError(
      `docker context "${name}" has no docker endpoint (${metaPath})`,
      {
        hint: "Run `docker context inspect " + name +
          "`, or set DOCKER_HOST.",
      },
    );
  }
  const tlsDir = join(configDir, "contexts", "tls", id, "docker");
  const file = (f: string) => exists(join(tlsDir, f)) ? join(tlsDir, f) : null;
  const tls: EngineTls | null = exists(tlsDir)
    ? {
      caPath: file("ca.pem"),
      certPath: file("cert.pem"),
      keyPath: file("key.pem"),
      verify: !skipVerify,
    }
    : null;
  return parseHost(host, source, tls, agentSocket);
}

/**
 * The default socket, or — when it does not exist — the first socket of a
 * rootless engine, Docker Desktop, colima or Podman that does.
 */
function defaultEndpoint(
  env: Record<string, string | undefined>,
  home: string,
  defaultSocket: string,
  exists: (path: string) => boolean,
): UnixEndpoint {
  const runtimeDir = nonEmpty(env.XDG_RUNTIME_DIR);
  const rootless = runtimeDir === undefined
    ? undefined
    : join(runtimeDir, "docker.sock");
  const make = (socketPath: string, source: string, hint: string) => ({
    protocol: "unix" as const,
    socketPath,
    url: `unix://${socketPath}`,
    source,
    hint,
  });
  if (exists(defaultSocket)) {
    return make(defaultSocket, "default socket", START_HINT);
  }
  const candidates: Array<[string | undefined, string]> = [
    [rootless, "rootless socket ($XDG_RUNTIME_DIR/docker.sock)"],
    [
      home === "" ? undefined : join(home, ".docker", "run", "docker.sock"),
      "Docker Desktop socket",
    ],
    [
      home === "" ? undefined : join(home, ".colima", "default", "docker.sock"),
      "colima socket",
    ],
    [
      runtimeDir === undefined
        ? undefined
        : join(runtimeDir, "podman", "podman.sock"),
      "Podman socket",
    ],
  ];
  for (const [path, source] of candidates) {
    if (path !== undefined && exists(path)) {
      return make(
        path,
        source,
        `Start the engine behind ${path}, or set DOCKER_HOST.`,
      );
    }
  }
  const rootlessHint = rootless === undefined
    ? ""
    : ` For rootless Docker: \`systemctl --user start docker\` and DOCKER_HOST=unix://${rootless}.`;
  return make(
    defaultSocket,
    "default socket",
    `No Docker socket found at ${defaultSocket}. ${START_HINT}${rootlessHint}`,
  );
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === "" ? undefined : value;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function readText(path: string): string | null {
  try {
    return Deno.readTextFileSync(path);
  } catch {
    return null;
  }
}

function pathExists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}
