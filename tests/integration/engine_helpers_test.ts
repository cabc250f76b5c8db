/**
 * The test engines of tests/_helpers/engines.ts are what they claim to be:
 * the hidden-filesystem dockerd cannot see the repositories (a bind mount of
 * one fails, the directory is empty there); the TLS engine is reached over
 * verified TLS with client certificates on 127.0.0.1 while the daemon lives
 * in a network namespace of its own; Podman's socket resolves busybox; and
 * each leaves nothing behind when disposed (processes, mounts, directories,
 * namespaces, the host's docker0; on Podman, what the test added to the
 * host's store).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type EngineAddress,
  engineRequest,
  makeTlsFiles,
  startHiddenEngine,
  startPodmanEngine,
  startTlsEngine,
  type TestEngine,
} from "../_helpers/engines.ts";
import { tempDir, tempRepo } from "../_helpers/git_repo.ts";
import { canRunDockerd } from "../reliability/dockerd.ts";

/** Whether the host has a link named docker0 (the shared daemon's bridge). */
async function hasDocker0(): Promise<boolean> {
  const out = await new Deno.Command("ip", {
    args: ["link", "show", "docker0"],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

/** `sh -c script` in a busybox container on `engine`; its output and exit code. */
async function runIn(
  engine: TestEngine,
  script: string,
  hostConfig: Record<string, unknown> = {},
): Promise<{ code: number; output: string }> {
  const created = await engine.api("POST", "/containers/create", {
    Image: "busybox:latest",
    Cmd: ["sh", "-c", script],
    Labels: { "ratchet.test": "engine-helpers" },
    HostConfig: { NetworkMode: "none", ...hostConfig },
  }) as { Id: string };
  try {
    await engine.api("POST", `/containers/${created.Id}/start`);
    const waited = await engine.api(
      "POST",
      `/containers/${created.Id}/wait`,
    ) as { StatusCode: number };
    const logs = await engineRequest(
      engine.address,
      "GET",
      `/containers/${created.Id}/logs?stdout=1&stderr=1`,
    );
    return { code: waited.StatusCode, output: demux(logs.text) };
  } finally {
    await engine.api("DELETE", `/containers/${created.Id}?force=1`);
  }
}

/** The payloads of a multiplexed log stream (8-byte frame headers; no TTY). */
function demux(text: string): string {
  let out = "";
  let i = 0;
  while (i + 8 <= text.length) {
    const size = ((text.charCodeAt(i + 4) << 24) |
      (text.charCodeAt(i + 5) << 16) | (text.charCodeAt(i + 6) << 8) |
      text.charCodeAt(i + 7)) >>> 0;
    out += text.slice(i + 8, i + 8 + size);
    i += 8 + size;
  }
  return out;
}

/** The namespace of `kind` (net, mnt) a process is in. */
function nsOf(pid: number, kind = "net"): string {
  return Deno.readLinkSync(`/proc/${pid}/ns/${kind}`);
}

/** After close(): nothing of the engine on the host, docker0 as it was. */
async function assertGone(engine: TestEngine, docker0: boolean) {
  await engine.close();
  assert.deepEqual(await engine.traces(), [], `${engine.label} left traces`);
  assert.equal(await hasDocker0(), docker0, "the host's docker0 is untouched");
  const mounts = await Deno.readTextFile("/proc/self/mountinfo");
  assert.doesNotMatch(mounts, /ratchet-hidden/, "no hiding tmpfs on the host");
}

/** The engine cannot see `repo` (it is hidden), nor ratchet's checkout. */
async function assertHidden(engine: TestEngine, repoDir: string, file: string) {
  // A bind mount the way ratchet asks for one (HostConfig.Mounts) fails...
  const refused = await engineRequest(
    engine.address,
    "POST",
    "/containers/create",
    {
      Image: "busybox:latest",
      Cmd: ["true"],
      HostConfig: {
        Mounts: [{ Type: "bind", Source: repoDir, Target: "/repo" }],
      },
    },
  );
  assert.equal(refused.status, 400, refused.text);
  assert.match(refused.text, /bind source path does not exist/);
  // ...and the old-style Binds (which create a missing source) see nothing.
  const seen = await runIn(engine, "ls -A /repo; echo end", {
    Binds: [`${repoDir}:/repo:ro`],
  });
  assert.equal(seen.code, 0, seen.output);
  assert.equal(seen.output.trim(), "end", "the engine sees an empty dir");
  // Its host has no such file; ours has.
  const there = await engine.hostShell(`cat ${join(repoDir, file)}`);
  assert.notEqual(there.code, 0, there.stdout);
  assert.ok(await Deno.readTextFile(join(repoDir, file)));
  const checkout = new URL("../../main.ts", import.meta.url).pathname;
  assert.notEqual((await engine.hostShell(`test -e ${checkout}`)).code, 0);
}

dockerTest(
  "the hidden-filesystem dockerd runs containers but cannot see the test repositories or ratchet's checkout, lives in namespaces of its own, and leaves nothing behind",
  async () => {
    assert.ok(canRunDockerd(), "a private dockerd needs dockerd and root");
    const docker0 = await hasDocker0();
    await using repo = await tempRepo({ "secret.txt": "only ratchet's\n" });
    await using engine = await startHiddenEngine();
    assert.equal(engine.sharesFilesystem, false);
    assert.match(engine.env.DOCKER_HOST!, /^unix:\/\//);
    assert.ok(await engine.api("GET", "/images/busybox:latest/json"));
    const pid = engine.pid()!;
    assert.notEqual(nsOf(pid), nsOf(Deno.pid), "own network namespace");
    assert.notEqual(
      nsOf(pid, "mnt"),
      nsOf(Deno.pid, "mnt"),
      "own mount namespace",
    );
    const hello = await runIn(engine, "echo hello from the engine");
    assert.deepEqual(hello, { code: 0, output: "hello from the engine\n" });
    await assertHidden(engine, repo.dir, "secret.txt");
    await assertGone(engine, docker0);
    assert.equal(
      await Deno.readTextFile(join(repo.dir, "secret.txt")),
      "only ratchet's\n",
    );
  },
);

dockerTest(
  "the TLS engine answers only verified TLS with a trusted client certificate on 127.0.0.1 of the host, runs in namespaces of its own, cannot see the repositories, and leaves nothing behind",
  async () => {
    assert.ok(canRunDockerd(), "a private dockerd needs dockerd and root");
    const docker0 = await hasDocker0();
    await using repo = await tempRepo({ "secret.txt": "only ratchet's\n" });
    await using engine = await startTlsEngine();
    const port = Number(/:(\d+)$/.exec(engine.env.DOCKER_HOST!)?.[1]);
    assert.equal(engine.env.DOCKER_HOST, `tcp://127.0.0.1:${port}`);
    assert.equal(engine.env.DOCKER_TLS_VERIFY, "1");
    for (const f of ["ca.pem", "cert.pem", "key.pem"]) {
      assert.ok(await Deno.stat(join(engine.env.DOCKER_CERT_PATH!, f)));
    }
    const address = engine.address as Extract<EngineAddress, { port: number }>;
    assert.equal((await engineRequest(address, "GET", "/_ping")).text, "OK");
    // The daemon is not in the host's network namespace, yet serves on the
    // host's 127.0.0.1.
    assert.notEqual(nsOf(engine.pid()!), nsOf(Deno.pid));

    // The Docker CLI agrees: the same three variables reach the engine.
    const cli = await new Deno.Command("docker", {
      args: ["version", "--format", "{{.Server.Version}}"],
      env: engine.env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(cli.success, new TextDecoder().decode(cli.stderr));

    // Refused: no client certificate, a client certificate from another CA,
    // a server checked against another CA, plain http.
    await using other = await tempDir("ratchet-tls-other-");
    const stranger = await makeTlsFiles(other.dir, "stranger");
    const strangerCert = await Deno.readTextFile(stranger.clientCertPath);
    const strangerKey = await Deno.readTextFile(stranger.clientKeyPath);
    const strangerCa = await Deno.readTextFile(stranger.caPath);
    for (
      const [what, bad] of [
        ["no client certificate", { ...address, cert: "", key: "" }],
        ["an untrusted client certificate", {
          ...address,
          cert: strangerCert,
          key: strangerKey,
        }],
        ["an unverifiable server", { ...address, ca: strangerCa }],
      ] as const
    ) {
      const r = await engineRequest(bad, "GET", "/_ping", undefined, 5000)
        .then((x) => `answered ${x.status}`, (e) => `refused: ${e}`);
      assert.match(r, /^refused/, `${what}: ${r}`);
    }
    const plain = await fetch(`http://127.0.0.1:${port}/_ping`).then(
      async (r) => `${r.status} ${await r.text()}`,
      (e) => `refused: ${e}`,
    );
    assert.doesNotMatch(plain, /^200/, `plain http: ${plain}`);

    await assertHidden(engine, repo.dir, "secret.txt");
    await assertGone(engine, docker0);
    const after = await fetch(`http://127.0.0.1:${port}/_ping`).then(
      () => "answered",
      () => "closed",
    );
    assert.equal(after, "closed", "nothing listens on the port any more");
  },
);

dockerTest(
  "Podman's socket resolves busybox:latest and runs containers; closing it removes what the test added to Podman's store and stops the service",
  async () => {
    const docker0 = await hasDocker0();
    const podman = async (...args: string[]) =>
      new TextDecoder().decode(
        (await new Deno.Command("podman", { args, stdout: "piped" }).output())
          .stdout,
      ).trim().split("\n").filter((l) => l !== "");
    const imagesBefore = await podman("images", "-q", "--no-trunc");
    await using repo = await tempRepo({ "shared.txt": "podman sees it\n" });
    await using engine = await startPodmanEngine();
    assert.equal(engine.sharesFilesystem, true);
    const image = await engine.api("GET", "/images/busybox:latest/json") as {
      Id: string;
    } | null;
    assert.ok(image, "busybox:latest resolves through the socket");
    const version = await engine.api("GET", "/version") as {
      Components: { Name: string }[];
    };
    assert.ok(version.Components.some((c) => c.Name === "Podman Engine"));
    // It shares the host's files.
    const seen = await runIn(engine, "cat /repo/shared.txt", {
      Binds: [`${repo.dir}:/repo:ro`],
    });
    assert.deepEqual(seen, { code: 0, output: "podman sees it\n" });
    // Things a test leaves: a stopped container, a committed image, a volume.
    const c = await engine.api("POST", "/containers/create", {
      Image: "busybox:latest",
      Cmd: ["true"],
      Labels: { "ratchet.test": "engine-helpers" },
    }) as { Id: string };
    await engine.api(
      "POST",
      `/commit?container=${c.Id}&repo=ratchet-helper-probe&tag=x`,
      {},
    );
    await engine.api("POST", "/volumes/create", {
      Name: "ratchet-helper-probe",
    });
    assert.ok((await podman("ps", "-a", "-q", "--no-trunc")).includes(c.Id));
    assert.ok(
      (await podman("volume", "ls", "-q")).includes("ratchet-helper-probe"),
    );
    await assertGone(engine, docker0);
    assert.ok(!(await podman("ps", "-a", "-q", "--no-trunc")).includes(c.Id));
    assert.ok(
      !(await podman("volume", "ls", "-q")).includes("ratchet-helper-probe"),
    );
    assert.deepEqual(
      (await podman("images", "-q", "--no-trunc")).sort(),
      imagesBefore.sort(),
      "Podman's images are as they were",
    );
  },
);
