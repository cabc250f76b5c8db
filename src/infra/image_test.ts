import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ConfigError, EnvironmentError, ExitCode } from "../errors.ts";
import {
  customImageTag,
  DEFAULT_DOCKERFILE,
  defaultImageTag,
  ensureConfiguredImage,
  ensureTrialImage,
} from "./image.ts";
import { VERSION } from "../version.ts";
import { FakeRuntime } from "../../tests/_fakes/runtime.ts";

const isEnvironment = (words: RegExp) => (error: unknown) =>
  error instanceof EnvironmentError &&
  error.exitCode === ExitCode.environment &&
  words.test(error.message);

Deno.test("defaultImageTag() is ratchet-trial:<version>-<12 hex of sha256(Dockerfile)>", () => {
  const text = "FROM debian:bookworm-slim\n";
  const hash = createHash("sha256").update(text).digest("hex").slice(0, 12);
  assert.equal(defaultImageTag("0.1.0", text), `ratchet-trial:0.1.0-${hash}`);
  assert.notEqual(
    defaultImageTag("0.1.0", text),
    defaultImageTag("0.1.0", text + " "),
  );
  assert.notEqual(
    defaultImageTag("0.1.0", text),
    defaultImageTag("0.2.0", text),
  );
  // Characters a tag cannot hold are replaced.
  assert.match(
    defaultImageTag("1.0.0+build/7", text),
    /^ratchet-trial:1\.0\.0_build_7-[0-9a-f]{12}$/,
  );
});

Deno.test("DEFAULT_DOCKERFILE embeds the repository's Dockerfile", async () => {
  const onDisk = await Deno.readTextFile(
    new URL("../../Dockerfile", import.meta.url),
  );
  assert.equal(DEFAULT_DOCKERFILE, onDisk);
  assert.match(DEFAULT_DOCKERFILE, /^FROM debian:bookworm-slim$/m);
  for (
    const pkg of [
      "python3",
      "python3-pip",
      "python3-venv",
      "git",
      "build-essential",
      "time",
      "ca-certificates",
    ]
  ) {
    assert.match(DEFAULT_DOCKERFILE, new RegExp(`\\s${pkg}(\\s|$)`), pkg);
  }
  assert.match(DEFAULT_DOCKERFILE, /--no-install-recommends/);
  assert.match(DEFAULT_DOCKERFILE, /rm -rf \/var\/lib\/apt\/lists/);
});

Deno.test("customImageTag() depends on the Dockerfile's path and text", () => {
  const a = customImageTag("/repo/a/Dockerfile", "FROM x\n");
  assert.match(a, /^ratchet-trial:custom-[0-9a-f]{12}$/);
  assert.notEqual(a, customImageTag("/repo/b/Dockerfile", "FROM x\n"));
  assert.notEqual(a, customImageTag("/repo/a/Dockerfile", "FROM y\n"));
});

Deno.test("ensureTrialImage() uses a local --image without pulling", async () => {
  const fake = new FakeRuntime();
  fake.addImage("mine:1");
  const image = await ensureTrialImage(fake, {
    image: "mine:1",
    dockerfile: null,
    version: "0.1.0",
  });
  assert.equal(image, "mine:1");
  assert.deepEqual(fake.calls, ["has mine:1"]);
});

Deno.test("ensureTrialImage() pulls a missing --image", async () => {
  const fake = new FakeRuntime();
  fake.pullable.add("remote:2");
  const lines: string[] = [];
  const image = await ensureTrialImage(fake, {
    image: "remote:2",
    dockerfile: null,
    version: "0.1.0",
    onProgress: (line) => lines.push(line),
  });
  assert.equal(image, "remote:2");
  assert.deepEqual(fake.calls, [
    "has remote:2",
    "pull remote:2",
    "has remote:2",
  ]);
  assert.match(lines.join("\n"), /pulling/);
});

Deno.test("ensureTrialImage() fails with exit 3 naming an --image it cannot get", async () => {
  const fake = new FakeRuntime();
  await assert.rejects(
    ensureTrialImage(fake, {
      image: "nowhere:1",
      dockerfile: null,
      version: "0.1.0",
    }),
    isEnvironment(/nowhere:1/),
  );
});

Deno.test("ensureTrialImage() refuses --image together with --dockerfile", async () => {
  await assert.rejects(
    ensureTrialImage(new FakeRuntime(), {
      image: "a",
      dockerfile: { path: "/x/Dockerfile", text: "FROM a" },
      version: "0.1.0",
    }),
    ConfigError,
  );
});

Deno.test("ensureTrialImage() builds the default image once", async () => {
  const fake = new FakeRuntime();
  const options = { image: null, dockerfile: null, version: "0.3.0" };
  const first = await ensureTrialImage(fake, options);
  assert.equal(first, defaultImageTag("0.3.0", DEFAULT_DOCKERFILE));
  assert.equal(fake.builds.length, 1);
  assert.equal(fake.builds[0]?.dockerfile, DEFAULT_DOCKERFILE);
  assert.equal(fake.builds[0]?.contextDir, null);
  const second = await ensureTrialImage(fake, options);
  assert.equal(second, first);
  assert.equal(fake.builds.length, 1);
});

Deno.test("ensureTrialImage() builds --dockerfile every time with its directory as context", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = join(dir, "sub", "trial.Dockerfile");
    await Deno.mkdir(join(dir, "sub"));
    await Deno.writeTextFile(path, "FROM busybox:latest\n");
    const fake = new FakeRuntime();
    const options = { image: null, dockerfile: { path }, version: "0.1.0" };
    const tag = await ensureTrialImage(fake, options);
    await ensureTrialImage(fake, options);
    assert.equal(tag, customImageTag(path, "FROM busybox:latest\n"));
    assert.equal(fake.builds.length, 2);
    assert.equal(fake.builds[0]?.contextDir, join(dir, "sub"));
    assert.equal(fake.builds[0]?.dockerfile, "FROM busybox:latest\n");

    await assert.rejects(
      ensureTrialImage(fake, {
        ...options,
        dockerfile: { path: join(dir, "missing") },
      }),
      isEnvironment(/missing/),
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("ensureTrialImage() reports a failed build as exit 3 with the log tail", async () => {
  const fake = new FakeRuntime();
  fake.buildError = new EnvironmentError(
    "Building image failed: boom\nLast lines of the build log:\nboom",
    { hint: "Fix the Dockerfile" },
  );
  await assert.rejects(
    ensureTrialImage(fake, {
      image: null,
      dockerfile: { path: "/r/Dockerfile", text: "FROM x" },
      version: "1",
    }),
    (error: unknown) =>
      isEnvironment(/--dockerfile \/r\/Dockerfile[\s\S]*boom/)(error) &&
      (error as EnvironmentError).hint === "Fix the Dockerfile",
  );
});

Deno.test("ensureTrialImage() reports a build cut off by its signal as the signal's reason", async () => {
  const fake = new FakeRuntime();
  const controller = new AbortController();
  const reason = new Error("interrupted by SIGINT");
  fake.buildError = new EnvironmentError("Building image failed: canceled");
  controller.abort(reason);
  const error = await ensureTrialImage(fake, {
    image: null,
    dockerfile: { path: "/r/Dockerfile", text: "FROM x" },
    version: "1",
    signal: controller.signal,
  }).catch((e) => e);
  assert.equal(error, reason);
});

Deno.test("ensureConfiguredImage() takes --dockerfile from the repository root", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.mkdir(join(dir, "docker"));
    await Deno.writeTextFile(join(dir, "docker", "Dockerfile"), "FROM y\n");
    const fake = new FakeRuntime();
    const tag = await ensureConfiguredImage(
      fake,
      { image: null, dockerfile: "docker/Dockerfile" },
      { root: dir },
    );
    assert.equal(
      tag,
      customImageTag(join(dir, "docker/Dockerfile"), "FROM y\n"),
    );
    assert.equal(fake.builds[0]?.contextDir, join(dir, "docker"));
    assert.deepEqual(fake.builds[0]?.labels, {
      "ratchet.image": "custom",
      "ratchet.version": VERSION,
    });
    // --image is used as given.
    fake.addImage("mine:2");
    assert.equal(
      await ensureConfiguredImage(fake, { image: "mine:2", dockerfile: null }, {
        root: dir,
      }),
      "mine:2",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
