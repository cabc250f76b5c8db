/**
 * DockerRuntime against the real daemon: isolation, limits, capture, timeouts
 * and cleanup. Every container carries `ratchet.test=<uuid>` and is removed by
 * label in `finally`.
 */
import assert from "node:assert/strict";
import { connect, createServer, type Socket } from "node:net";
import { join } from "node:path";
import { dockerTest, testDockerSocket } from "../_helpers/docker.ts";
import { containerSpec } from "../_helpers/container_spec.ts";
import { tempDir } from "../_helpers/git_repo.ts";
import { DockerRuntime } from "../../src/infra/docker/runtime.ts";
import { packTar } from "../../src/infra/tar.ts";
import { resolveEngine } from "../../src/infra/engine.ts";
import type { ContainerSpec, RunOptions } from "../../src/infra/runtime.ts";
import { EnvironmentError, ExitCode, UpstreamError } from "../../src/errors.ts";

const MiB = 1024 * 1024;
const runtime = new DockerRuntime(
  resolveEngine({ DOCKER_HOST: `unix://${testDockerSocket()}` }),
);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

const run = (
  s: ContainerSpec,
  timeoutMs: number | null = null,
  cap = 10 * MiB,
  extra: Partial<RunOptions> | { key: string; scope: string } = {},
) =>
  runtime.run(s, {
    timeoutMs,
    outputCapBytes: cap,
    ...("key" in extra ? { sharedNetns: extra } : extra),
  });

/** Run `docker` (tests only) and return trimmed stdout, or null on failure. */
async function docker(...args: string[]): Promise<string | null> {
  const out = await new Deno.Command("docker", {
    args,
    env: { DOCKER_HOST: `unix://${testDockerSocket()}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.success ? text(out.stdout).trim() : null;
}

/** Registers a test with a fresh label id; removes its containers afterwards. */
function labelled(name: string, fn: (id: string) => Promise<void>): void {
  dockerTest(name, async () => {
    const id = crypto.randomUUID();
    try {
      await fn(id);
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      await runtime.removeVolumes({ "ratchet.test": id });
    }
  });
}

dockerTest(
  "info() reports the engine and that it is not rootless here",
  async () => {
    const info = await runtime.info();
    assert.match(info.serverVersion, /^\d+\./);
    assert.equal(info.rootless, false);
    assert.match(info.endpoint, /unix:\/\//);
  },
);

labelled(
  "run() returns exit codes and keeps stdout and stderr apart",
  async (id) => {
    const result = await run(
      containerSpec(
        id,
        "echo out1; echo err1 >&2; echo out2; echo err2 >&2; exit 3",
      ),
    );
    assert.equal(result.exitCode, 3);
    assert.equal(text(result.stdout), "out1\nout2\n");
    assert.equal(text(result.stderr), "err1\nerr2\n");
    assert.equal(result.timedOut, false);
    assert.equal(result.oomKilled, false);
    assert.equal(result.stdoutTruncated, false);
    const ok = await run(containerSpec(id, "true"));
    assert.equal(ok.exitCode, 0);
    assert.equal(ok.stdout.length, 0);
  },
);

labelled(
  "run() uses a new container each time and removes it before the next starts",
  async (id) => {
    // run() returns while the finished container's removal may still be under
    // way (it overlaps the next container's creation); the next start waits
    // for it, and settled() resolves once it is done.
    const a = await run(containerSpec(id, "hostname"));
    const b = await run(containerSpec(id, "hostname"));
    assert.equal(await docker("inspect", a.containerId), null);
    assert.notEqual(a.containerId, b.containerId);
    assert.notEqual(text(a.stdout), text(b.stdout));
    await runtime.settled();
    assert.equal(await docker("inspect", b.containerId), null);
    assert.equal(
      await docker("ps", "-aq", "--filter", `label=ratchet.test=${id}`),
      "",
    );
  },
);

labelled("run() caps each stream and records the truncation", async (id) => {
  const started = performance.now();
  const result = await run(
    containerSpec(id, "head -c 11534336 /dev/zero; printf 123456789 >&2"),
    null,
    10 * MiB,
  );
  assert.equal(result.exitCode, 0);
  assert.equal(result.stdout.length, 10 * MiB);
  assert.equal(result.stdoutTruncated, true);
  assert.equal(text(result.stderr), "123456789");
  assert.equal(result.stderrTruncated, false);
  assert.ok(performance.now() - started < 15_000);

  const small = await run(containerSpec(id, "printf 123456789 >&2"), null, 5);
  assert.equal(text(small.stderr), "12345");
  assert.equal(small.stderrTruncated, true);
  assert.equal(small.stdoutTruncated, false);
});

labelled(
  "run() kills the container at the timeout, background processes included",
  async (id) => {
    const started = performance.now();
    const result = await run(
      containerSpec(id, "sleep 300 & echo started; sleep 300"),
      1000,
    );
    const elapsed = performance.now() - started;
    assert.equal(result.timedOut, true);
    assert.equal(result.exitCode, null);
    assert.equal(text(result.stdout), "started\n");
    assert.ok(elapsed >= 1000 && elapsed < 10_000, `took ${elapsed} ms`);
    // The container (and so every process in it) is gone once removals settle.
    await runtime.settled();
    assert.equal(await docker("inspect", result.containerId), null);

    const quick = await run(containerSpec(id, "echo fast"), 10_000);
    assert.equal(quick.timedOut, false);
    assert.equal(quick.exitCode, 0);
  },
);

labelled("run() reports an OOM kill under the memory limit", async (id) => {
  const s = containerSpec(
    id,
    'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo survived',
  );
  s.limits = { ...s.limits, memoryBytes: 16 * MiB };
  const result = await run(s, 30_000);
  assert.equal(result.oomKilled, true);
  assert.notEqual(result.exitCode, 0);
  assert.doesNotMatch(text(result.stdout), /survived/);
});

labelled(
  "run() aborted by a signal kills and removes the container, then rejects",
  async (id) => {
    const controller = new AbortController();
    const started = performance.now();
    setTimeout(() => controller.abort(new Error("stop now")), 500);
    await assert.rejects(
      runtime.run(containerSpec(id, "sleep 300"), {
        timeoutMs: null,
        outputCapBytes: MiB,
        signal: controller.signal,
      }),
      /stop now/,
    );
    assert.ok(performance.now() - started < 10_000);
    assert.equal(
      await docker("ps", "-aq", "--filter", `label=ratchet.test=${id}`),
      "",
    );
  },
);

labelled("network none cannot reach the host; bridge can", async (id) => {
  using listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
  const port = listener.addr.port;
  const serving = (async () => {
    for await (const conn of listener) {
      await conn.write(new TextEncoder().encode("hello-from-host\n"));
      conn.close();
    }
  })().catch(() => {});
  // The gateway of the bridge network is the host as seen from a container.
  const bridge = await run(
    containerSpec(
      id,
      `gw=$(ip route | awk '/^default/ {print $3}'); echo "$gw"; nc -w 5 "$gw" ${port} </dev/null`,
      { network: "bridge" },
    ),
    20_000,
  );
  const [gateway, reply] = text(bridge.stdout).split("\n");
  assert.match(gateway ?? "", /^\d+\.\d+\.\d+\.\d+$/, text(bridge.stderr));
  assert.equal(reply, "hello-from-host");

  // Alone, and joined to a shared loopback-only namespace as trials are.
  for (const shared of [undefined, { key: `${id}/1`, scope: id }]) {
    const none = await run(
      containerSpec(
        id,
        `ip route; ip -o link; nc -w 3 ${gateway} ${port} </dev/null && echo connected`,
      ),
      20_000,
      MiB,
      shared,
    );
    const out = text(none.stdout);
    assert.doesNotMatch(out, /connected|hello-from-host|default/);
    // Loopback is the only interface.
    assert.deepEqual(
      out.split("\n").filter((l) => /^\d+:/.test(l)).map((l) =>
        l.split(":")[1]?.trim()
      ),
      ["lo"],
    );
    assert.notEqual(none.exitCode, 0);
  }
  listener.close();
  await serving;
});

/** The holder containers of a test (labelled `ratchet.netns`). */
async function holdersOf(id: string): Promise<string[]> {
  const out = await docker(
    "ps",
    "-aq",
    "--no-trunc",
    "--filter",
    `label=ratchet.test=${id}`,
    "--filter",
    "label=ratchet.netns",
  );
  return (out ?? "").split("\n").filter((l) => l !== "");
}

const NETNS = "readlink /proc/self/ns/net";

labelled(
  "run() with sharedNetns joins one holder per group and a new one for the next group",
  async (id) => {
    const group1 = { key: `${id}/1`, scope: id };
    const a = await run(containerSpec(id, NETNS), null, MiB, group1);
    const b = await run(containerSpec(id, NETNS), null, MiB, group1);
    // Run while the holder lives (a freed namespace's inode number can be
    // reused): a lone container does not get the group's namespace.
    const alone = await run(containerSpec(id, NETNS));
    assert.match(text(a.stdout), /^net:\[\d+\]\n$/);
    assert.equal(text(a.stdout), text(b.stdout));
    assert.notEqual(text(a.stdout), text(alone.stdout));
    const [holder1, ...more] = await holdersOf(id);
    assert.ok(holder1 !== undefined && more.length === 0);
    const mode = await docker(
      "inspect",
      "--format",
      "{{.HostConfig.NetworkMode}} {{.HostConfig.CapDrop}} {{.Config.Labels}}",
      holder1,
    );
    assert.match(mode ?? "", /^none \[(ALL|all)\]/);
    assert.doesNotMatch(mode ?? "", /ratchet\.(iter|trial):/);

    // The next group gets a namespace nobody has used; the old holder goes.
    const c = await run(containerSpec(id, NETNS), null, MiB, {
      key: `${id}/2`,
      scope: id,
    });
    assert.equal(c.exitCode, 0);
    const holders = await holdersOf(id);
    assert.equal(holders.length, 1);
    assert.notEqual(holders[0], holder1);

    // Cleanup by label takes the holder too; the group then starts a new one.
    await runtime.removeContainers({ "ratchet.test": id });
    assert.deepEqual(await holdersOf(id), []);
    const d = await run(containerSpec(id, NETNS), null, MiB, {
      key: `${id}/2`,
      scope: id,
    });
    assert.equal(d.exitCode, 0);
    assert.equal((await holdersOf(id)).length, 1);
  },
);

labelled(
  "containers sharing a namespace leave nothing running for the next one",
  async (id) => {
    const group = { key: `${id}/1`, scope: id };
    // The first container leaves a listener in the background on loopback.
    const first = await run(
      containerSpec(
        id,
        "(nc -l -p 9099 -e echo leaked &) ; sleep 0.5; netstat -ltn",
      ),
      null,
      MiB,
      group,
    );
    assert.match(text(first.stdout), /:9099/);
    const second = await run(
      containerSpec(
        id,
        "nc -w 2 127.0.0.1 9099 </dev/null; echo status=$?; netstat -ltn",
      ),
      null,
      MiB,
      group,
    );
    const out = text(second.stdout);
    assert.doesNotMatch(out, /leaked|:9099/);
    assert.match(out, /status=1/);
  },
);

labelled(
  "a holder that died is replaced for the next container",
  async (id) => {
    const group = { key: `${id}/1`, scope: id };
    await run(containerSpec(id, "true"), null, MiB, group);
    const [holder] = await holdersOf(id);
    assert.ok(holder !== undefined);
    await docker("kill", holder);
    const b = await run(containerSpec(id, "echo ran"), null, MiB, group);
    assert.equal(text(b.stdout), "ran\n");
    const c = await run(containerSpec(id, NETNS), null, MiB, group);
    assert.equal(c.exitCode, 0);
    // The dead holder was removed; one live holder remains.
    const holders = await holdersOf(id);
    assert.equal(holders.length, 1);
    assert.notEqual(holders[0], holder);
  },
);

labelled(
  "a container the engine refuses in a shared namespace fails with its own error, and its group runs unshared",
  async (id) => {
    const group = { key: `${id}/1`, scope: id };
    const missing = `/nonexistent/ratchet-${id}`;
    await assert.rejects(
      run(
        containerSpec(id, "true", {
          mounts: [{
            type: "bind",
            source: missing,
            target: "/x",
            readOnly: true,
          }],
        }),
        null,
        MiB,
        group,
      ),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.message.includes("does not exist on the engine's host") &&
        error.message.includes(missing),
    );
    // The holder was given up with the refusal; later containers still run.
    assert.deepEqual(await holdersOf(id), []);
    const ok = await run(containerSpec(id, "echo ran"), null, MiB, group);
    assert.equal(text(ok.stdout), "ran\n");
    assert.deepEqual(await holdersOf(id), []);
  },
);

labelled(
  "an image without sleep runs each container in a namespace of its own",
  async (id) => {
    const tag = `ratchet-test-nosleep:${id.slice(0, 8)}`;
    await runtime.buildImage({
      dockerfile: "FROM busybox:latest\nRUN rm /bin/sleep\n",
      contextDir: null,
      tag,
      labels: { "ratchet.test": id },
    });
    try {
      const group = { key: `${id}/1`, scope: id };
      const a = await run(
        { ...containerSpec(id, NETNS), image: tag },
        null,
        MiB,
        group,
      );
      const b = await run(
        { ...containerSpec(id, NETNS), image: tag },
        null,
        MiB,
        group,
      );
      assert.equal(a.exitCode, 0, text(a.stderr));
      assert.equal(b.exitCode, 0, text(b.stderr));
      // No holder could start, so each ran with a namespace of its own.
      assert.deepEqual(await holdersOf(id), []);
    } finally {
      await runtime.removeImage(tag);
    }
  },
);

labelled(
  "containers run with no capabilities and no-new-privileges",
  async (id) => {
    const result = await run(containerSpec(
      id,
      "grep -E '^(CapEff|CapPrm|CapBnd|NoNewPrivs):' /proc/self/status; " +
        "touch /tmp/f && chown 1:1 /tmp/f && echo chowned",
    ));
    const out = text(result.stdout);
    assert.match(out, /CapEff:\s+0000000000000000/);
    assert.match(out, /CapPrm:\s+0000000000000000/);
    assert.match(out, /CapBnd:\s+0000000000000000/);
    assert.match(out, /NoNewPrivs:\s+1/);
    assert.doesNotMatch(out, /chowned/);
    assert.notEqual(result.exitCode, 0);
  },
);

labelled(
  "user, working directory and environment are exactly as given",
  async (id) => {
    Deno.env.set("RATCHET_TEST_HOST_SECRET", "leak");
    try {
      const result = await run(containerSpec(id, "id -u; id -g; pwd; env", {
        user: "1234:5678",
        workingDir: "/tmp",
        env: { FOO: "bar baz", HOME: "/tmp" },
      }));
      const [uid, gid, cwd, ...envLines] = text(result.stdout).trim().split(
        "\n",
      );
      assert.equal(uid, "1234");
      assert.equal(gid, "5678");
      assert.equal(cwd, "/tmp");
      const keys = envLines.map((line) => line.split("=")[0]);
      assert.ok(envLines.includes("FOO=bar baz"));
      assert.ok(envLines.includes("HOME=/tmp"));
      // Only what was given, plus what the engine always sets (PATH from the image, HOSTNAME).
      for (const key of keys) {
        assert.ok(
          ["FOO", "HOME", "PATH", "HOSTNAME", "PWD", "SHLVL"].includes(
            key ?? "",
          ),
          key,
        );
      }
      assert.doesNotMatch(text(result.stdout), /RATCHET_TEST_HOST_SECRET|leak/);
    } finally {
      Deno.env.delete("RATCHET_TEST_HOST_SECRET");
    }
  },
);

labelled(
  "limits, hardening and labels are set on the container",
  async (id) => {
    const s = containerSpec(id, "sleep 300", {
      labels: { "ratchet.test": id, "ratchet.run": "r1", "ratchet.iter": "3" },
    });
    s.limits = {
      cpus: 1.5,
      memoryBytes: 96 * MiB,
      pidsLimit: 77,
      shmSizeBytes: 32 * MiB,
      gpus: null,
    };
    await using sandbox = await runtime.startSandbox(s);
    const json = await docker("inspect", sandbox.id);
    assert.ok(json !== null);
    const [inspected] = JSON.parse(json) as Array<{
      Config: { Labels: Record<string, string> };
      HostConfig: Record<string, unknown>;
    }>;
    assert.ok(inspected);
    assert.equal(inspected.Config.Labels["ratchet.run"], "r1");
    assert.equal(inspected.Config.Labels["ratchet.iter"], "3");
    assert.equal(inspected.Config.Labels["ratchet.test"], id);
    const host = inspected.HostConfig;
    assert.deepEqual(host.CapDrop, ["ALL"]);
    assert.deepEqual(host.SecurityOpt, ["no-new-privileges"]);
    assert.equal(host.NanoCpus, 1_500_000_000);
    assert.equal(host.Memory, 96 * MiB);
    assert.equal(host.MemorySwap, 96 * MiB);
    assert.equal(host.PidsLimit, 77);
    assert.equal(host.ShmSize, 32 * MiB);
    assert.equal(host.NetworkMode, "none");
    assert.equal(host.Init, true);
    assert.equal(host.AutoRemove, false);
    const shm = await sandbox.exec("df -k /dev/shm | tail -1", {
      timeoutMs: 10_000,
    });
    assert.match(shm.stdout, /\s32768\s/);
  },
);

labelled(
  "removeContainers() removes every container with the labels",
  async (id) => {
    const a = await runtime.startSandbox(containerSpec(id, "sleep 300"));
    const b = await runtime.startSandbox(containerSpec(id, "sleep 300"));
    const other = crypto.randomUUID();
    const c = await runtime.startSandbox(containerSpec(other, "sleep 300"));
    try {
      assert.equal(await runtime.removeContainers({ "ratchet.test": id }), 2);
      assert.equal(await docker("inspect", a.id), null);
      assert.equal(await docker("inspect", b.id), null);
      assert.notEqual(await docker("inspect", c.id), null);
      assert.equal(await runtime.removeContainers({ "ratchet.test": id }), 0);
      // Closing a sandbox that is already gone is fine.
      await a.close();
    } finally {
      await runtime.removeContainers({ "ratchet.test": other });
    }
  },
);

labelled(
  "sandbox exec uses sh without bash, keeps streams apart and caps output",
  async (id) => {
    await using sandbox = await runtime.startSandbox(
      containerSpec(id, "sleep 300", { workingDir: "/tmp" }),
    );
    const result = await sandbox.exec(
      'echo "bash=${BASH_VERSION:-none}"; pwd; echo oops >&2; exit 7',
      { timeoutMs: 10_000 },
    );
    assert.equal(result.exitCode, 7);
    assert.equal(result.stdout, "bash=none\n/tmp\n");
    assert.equal(result.stderr, "oops\n");
    assert.equal(result.timedOut, false);
    assert.equal(result.truncated, false);

    const quoted = await sandbox.exec(`printf '%s\\n' "a b" '$HOME' "it's"`, {
      timeoutMs: 10_000,
    });
    assert.equal(quoted.stdout, "a b\n$HOME\nit's\n");

    const capped = await sandbox.exec("head -c 5000 /dev/zero | tr '\\0' a", {
      timeoutMs: 10_000,
      outputCapBytes: 100,
    });
    assert.equal(capped.stdout, "a".repeat(100));
    assert.equal(capped.truncated, true);

    // busybox's timeout applet does the killing here.
    const started = performance.now();
    const slow = await sandbox.exec("echo begun; sleep 30", {
      timeoutMs: 1000,
    });
    const elapsed = performance.now() - started;
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, null);
    assert.equal(slow.stdout, "begun\n");
    assert.ok(elapsed >= 1000 && elapsed < 8000, `took ${elapsed} ms`);

    // State persists between commands in one sandbox.
    await sandbox.exec("echo kept > /tmp/state", { timeoutMs: 10_000 });
    assert.equal(
      (await sandbox.exec("cat /tmp/state", { timeoutMs: 10_000 })).stdout,
      "kept\n",
    );
  },
);

labelled(
  "sandbox exec gives the exit code of a command that closed its output, and times out one that runs on",
  async (id) => {
    await using sandbox = await runtime.startSandbox(
      containerSpec(id, "sleep 300"),
    );
    const late = await sandbox.exec("exec >&- 2>&-; sleep 1; exit 3", {
      timeoutMs: 10_000,
    });
    assert.equal(late.exitCode, 3);
    assert.equal(late.timedOut, false);

    const started = performance.now();
    const stuck = await sandbox.exec("exec >&- 2>&-; sleep 30", {
      timeoutMs: 1000,
    });
    const elapsed = performance.now() - started;
    assert.equal(stuck.timedOut, true);
    assert.equal(stuck.exitCode, null);
    assert.ok(elapsed >= 1000 && elapsed < 8000, `took ${elapsed} ms`);
  },
);

labelled(
  "sandbox exec uses bash when the image has it and kills a command at the timeout",
  async (id) => {
    const sandbox = await runtime.startSandbox(
      containerSpec(id, "sleep 300", { image: "debian:bookworm-slim" }),
    );
    const bash = await sandbox.exec('echo "${BASH_VERSION:+bash}"', {
      timeoutMs: 10_000,
    });
    assert.equal(bash.stdout, "bash\n");

    const started = performance.now();
    const slow = await sandbox.exec("sleep 301 & echo begun; sleep 302", {
      timeoutMs: 1000,
    });
    const elapsed = performance.now() - started;
    assert.equal(slow.timedOut, true);
    assert.equal(slow.exitCode, null);
    assert.equal(slow.stdout, "begun\n");
    assert.ok(elapsed >= 1000 && elapsed < 8000, `took ${elapsed} ms`);
    // GNU timeout killed the whole process group, the background sleep too.
    const left = await sandbox.exec(
      "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done",
      { timeoutMs: 10_000 },
    );
    assert.doesNotMatch(left.stdout, /sleep 30[12]/);
    assert.match(left.stdout, /sleep 300/);

    await sandbox.close();
    await sandbox.close();
    assert.equal(await docker("inspect", sandbox.id), null);
    await assert.rejects(sandbox.exec("true", { timeoutMs: 1000 }), /closed/);
  },
);

labelled(
  "bind mounts honour readOnly; a missing source is an EnvironmentError",
  async (id) => {
    await using dir = await tempDir();
    await Deno.mkdir(join(dir.dir, "ro"));
    await Deno.mkdir(join(dir.dir, "rw"));
    await Deno.writeTextFile(join(dir.dir, "ro", "data.txt"), "data\n");
    const result = await run(containerSpec(
      id,
      "cat /ro/data.txt; echo x > /ro/new.txt || echo ro-refused; echo y > /rw/new.txt && echo rw-ok",
      {
        mounts: [
          {
            type: "bind",
            source: join(dir.dir, "ro"),
            target: "/ro",
            readOnly: true,
          },
          {
            type: "bind",
            source: join(dir.dir, "rw"),
            target: "/rw",
            readOnly: false,
          },
          { type: "tmpfs", source: "", target: "/scratch", readOnly: false },
        ],
      },
    ));
    assert.equal(text(result.stdout), "data\nro-refused\nrw-ok\n");
    assert.match(text(result.stderr), /Read-only file system/);
    assert.equal(
      await Deno.readTextFile(join(dir.dir, "rw", "new.txt")),
      "y\n",
    );
    await assert.rejects(Deno.stat(join(dir.dir, "ro", "new.txt")));

    const missing = join(dir.dir, "does-not-exist");
    await assert.rejects(
      run(containerSpec(id, "true", {
        mounts: [{
          type: "bind",
          source: missing,
          target: "/m",
          readOnly: true,
        }],
      })),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.exitCode === ExitCode.environment &&
        error.message.includes(missing),
    );
    // Never auto-created.
    await assert.rejects(Deno.stat(missing));
    // Checked through the engine before any run: the error names the source
    // and the engine, and blames no flag the user did not set.
    await assert.rejects(
      runtime.checkMounts(
        [{ type: "bind", source: missing, target: "/m", readOnly: true }],
        "busybox:latest",
      ),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.message.includes(missing) &&
        error.message.includes("engine's host"),
    );
    await runtime.checkMounts(
      [{
        type: "bind",
        source: join(dir.dir, "ro"),
        target: "/ro",
        readOnly: true,
      }],
      "busybox:latest",
    );
    await assert.rejects(Deno.stat(missing));
    // The local engine sees this machine's files.
    assert.equal(await runtime.seesPath(dir.dir, "busybox:latest"), true);
  },
);

labelled("a missing image is an EnvironmentError naming it", async (id) => {
  const image = `ratchet-test-missing-${id.slice(0, 8)}:none`;
  await assert.rejects(
    run(containerSpec(id, "true", { image })),
    (error: unknown) =>
      error instanceof EnvironmentError && error.message.includes(image),
  );
  assert.equal(await runtime.hasImage(image), false);
  assert.equal(await runtime.hasImage("busybox:latest"), true);
  await assert.rejects(
    runtime.pullImage(image),
    (error: unknown) =>
      error instanceof EnvironmentError && error.message.includes(image) &&
      (error.hint ?? "").includes("docker build"),
  );
});

labelled(
  "volumes keep data across containers and are removed by label",
  async (id) => {
    const name = `ratchet-test-${id}`;
    await runtime.createVolume(name, { "ratchet.test": id });
    await runtime.createVolume(name, { "ratchet.test": id });
    const mounts = [{
      type: "volume" as const,
      source: name,
      target: "/cache",
      readOnly: false,
    }];
    await run(containerSpec(id, "echo cached > /cache/f", { mounts }));
    const read = await run(containerSpec(id, "cat /cache/f", { mounts }));
    assert.equal(text(read.stdout), "cached\n");
    assert.equal(await runtime.removeVolumes({ "ratchet.test": id }), 1);
    assert.equal(await docker("volume", "inspect", name), null);
  },
);

labelled("a daemon that dies mid-run is an UpstreamError", async (id) => {
  // A socket proxy in front of the real daemon stands in for dockerd; closing
  // it mid-run looks to the runtime exactly like the daemon going away.
  await using dir = await tempDir();
  const proxyPath = join(dir.dir, "docker.sock");
  const sockets: Socket[] = [];
  const server = createServer((client) => {
    const upstream = connect(testDockerSocket());
    sockets.push(client, upstream);
    client.on("error", () => {});
    upstream.on("error", () => {});
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(proxyPath, resolve));
  const proxied = new DockerRuntime(
    resolveEngine({ DOCKER_HOST: `unix://${proxyPath}` }),
  );
  setTimeout(() => {
    server.close();
    for (const socket of sockets) socket.destroy();
  }, 1500);
  await assert.rejects(
    proxied.run(containerSpec(id, "sleep 300"), {
      timeoutMs: null,
      outputCapBytes: MiB,
    }),
    (error: unknown) =>
      error instanceof UpstreamError && error.exitCode === ExitCode.upstream &&
      (error.hint ?? "").includes("resume"),
  );
});

labelled(
  "run() puts files in before the start and reads back only regular files, bounded in size",
  async (id) => {
    const started = performance.now();
    const result = await run(
      containerSpec(
        id,
        [
          "cat /ctl/in",
          "echo out > /ctl/out",
          "ln -s /etc/passwd /ctl/link",
          "mkfifo /ctl/fifo",
          "head -c 3000000 /dev/zero > /ctl/big",
        ].join("; "),
        { user: "1000:1000" },
      ),
      null,
      10 * MiB,
      {
        files: [
          { path: "ctl", kind: "dir", mode: 0o700, uid: 1000, gid: 1000 },
          {
            path: "ctl/in",
            kind: "file",
            mode: 0o600,
            uid: 1000,
            gid: 1000,
            data: new TextEncoder().encode("hello\n"),
          },
        ],
        collect: [
          { path: "/ctl/out", maxBytes: 100 },
          { path: "/ctl/link", maxBytes: 100 },
          { path: "/ctl/fifo", maxBytes: 100 },
          { path: "/ctl/none", maxBytes: 100 },
          { path: "/ctl/big", maxBytes: 1000 },
        ],
      },
    );
    assert.equal(text(result.stdout), "hello\n", text(result.stderr));
    const c = result.collected;
    assert.deepEqual(
      c["/ctl/out"]?.kind === "file"
        ? text(c["/ctl/out"].bytes)
        : c["/ctl/out"],
      "out\n",
    );
    // Never followed (the host would otherwise read /etc/passwd's content),
    // never opened (a FIFO would block the host forever).
    assert.deepEqual(c["/ctl/link"], { kind: "other", type: "symlink" });
    assert.deepEqual(c["/ctl/fifo"], { kind: "other", type: "other" });
    assert.deepEqual(c["/ctl/none"], { kind: "missing" });
    const big = c["/ctl/big"];
    assert.ok(
      big?.kind === "file" && big.bytes.length === 1000 && big.truncated,
    );
    assert.ok(performance.now() - started < 20_000);
  },
);

labelled(
  "run() returns the container's changes and commits it with labels made from them",
  async (id) => {
    const tag = `ratchet-test-commit:${id.slice(0, 8)}`;
    try {
      const result = await run(
        containerSpec(id, "mkdir -p /work/a && echo x > /work/a/f; exit 0", {
          capabilities: "default",
        }),
        null,
        10 * MiB,
        {
          changes: true,
          commit: {
            tag,
            labels: (changes) => ({
              "ratchet.test": id,
              "ratchet.test-added": changes.filter((c) => c.kind === "added")
                .map((c) => c.path).filter((p) => p.startsWith("/work"))
                .sort().join(","),
            }),
          },
        },
      );
      assert.ok(
        result.changes?.some((c) =>
          c.path === "/work/a/f" && c.kind === "added"
        ),
      );
      const image = await runtime.inspectImage(tag);
      assert.equal(
        image?.labels["ratchet.test-added"],
        "/work,/work/a,/work/a/f",
      );
      // A failed command commits nothing.
      const failed = `ratchet-test-commit:${id.slice(0, 8)}-failed`;
      await run(containerSpec(id, "exit 3"), null, 1024, {
        commit: { tag: failed, labels: { "ratchet.test": id } },
      });
      assert.equal(await runtime.hasImage(failed), false);
    } finally {
      assert.equal(await runtime.removeImages({ "ratchet.test": id }), 1);
      assert.equal(await runtime.hasImage(tag), false);
    }
  },
);

labelled(
  "buildLayer() keeps the tar's owners and modes: root without capabilities cannot write another user's read-only file",
  async (id) => {
    const tag = `ratchet-test-layer:${id.slice(0, 8)}`;
    const encode = (t: string) => new TextEncoder().encode(t);
    try {
      await runtime.buildLayer({
        base: "busybox:latest",
        content: packTar([
          { path: "work", kind: "dir", mode: 0o1777, uid: 65534, gid: 65534 },
          {
            path: "work/h",
            kind: "file",
            mode: 0o444,
            uid: 65534,
            gid: 65534,
            data: encode("harness\n"),
          },
          {
            path: "work/s",
            kind: "file",
            mode: 0o644,
            uid: 0,
            gid: 0,
            data: encode("subject\n"),
          },
        ]),
        tag,
        labels: { "ratchet.test": id },
      });
      const result = await run(containerSpec(
        id,
        [
          "ls -ln /work | awk 'NR>1 {print $1, $3, $9}'",
          "echo x >> /work/h || echo write-refused",
          "chmod 666 /work/h || echo chmod-refused",
          "rm -f /work/h || echo rm-refused",
          "echo y >> /work/s && echo subject-written",
          "cat /work/h",
        ].join("; "),
        { image: tag },
      ));
      assert.equal(
        text(result.stdout),
        "-r--r--r-- 65534 h\n-rw-r--r-- 0 s\nwrite-refused\nchmod-refused\nrm-refused\nsubject-written\nharness\n",
        text(result.stderr),
      );
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      await runtime.removeImage(tag);
    }
  },
);

labelled(
  "buildLayer() stops at once on an abort, before its content's first byte or in the middle of it, and leaves no container",
  async (id) => {
    // The first entry of a tree, as the engine starts extracting it.
    let head = new Uint8Array();
    for await (
      const chunk of packTar([
        { path: "work", kind: "dir", mode: 0o755, uid: 0, gid: 0 },
      ])
    ) {
      head = chunk.slice(0, 512);
      break;
    }
    // Sources that stop sending (a tree still being read out of git):
    // before a byte (the client held the request back), and after the
    // first entry (the engine's extraction holds the container's lock, so
    // removing the container waited for an upload nobody would finish).
    for (const sent of [0, 512]) {
      const tag = `ratchet-test-layer:${id.slice(0, 8)}-${sent}`;
      const { promise: never, resolve: release } = Promise.withResolvers<
        void
      >();
      const stalls = async function* (): AsyncGenerator<Uint8Array> {
        if (sent > 0) yield head;
        await never;
      };
      const controller = new AbortController();
      const timer = setTimeout(
        () => controller.abort(new Error("interrupted")),
        1000,
      );
      const started = performance.now();
      try {
        const built = runtime.buildLayer({
          base: "busybox:latest",
          content: stalls(),
          tag,
          labels: { "ratchet.test": id },
          signal: controller.signal,
        });
        let deadline: ReturnType<typeof setTimeout> | undefined;
        const hung = new Promise<"hung">((resolve) => {
          deadline = setTimeout(() => resolve("hung"), 15_000);
        });
        const outcome = await Promise.race([
          built.then(() => "built", (e: unknown) => String(e)),
          hung,
        ]);
        clearTimeout(deadline);
        assert.match(outcome, /interrupted/, `${sent} bytes sent`);
        const elapsed = performance.now() - started;
        assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
        assert.equal(
          await docker("ps", "-aq", "--filter", `label=ratchet.test=${id}`),
          "",
        );
        assert.equal(await runtime.hasImage(tag), false);
      } finally {
        clearTimeout(timer);
        release();
      }
    }
  },
);

labelled(
  "the sandbox reads, writes, lists and reports changed files through the Engine API",
  async (id) => {
    const sandbox = await runtime.startSandbox(containerSpec(id, "sleep 300"));
    try {
      await sandbox.put("/", [
        { path: "work", kind: "dir", mode: 0o755, uid: 0, gid: 0 },
        {
          path: "work/a.txt",
          kind: "file",
          mode: 0o644,
          uid: 0,
          gid: 0,
          data: new TextEncoder().encode("alpha\n"),
        },
      ]);
      await sandbox.exec(
        "cd /work && ln -s a.txt l && ln -s ../etc out && mkdir -p d/e && echo b > d/e/b.txt && mkfifo p",
        { timeoutMs: 10_000 },
      );
      assert.deepEqual(await sandbox.stat("/work/a.txt"), {
        kind: "file",
        size: 6,
        mode: 0o644,
        linkTarget: "",
      });
      assert.equal((await sandbox.stat("/work/l"))?.kind, "symlink");
      assert.equal((await sandbox.stat("/work/l"))?.linkTarget, "/work/a.txt");
      assert.equal((await sandbox.stat("/work/out"))?.linkTarget, "/etc");
      assert.equal((await sandbox.stat("/work/d"))?.kind, "dir");
      assert.equal((await sandbox.stat("/work/p"))?.kind, "other");
      assert.equal(await sandbox.stat("/work/none"), null);
      const read = await sandbox.readFile("/work/a.txt", 100);
      assert.ok(read.kind === "file" && text(read.bytes) === "alpha\n");
      assert.deepEqual(await sandbox.readFile("/work/l", 100), {
        kind: "other",
        type: "symlink",
      });
      const listed = await sandbox.list("/work", { depth: 2, maxEntries: 100 });
      assert.deepEqual(
        listed.entries.map((e) => `${e.kind} ${e.path} ${e.linkTarget}`),
        [
          "file a.txt ",
          "dir d ",
          "dir d/e ",
          "symlink l a.txt",
          "symlink out ../etc",
          "file p ",
        ],
      );
      assert.equal(listed.truncated, false);
      const entries = [];
      for await (const e of sandbox.read("/work/d", { maxFileBytes: 100 })) {
        entries.push(
          `${e.kind} ${e.path} ${e.data === null ? "" : text(e.data)}`,
        );
      }
      assert.deepEqual(entries, ["dir  ", "dir e ", "file e/b.txt b\n"]);
      const changed = (await sandbox.changes()).map((c) => c.path);
      for (const p of ["/work/a.txt", "/work/l", "/work/d/e/b.txt"]) {
        assert.ok(changed.includes(p), `${p} in ${changed}`);
      }
    } finally {
      await sandbox.close();
    }
  },
);

labelled(
  "containers joined to a holder cannot change its /etc/hosts, even as root",
  async (id) => {
    const group = { key: `${id}/1`, scope: id };
    const first = await run(
      containerSpec(
        id,
        "echo 6.6.6.6 evil >> /etc/hosts; echo hosts=$?; echo x > /etc/resolv.conf; echo resolv=$?",
      ),
      null,
      1024 * 1024,
      { sharedNetns: group },
    );
    assert.match(text(first.stdout), /hosts=[1-9]/);
    assert.match(text(first.stdout), /resolv=[1-9]/);
    const second = await run(
      containerSpec(id, "cat /etc/hosts"),
      null,
      1024 * 1024,
      {
        sharedNetns: group,
      },
    );
    assert.doesNotMatch(text(second.stdout), /evil/);
  },
);
