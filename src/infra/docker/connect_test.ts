import assert from "node:assert/strict";
import { Agent as HttpsAgent } from "node:https";
import { join } from "node:path";
import { EnvironmentError } from "../../errors.ts";
import type { EngineEndpoint } from "../engine.ts";
import { dockerOptions } from "./connect.ts";

const base = { url: "u", source: "DOCKER_HOST", hint: "h" };

Deno.test("dockerOptions() connects to a unix socket, plain tcp and ssh as resolved", () => {
  assert.deepEqual(
    dockerOptions({ ...base, protocol: "unix", socketPath: "/run/d.sock" }),
    { socketPath: "/run/d.sock" },
  );
  assert.deepEqual(
    dockerOptions({
      ...base,
      protocol: "http",
      host: "10.0.0.2",
      port: 2375,
      tls: null,
    }),
    { protocol: "http", host: "10.0.0.2", port: 2375 },
  );
  assert.deepEqual(
    dockerOptions({
      ...base,
      protocol: "ssh",
      host: "gpu-box",
      port: 22,
      username: "me",
      agentSocket: "/tmp/agent.sock",
    }),
    {
      protocol: "ssh",
      host: "gpu-box",
      port: 22,
      username: "me",
      sshOptions: { agent: "/tmp/agent.sock" },
    },
  );
  assert.deepEqual(
    dockerOptions({
      ...base,
      protocol: "ssh",
      host: "gpu-box",
      port: 2222,
      username: null,
      agentSocket: null,
    }),
    { protocol: "ssh", host: "gpu-box", port: 2222 },
  );
});

Deno.test("dockerOptions() reads the TLS files, and skips verification only when told", async () => {
  const dir = await Deno.makeTempDir();
  try {
    for (const name of ["ca.pem", "cert.pem", "key.pem"]) {
      await Deno.writeTextFile(join(dir, name), `${name} text`);
    }
    const tls = {
      caPath: join(dir, "ca.pem"),
      certPath: join(dir, "cert.pem"),
      keyPath: join(dir, "key.pem"),
      verify: true,
    };
    const endpoint: EngineEndpoint = {
      ...base,
      url: "tcp://h:2376",
      protocol: "https",
      host: "h",
      port: 2376,
      tls,
    };
    const verified = dockerOptions(endpoint) as Record<string, unknown>;
    assert.equal(verified.ca, "ca.pem text");
    assert.equal(verified.cert, "cert.pem text");
    assert.equal(verified.key, "key.pem text");
    assert.equal(verified.agent, undefined);
    const unverified = dockerOptions({
      ...endpoint,
      tls: { ...tls, caPath: null, verify: false },
    }) as Record<string, unknown>;
    assert.equal(unverified.ca, undefined);
    assert.ok(unverified.agent instanceof HttpsAgent);
    assert.equal(
      (unverified.agent as HttpsAgent).options.rejectUnauthorized,
      false,
    );
    assert.throws(
      () =>
        dockerOptions({
          ...endpoint,
          tls: { ...tls, keyPath: join(dir, "missing.pem") },
        }),
      (e: unknown) =>
        e instanceof EnvironmentError &&
        e.message.includes(join(dir, "missing.pem")) &&
        e.message.includes("tcp://h:2376") &&
        /DOCKER_CERT_PATH/.test(e.hint ?? ""),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
