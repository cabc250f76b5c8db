import assert from "node:assert/strict";
import { join } from "node:path";
import { FakeRuntime } from "../../tests/_fakes/runtime.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import { tempDir } from "../../tests/_helpers/git_repo.ts";
import type { Config } from "../config/config.ts";
import { ConfigError, EnvironmentError } from "../errors.ts";
import {
  prepareTrials,
  setUpEngine,
  setUpTrials,
  specContext,
  userOf,
} from "./setup.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

function input(
  runtime: FakeRuntime,
  root: string,
  config: Partial<Config> = {},
) {
  return {
    runtime,
    root,
    config: testConfig({ image: "busybox:latest", ...config }),
    runId: "run-1",
    source: { kind: "dir" as const, dir: root },
    git: testGit,
    env: () => undefined,
  };
}

function engine(): FakeRuntime {
  const runtime = new FakeRuntime();
  runtime.addImage("busybox:latest");
  return runtime;
}

Deno.test("userOf() gives a trial user as uid:gid", () => {
  assert.equal(userOf({ uid: 1000, gid: 100 }), "1000:100");
});

Deno.test("setUpEngine() runs trials as the repository's owner and probes whether the engine sees it", async () => {
  await using tmp = await tempDir();
  if (Deno.uid() === 0) await Deno.chown(tmp.dir, 4321, 4322);
  const runtime = engine();
  const setup = await setUpEngine(input(runtime, tmp.dir));
  assert.deepEqual(
    setup.trialUser,
    Deno.uid() === 0
      ? { uid: 4321, gid: 4322 }
      : { uid: Deno.uid(), gid: Deno.gid() },
  );
  assert.equal(setup.sharesFiles, true);
  assert.equal(setup.baseImage, "busybox:latest");
  assert.equal(setup.image, "busybox:latest");
  assert.deepEqual(setup.preparedRoots, []);
  assert.equal(setup.preparedReused, null);
  assert.equal(setup.info.product, "docker");
  // The probe existed while the engine was asked, under .ratchet/tmp, and
  // is gone with the .ratchet/ it had to make.
  assert.equal(runtime.probes.length, 1);
  assert.ok(runtime.probes[0]!.existed);
  assert.ok(
    runtime.probes[0]!.dir.startsWith(
      join(tmp.dir, ".ratchet", "tmp", "probe-"),
    ),
  );
  assert.equal(
    await Deno.stat(join(tmp.dir, ".ratchet")).catch(() => null),
    null,
  );
  assert.ok(runtime.calls.includes("check-mounts busybox:latest"));
});

Deno.test("setUpEngine() leaves an existing .ratchet/ in place", async () => {
  await using tmp = await tempDir();
  await Deno.mkdir(join(tmp.dir, ".ratchet", "tmp"), { recursive: true });
  await Deno.writeTextFile(join(tmp.dir, ".ratchet", "config.json"), "{}");
  await setUpEngine(input(engine(), tmp.dir));
  assert.equal(
    await Deno.readTextFile(join(tmp.dir, ".ratchet", "config.json")),
    "{}",
  );
  assert.deepEqual(
    await Array.fromAsync(Deno.readDir(join(tmp.dir, ".ratchet", "tmp"))),
    [],
  );
});

Deno.test("setUpEngine() runs trials as root on a rootless engine", async () => {
  await using tmp = await tempDir();
  const runtime = engine();
  runtime.engine = { ...runtime.engine, rootless: true };
  const setup = await setUpEngine(input(runtime, tmp.dir));
  assert.deepEqual(setup.trialUser, { uid: 0, gid: 0 });
});

Deno.test("setUpEngine() takes --mount sources on the engine's host when it does not share files", async () => {
  await using tmp = await tempDir();
  const runtime = engine();
  runtime.sharesFiles = false;
  const setup = await setUpEngine(
    input(runtime, tmp.dir, {
      mount: [{ source: "/srv/data", target: "/data", readOnly: true }],
    }),
  );
  assert.equal(setup.sharesFiles, false);
  assert.deepEqual(setup.extraMounts, [
    { type: "bind", source: "/srv/data", target: "/data", readOnly: true },
  ]);
  await assert.rejects(
    setUpEngine(
      input(runtime, tmp.dir, {
        mount: [{ source: "data", target: "/data", readOnly: false }],
      }),
    ),
    ConfigError,
  );
  runtime.missingSources.add("/srv/data");
  await assert.rejects(
    setUpEngine(
      input(runtime, tmp.dir, {
        mount: [{ source: "/srv/data", target: "/data", readOnly: true }],
      }),
    ),
    (e: unknown) =>
      e instanceof EnvironmentError && /\/srv\/data/.test(e.message),
  );
});

Deno.test("prepareTrials() does nothing without --prepare-command", async () => {
  await using tmp = await tempDir();
  const runtime = engine();
  const setup = await setUpTrials(input(runtime, tmp.dir));
  assert.equal(setup.image, "busybox:latest");
  assert.equal(runtime.runs.length, 0);
});

Deno.test("prepareTrials() prepares the start tree, and a resumed run reuses its prepared image", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(join(tmp.dir, "requirements.txt"), "numpy\n");
  const runtime = engine();
  runtime.onRun = () => ({ changes: [{ path: "/work/.venv", kind: "added" }] });
  const config = { prepareCommand: "pip install -r requirements.txt" };
  const first = await setUpTrials(input(runtime, tmp.dir, config));
  assert.match(first.image, /^ratchet-prepared:/);
  assert.equal(first.baseImage, "busybox:latest");
  assert.deepEqual(first.preparedRoots, [".venv"]);
  assert.equal(first.preparedReused, false);
  assert.equal(runtime.runs.length, 1);
  assert.equal(runtime.runs[0]!.spec.labels["ratchet.run"], "run-1");

  const engineOnly = await setUpEngine(input(runtime, tmp.dir, config));
  const resumed = await prepareTrials(engineOnly, {
    ...input(runtime, tmp.dir, config),
    preparedImage: first.image,
  });
  assert.deepEqual(
    [resumed.image, resumed.preparedRoots, resumed.preparedReused],
    [first.image, [".venv"], true],
  );
  assert.equal(runtime.runs.length, 1);
  // The recorded image is gone: the prepare step runs again.
  runtime.images.delete(first.image);
  const again = await prepareTrials(engineOnly, {
    ...input(runtime, tmp.dir, config),
    preparedImage: first.image,
  });
  assert.equal(again.preparedReused, false);
  assert.equal(runtime.runs.length, 2);
});

Deno.test("specContext() carries the run, the trial user and the --mount binds", () => {
  const config = testConfig();
  const mounts = [
    { type: "bind" as const, source: "/s", target: "/d", readOnly: true },
  ];
  const ctx = specContext(
    "run-9",
    config,
    { trialUser: { uid: 7, gid: 8 }, extraMounts: mounts },
    (n) => n === "X" ? "1" : undefined,
    { "ratchet.test": "t" },
  );
  assert.equal(ctx.runId, "run-9");
  assert.equal(ctx.user, "7:8");
  assert.equal(ctx.config, config);
  assert.deepEqual(ctx.extraMounts, mounts);
  assert.deepEqual(ctx.labels, { "ratchet.test": "t" });
  assert.equal(ctx.env("X"), "1");
  assert.equal(
    "labels" in
      specContext("r", config, {
        trialUser: { uid: 0, gid: 0 },
        extraMounts: [],
      }, () => undefined),
    false,
  );
});
