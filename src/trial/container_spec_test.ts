import assert from "node:assert/strict";
import { ConfigError } from "../errors.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import {
  cacheInitSpec,
  cacheMounts,
  containerPath,
  CONTROL_DIR,
  extraMounts,
  HOME_DIR,
  limitsOf,
  prepareSpec,
  sandboxSpec,
  type SpecContext,
  trialEnv,
  trialSpec,
  WORK_DIR,
} from "./container_spec.ts";

function ctx(overrides: Partial<SpecContext> = {}): SpecContext {
  const host: Record<string, string> = { FOO: "bar", ANTHROPIC_API_KEY: "k" };
  return {
    runId: "20260101-000000-abcd",
    config: testConfig({
      cpus: 1.5,
      memory: 512 * 1024 ** 2,
      passEnv: ["FOO", "ANTHROPIC_API_KEY"],
    }),
    user: "1000:1001",
    env: (name) => host[name],
    extraMounts: [
      { type: "bind", source: "/data", target: "/data", readOnly: true },
    ],
    ...overrides,
  };
}

Deno.test("trialEnv() passes only listed host variables, never ANTHROPIC_*, and sets HOME", () => {
  const host: Record<string, string> = {
    FOO: "bar",
    SECRET: "s",
    ANTHROPIC_API_KEY: "sk-ant",
    anthropic_base_url: "x",
    HOME: "/root",
  };
  const asked: string[] = [];
  const env = trialEnv(
    ["FOO", "ANTHROPIC_API_KEY", "anthropic_base_url", "UNSET", "HOME"],
    (n) => {
      asked.push(n);
      return host[n];
    },
  );
  assert.deepEqual(env, { FOO: "bar", HOME: HOME_DIR });
  // An ANTHROPIC_ name is not even read.
  assert.deepEqual(asked, ["FOO", "UNSET", "HOME"]);
});

Deno.test("limitsOf() reads the config's limits", () => {
  assert.deepEqual(limitsOf(testConfig({ memory: null, gpus: "all" })), {
    cpus: 2,
    memoryBytes: null,
    pidsLimit: 4096,
    shmSizeBytes: 1024 ** 3,
    gpus: "all",
  });
});

Deno.test("containerPath() takes relative paths from /work", () => {
  assert.equal(containerPath("/data/"), "/data");
  assert.equal(containerPath("a/../b"), "/work/b");
  assert.equal(containerPath("."), "/work");
  assert.equal(containerPath("cache\\pip"), "/work/cache/pip");
  assert.equal(containerPath("/"), "/");
});

Deno.test("trialSpec() runs the wrapper as the trial user, without capabilities, labelled", () => {
  const spec = trialSpec(ctx(), {
    image: "ratchet-tree:x",
    run: {
      wrapper: "WRAPPER",
      command: "python bench.py",
      setupCommand: null,
      timeoutSeconds: 30,
    },
    iter: 4,
    trial: "check",
    caches: [{ type: "volume", source: "v", target: "/c", readOnly: false }],
  });
  assert.deepEqual(spec.cmd, [
    "sh",
    "-c",
    "WRAPPER",
    "ratchet-trial",
    "python bench.py",
    "",
    "30",
  ]);
  assert.equal(spec.image, "ratchet-tree:x");
  assert.equal(spec.workingDir, WORK_DIR);
  assert.equal(spec.user, "1000:1001");
  assert.equal(spec.capabilities, "none");
  assert.equal(spec.readOnlyRoot, false);
  assert.equal(spec.network, "none");
  assert.deepEqual(spec.env, { FOO: "bar", HOME: HOME_DIR });
  assert.deepEqual(spec.limits, {
    cpus: 1.5,
    memoryBytes: 512 * 1024 ** 2,
    pidsLimit: 4096,
    shmSizeBytes: 1024 ** 3,
    gpus: null,
  });
  assert.deepEqual(spec.mounts.map((m) => `${m.type} ${m.target}`), [
    `tmpfs ${HOME_DIR}`,
    "volume /c",
    "bind /data",
  ]);
  assert.deepEqual(spec.labels, {
    "ratchet.run": "20260101-000000-abcd",
    "ratchet.iter": "4",
    "ratchet.trial": "check",
  });
  const untimed = trialSpec(ctx({ labels: { "ratchet.test": "t1" } }), {
    image: "i",
    run: {
      wrapper: "W",
      command: "c",
      setupCommand: "make",
      timeoutSeconds: null,
    },
    iter: 0,
    trial: "1",
    caches: [],
  });
  assert.deepEqual(untimed.cmd.slice(4), ["c", "make", ""]);
  assert.equal(untimed.labels["ratchet.test"], "t1");
});

Deno.test("sandboxSpec() keeps the run's limits and network; a critic's sandbox has a read-only root", () => {
  const c = ctx({
    config: { ...ctx().config, network: "bridge" },
  });
  const rw = sandboxSpec(c, { image: "tree", iter: 2, readOnly: false });
  assert.equal(rw.capabilities, "none");
  assert.equal(rw.readOnlyRoot, false);
  assert.equal(rw.network, "bridge");
  assert.equal(rw.user, "1000:1001");
  assert.equal(rw.labels["ratchet.role"], "sandbox");
  assert.deepEqual(rw.mounts.map((m) => m.target), [HOME_DIR, "/data"]);
  const ro = sandboxSpec(c, { image: "tree", iter: 2, readOnly: true });
  assert.equal(ro.readOnlyRoot, true);
  assert.equal(ro.labels["ratchet.role"], "sandbox-readonly");
  assert.deepEqual(ro.mounts.map((m) => `${m.type} ${m.target}`), [
    `tmpfs ${HOME_DIR}`,
    "tmpfs /tmp",
    "bind /data",
  ]);
});

Deno.test("prepareSpec() runs as root with the default capabilities and network", () => {
  const spec = prepareSpec(ctx(), {
    image: "base",
    script: "SCRIPT",
    command: "npm ci",
  });
  assert.deepEqual(spec.cmd, [
    "sh",
    "-c",
    "SCRIPT",
    "ratchet-prepare",
    "npm ci",
  ]);
  assert.equal(spec.user, "0:0");
  assert.equal(spec.capabilities, "default");
  // Whatever the run's --network: installing needs it.
  assert.equal(spec.network, "bridge");
  assert.equal(spec.labels["ratchet.role"], "prepare");
  assert.equal(spec.workingDir, WORK_DIR);
});

Deno.test("cacheInitSpec() opens each cache volume's root as root, without network", () => {
  const caches = cacheMounts("run", "tree1", ["/root/.cache", "node_modules"]);
  const spec = cacheInitSpec(ctx(), { image: "tree", caches });
  assert.deepEqual(spec.cmd.slice(3), [
    "ratchet-cache",
    "/root/.cache",
    "/work/node_modules",
  ]);
  assert.match(spec.cmd[2]!, /chmod 1777/);
  assert.equal(spec.user, "0:0");
  assert.equal(spec.network, "none");
  assert.deepEqual(spec.mounts, caches);
  assert.deepEqual(spec.env, {});
});

Deno.test("extraMounts() takes absolute sources as given and relative ones from the repo root", () => {
  const mounts = extraMounts("/repo", [
    { source: "data", target: "/data", readOnly: true },
    { source: "/srv/x.bin", target: "rel/x.bin", readOnly: false },
  ], true);
  assert.deepEqual(mounts, [
    { type: "bind", source: "/repo/data", target: "/data", readOnly: true },
    {
      type: "bind",
      source: "/srv/x.bin",
      target: "/work/rel/x.bin",
      readOnly: false,
    },
  ]);
});

Deno.test("extraMounts() refuses a relative source on an engine that does not share the files", () => {
  assert.deepEqual(
    extraMounts(
      "/repo",
      [{ source: "/srv", target: "/s", readOnly: true }],
      false,
    )
      .map((m) => m.source),
    ["/srv"],
  );
  assert.throws(
    () =>
      extraMounts("/repo", [
        { source: "data", target: "/data", readOnly: false },
      ], false),
    (e: unknown) =>
      e instanceof ConfigError && /--mount data:\/data/.test(e.message) &&
      /absolute path of the source on the engine's host/.test(e.hint ?? ""),
  );
});

Deno.test("extraMounts() refuses targets ratchet uses itself", () => {
  for (const target of ["/work", "/", HOME_DIR, CONTROL_DIR, "/work/"]) {
    assert.throws(
      () =>
        extraMounts("/repo", [{ source: "/s", target, readOnly: false }], true),
      ConfigError,
      target,
    );
  }
});

Deno.test("cacheMounts() names one volume per run, tree and path", () => {
  const mounts = cacheMounts("20250101-120000-abcd", "3f2a9c", [
    "/root/.cache",
    "node_modules",
    "/root/.cache/",
  ]);
  assert.equal(mounts.length, 2);
  assert.deepEqual(mounts.map((m) => m.target), [
    "/root/.cache",
    "/work/node_modules",
  ]);
  for (const m of mounts) {
    assert.equal(m.type, "volume");
    assert.equal(m.readOnly, false);
    assert.match(
      m.source,
      /^ratchet-cache-20250101-120000-abcd-3f2a9c-[0-9a-f]{12}$/,
    );
  }
  const [a] = mounts;
  assert.notEqual(
    cacheMounts("other", "3f2a9c", ["/root/.cache"])[0]!.source,
    a!.source,
  );
  // Another tree of the same run gets its own volume.
  assert.notEqual(
    cacheMounts("20250101-120000-abcd", "77aa", ["/root/.cache"])[0]!.source,
    a!.source,
  );
  // Names only hold characters volumes allow.
  assert.match(
    cacheMounts("Run:1/x", "Tree Key", ["/c"])[0]!.source,
    /^ratchet-cache-run-1-x-tree-key-[0-9a-f]{12}$/,
  );
  assert.throws(() => cacheMounts("r", "t", ["/tmp/home"]), ConfigError);
});
