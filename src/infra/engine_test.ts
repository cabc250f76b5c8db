import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { EnvironmentError, ExitCode } from "../errors.ts";
import { resolveEngine } from "./engine.ts";

/** A fake home with `.docker/config.json` and contexts; removed on dispose. */
async function fakeHome(
  config: unknown,
  contexts: Record<string, unknown> = {},
  tlsContexts: string[] = [],
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-engine-test-" });
  const docker = join(dir, ".docker");
  await Deno.mkdir(docker, { recursive: true });
  if (config !== undefined) {
    await Deno.writeTextFile(
      join(docker, "config.json"),
      JSON.stringify(config),
    );
  }
  for (const [name, meta] of Object.entries(contexts)) {
    const id = createHash("sha256").update(name).digest("hex");
    const metaDir = join(docker, "contexts", "meta", id);
    await Deno.mkdir(metaDir, { recursive: true });
    await Deno.writeTextFile(
      join(metaDir, "meta.json"),
      typeof meta === "string" ? meta : JSON.stringify(meta),
    );
  }
  for (const name of tlsContexts) {
    const id = createHash("sha256").update(name).digest("hex");
    const tlsDir = join(docker, "contexts", "tls", id, "docker");
    await Deno.mkdir(tlsDir, { recursive: true });
    await Deno.writeTextFile(join(tlsDir, "ca.pem"), "ca");
    await Deno.writeTextFile(join(tlsDir, "cert.pem"), "cert");
  }
  return {
    dir,
    async [Symbol.asyncDispose]() {
      await Deno.remove(dir, { recursive: true });
    },
  };
}

const noSockets = {
  exists: () => false,
  defaultSocket: "/nonexistent/docker.sock",
};

function contextMeta(name: string, host: string, skipTls = false) {
  return {
    Name: name,
    Metadata: {},
    Endpoints: { docker: { Host: host, SkipTLSVerify: skipTls } },
  };
}

Deno.test("resolveEngine() uses a unix DOCKER_HOST over everything else", async () => {
  await using home = await fakeHome({ currentContext: "other" }, {
    other: contextMeta("other", "tcp://10.0.0.1:2375"),
  });
  const endpoint = resolveEngine(
    { DOCKER_HOST: "unix:///tmp/x/docker.sock", DOCKER_CONTEXT: "other" },
    { homeDir: home.dir, ...noSockets },
  );
  assert.equal(endpoint.protocol, "unix");
  assert.equal(
    endpoint.protocol === "unix" && endpoint.socketPath,
    "/tmp/x/docker.sock",
  );
  assert.equal(endpoint.source, "DOCKER_HOST");
});

Deno.test("resolveEngine() reads tcp DOCKER_HOST with TLS settings", () => {
  const plain = resolveEngine(
    { DOCKER_HOST: "tcp://127.0.0.1:2375" },
    noSockets,
  );
  assert.deepEqual(
    plain.protocol === "http" && [plain.host, plain.port, plain.tls],
    ["127.0.0.1", 2375, null],
  );

  const tls = resolveEngine({
    DOCKER_HOST: "tcp://docker.example:2376",
    DOCKER_TLS_VERIFY: "1",
    DOCKER_CERT_PATH: "/certs",
  }, noSockets);
  assert.equal(tls.protocol, "https");
  assert.ok(tls.protocol === "https");
  assert.equal(tls.host, "docker.example");
  assert.equal(tls.port, 2376);
  assert.deepEqual(tls.tls, {
    caPath: "/certs/ca.pem",
    certPath: "/certs/cert.pem",
    keyPath: "/certs/key.pem",
    verify: true,
  });
});

Deno.test("resolveEngine() defaults the tcp port by TLS and takes certs from the config dir", () => {
  const endpoint = resolveEngine(
    { DOCKER_HOST: "tcp://h", DOCKER_TLS: "1", HOME: "/home/u" },
    noSockets,
  );
  assert.ok(endpoint.protocol === "https");
  assert.equal(endpoint.port, 2376);
  assert.equal(endpoint.tls?.verify, false);
  assert.equal(endpoint.tls?.caPath, "/home/u/.docker/ca.pem");
  const plain = resolveEngine({ DOCKER_HOST: "tcp://h" }, noSockets);
  assert.ok(plain.protocol === "http");
  assert.equal(plain.port, 2375);
});

Deno.test("resolveEngine() passes ssh DOCKER_HOST through with user and port", () => {
  const endpoint = resolveEngine(
    {
      DOCKER_HOST: "ssh://me@build.example:2222",
      SSH_AUTH_SOCK: "/tmp/agent.sock",
    },
    noSockets,
  );
  assert.ok(endpoint.protocol === "ssh");
  assert.equal(endpoint.host, "build.example");
  assert.equal(endpoint.port, 2222);
  assert.equal(endpoint.username, "me");
  assert.equal(endpoint.agentSocket, "/tmp/agent.sock");
  const bare = resolveEngine({ DOCKER_HOST: "ssh://build.example" }, noSockets);
  assert.ok(bare.protocol === "ssh");
  assert.equal(bare.port, 22);
  assert.equal(bare.username, null);
  assert.equal(bare.agentSocket, null);
});

Deno.test("resolveEngine() rejects an unusable DOCKER_HOST with exit 3", () => {
  for (
    const value of [
      "npipe:////./pipe/docker_engine",
      "unix://",
      "tcp://",
      "nonsense",
    ]
  ) {
    assert.throws(
      () => resolveEngine({ DOCKER_HOST: value }, noSockets),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.exitCode === ExitCode.environment &&
        error.message.includes(value) &&
        (error.hint ?? "").includes("unix://"),
      value,
    );
  }
});

Deno.test("resolveEngine() follows currentContext from config.json", async () => {
  await using home = await fakeHome({ currentContext: "colima" }, {
    colima: contextMeta(
      "colima",
      "unix:///Users/u/.colima/default/docker.sock",
    ),
  });
  const endpoint = resolveEngine({}, { homeDir: home.dir, ...noSockets });
  assert.ok(endpoint.protocol === "unix");
  assert.equal(endpoint.socketPath, "/Users/u/.colima/default/docker.sock");
  assert.equal(endpoint.source, 'docker context "colima"');
});

Deno.test("resolveEngine() lets DOCKER_CONTEXT override the configured context", async () => {
  await using home = await fakeHome({ currentContext: "colima" }, {
    colima: contextMeta("colima", "unix:///colima.sock"),
    remote: contextMeta("remote", "tcp://10.1.2.3:2376"),
  }, ["remote"]);
  const endpoint = resolveEngine({ DOCKER_CONTEXT: "remote" }, {
    homeDir: home.dir,
    ...noSockets,
    exists: (p) => p.includes("/contexts/tls/") && !p.endsWith("key.pem"),
  });
  assert.ok(endpoint.protocol === "https");
  assert.equal(endpoint.host, "10.1.2.3");
  assert.equal(endpoint.tls?.verify, true);
  assert.ok(endpoint.tls?.caPath?.endsWith("/docker/ca.pem"));
  assert.equal(endpoint.tls?.keyPath, null);
});

Deno.test("resolveEngine() honours DOCKER_CONFIG for the config directory", async () => {
  await using home = await fakeHome({ currentContext: "x" }, {
    x: contextMeta("x", "unix:///from-docker-config.sock"),
  });
  const endpoint = resolveEngine(
    { DOCKER_CONFIG: join(home.dir, ".docker"), HOME: "/nowhere" },
    noSockets,
  );
  assert.equal(endpoint.url, "unix:///from-docker-config.sock");
});

Deno.test('resolveEngine() treats the "default" context as the default socket', async () => {
  await using home = await fakeHome({ currentContext: "default" });
  const endpoint = resolveEngine({}, {
    homeDir: home.dir,
    defaultSocket: "/run/default.sock",
    exists: (p) => p === "/run/default.sock",
  });
  assert.ok(endpoint.protocol === "unix");
  assert.equal(endpoint.socketPath, "/run/default.sock");
  assert.equal(endpoint.source, "default socket");
});

Deno.test("resolveEngine() fails with exit 3 on an unknown or broken context", async () => {
  await using home = await fakeHome({ currentContext: "gone" }, {
    broken: "{not json",
    empty: { Name: "empty", Endpoints: {} },
  });
  for (
    const [env, words] of [
      [{}, "gone"],
      [{ DOCKER_CONTEXT: "broken" }, "not valid JSON"],
      [{ DOCKER_CONTEXT: "empty" }, "no docker endpoint"],
    ] as const
  ) {
    assert.throws(
      () => resolveEngine(env, { homeDir: home.dir, ...noSockets }),
      (error: unknown) =>
        error instanceof EnvironmentError && error.message.includes(words) &&
        error.hint !== undefined,
    );
  }
});

Deno.test("resolveEngine() falls back to the default socket without config", async () => {
  await using home = await fakeHome(undefined);
  const endpoint = resolveEngine({}, {
    homeDir: home.dir,
    defaultSocket: "/var/run/docker.sock",
    exists: (p) => p === "/var/run/docker.sock",
  });
  assert.equal(endpoint.url, "unix:///var/run/docker.sock");
});

Deno.test("resolveEngine() ignores a corrupt config.json", async () => {
  await using home = await fakeHome(undefined);
  await Deno.writeTextFile(join(home.dir, ".docker", "config.json"), "{oops");
  const endpoint = resolveEngine({}, {
    homeDir: home.dir,
    defaultSocket: "/d.sock",
    exists: () => true,
  });
  assert.equal(endpoint.url, "unix:///d.sock");
});

Deno.test("resolveEngine() uses the rootless socket when the default is missing", () => {
  const endpoint = resolveEngine({ XDG_RUNTIME_DIR: "/run/user/1000" }, {
    homeDir: "/home/u",
    defaultSocket: "/var/run/docker.sock",
    exists: (p) => p === "/run/user/1000/docker.sock",
  });
  assert.ok(endpoint.protocol === "unix");
  assert.equal(endpoint.socketPath, "/run/user/1000/docker.sock");
  assert.match(endpoint.source, /rootless/);
});

Deno.test("resolveEngine() finds Docker Desktop's socket in the home directory", () => {
  const endpoint = resolveEngine({}, {
    homeDir: "/Users/u",
    defaultSocket: "/var/run/docker.sock",
    exists: (p) => p === "/Users/u/.docker/run/docker.sock",
  });
  assert.equal(endpoint.url, "unix:///Users/u/.docker/run/docker.sock");
});

Deno.test("resolveEngine() hints at rootless Docker when no socket exists", () => {
  const endpoint = resolveEngine({ XDG_RUNTIME_DIR: "/run/user/1000" }, {
    homeDir: "/home/u",
    defaultSocket: "/var/run/docker.sock",
    exists: () => false,
  });
  assert.equal(endpoint.url, "unix:///var/run/docker.sock");
  assert.match(
    endpoint.hint,
    /DOCKER_HOST=unix:\/\/\/run\/user\/1000\/docker\.sock/,
  );
  assert.match(endpoint.hint, /Start Docker/);
});
