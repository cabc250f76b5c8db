import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { ConfigError, EnvironmentError, ExitCode } from "../errors.ts";
import {
  customImageTag,
  DEFAULT_DOCKERFILE,
  defaultImageTag,
  ensureTrialImage,
  preparedImageTag,
  prepareImage,
} from "./image.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  RunOptions,
  RunResult,
} from "./runtime.ts";

/** Records image calls; images live in a set. Only the image operations are real. */
class ImageFake implements ContainerRuntime {
  images = new Set<string>();
  calls: string[] = [];
  pullable = new Set<string>();
  builds: Array<
    { dockerfile: string; contextDir: string | null; tag: string }
  > = [];
  buildFails = false;
  prepareResult: Partial<RunResult> = {};
  prepareSpecs: ContainerSpec[] = [];

  info() {
    return Promise.resolve({
      rootless: false,
      serverVersion: "fake",
      endpoint: "fake",
    });
  }
  hasImage(name: string) {
    this.calls.push(`has ${name}`);
    return Promise.resolve(this.images.has(name));
  }
  pullImage(name: string) {
    this.calls.push(`pull ${name}`);
    if (!this.pullable.has(name)) {
      return Promise.reject(
        new EnvironmentError(`Image "${name}" could not be pulled`),
      );
    }
    this.images.add(name);
    return Promise.resolve();
  }
  buildImage(options: {
    dockerfile: string;
    contextDir: string | null;
    tag: string;
    onProgress?: (line: string) => void;
  }) {
    this.calls.push(`build ${options.tag}`);
    this.builds.push(options);
    options.onProgress?.("Step 1/1 : FROM x");
    if (this.buildFails) {
      return Promise.reject(
        new EnvironmentError(
          "Building image failed: boom\nLast lines of the build log:\nboom",
          {
            hint: "Fix the Dockerfile",
          },
        ),
      );
    }
    this.images.add(options.tag);
    return Promise.resolve();
  }
  run(): Promise<RunResult> {
    throw new Error("not used");
  }
  runAndCommit(
    spec: ContainerSpec,
    tag: string,
    _options: RunOptions,
  ): Promise<RunResult> {
    this.calls.push(`prepare ${tag}`);
    this.prepareSpecs.push(spec);
    const result: RunResult = {
      containerId: "c1",
      exitCode: 0,
      stdout: new TextEncoder().encode("installing\ndone\n"),
      stderr: new TextEncoder().encode("warning: x\n"),
      stdoutTruncated: false,
      stderrTruncated: false,
      timedOut: false,
      oomKilled: false,
      ...this.prepareResult,
    };
    if (result.exitCode === 0 && !result.timedOut) this.images.add(tag);
    return Promise.resolve(result);
  }
  startSandbox(): never {
    throw new Error("not used");
  }
  removeContainers() {
    return Promise.resolve(0);
  }
  createVolume() {
    return Promise.resolve();
  }
  removeVolumes() {
    return Promise.resolve(0);
  }
  removeImage(name: string) {
    this.images.delete(name);
    return Promise.resolve();
  }
}

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

Deno.test("preparedImageTag() is ratchet-prepared:<run_id>, made tag-safe", () => {
  assert.equal(
    preparedImageTag("20250101-120000-ab12"),
    "ratchet-prepared:20250101-120000-ab12",
  );
  assert.equal(preparedImageTag("Run:1/x"), "ratchet-prepared:run_1_x");
});

Deno.test("customImageTag() depends on the Dockerfile's path and text", () => {
  const a = customImageTag("/repo/a/Dockerfile", "FROM x\n");
  assert.match(a, /^ratchet-trial:custom-[0-9a-f]{12}$/);
  assert.notEqual(a, customImageTag("/repo/b/Dockerfile", "FROM x\n"));
  assert.notEqual(a, customImageTag("/repo/a/Dockerfile", "FROM y\n"));
});

Deno.test("ensureTrialImage() uses a local --image without pulling", async () => {
  const fake = new ImageFake();
  fake.images.add("mine:1");
  const image = await ensureTrialImage(fake, {
    image: "mine:1",
    dockerfile: null,
    version: "0.1.0",
  });
  assert.equal(image, "mine:1");
  assert.deepEqual(fake.calls, ["has mine:1"]);
});

Deno.test("ensureTrialImage() pulls a missing --image", async () => {
  const fake = new ImageFake();
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
  const fake = new ImageFake();
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
    ensureTrialImage(new ImageFake(), {
      image: "a",
      dockerfile: { path: "/x/Dockerfile", text: "FROM a" },
      version: "0.1.0",
    }),
    ConfigError,
  );
});

Deno.test("ensureTrialImage() builds the default image once", async () => {
  const fake = new ImageFake();
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
    const fake = new ImageFake();
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
  const fake = new ImageFake();
  fake.buildFails = true;
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

const prepareOptions = {
  baseImage: "base:1",
  runId: "run-1",
  command: "pip install -r requirements.txt",
  workingDir: "/work",
  env: { HOME: "/tmp" },
  user: "0:0",
  mounts: [],
  limits: {
    cpus: 2,
    memoryBytes: null,
    pidsLimit: 100,
    shmSizeBytes: 1,
    gpus: null,
  },
  labels: { "ratchet.run": "run-1" },
};

Deno.test("prepareImage() runs the command with network and commits ratchet-prepared:<run_id>", async () => {
  const fake = new ImageFake();
  const tag = await prepareImage(fake, prepareOptions);
  assert.equal(tag, "ratchet-prepared:run-1");
  const spec = fake.prepareSpecs[0];
  assert.ok(spec);
  assert.equal(spec.network, "bridge");
  assert.equal(spec.image, "base:1");
  assert.deepEqual(spec.cmd, ["sh", "-c", "pip install -r requirements.txt"]);
  assert.deepEqual(spec.labels, { "ratchet.run": "run-1" });
});

Deno.test("prepareImage() reuses an existing prepared image", async () => {
  const fake = new ImageFake();
  fake.images.add("ratchet-prepared:run-1");
  const lines: string[] = [];
  assert.equal(
    await prepareImage(fake, {
      ...prepareOptions,
      onProgress: (l) => lines.push(l),
    }),
    "ratchet-prepared:run-1",
  );
  assert.equal(fake.prepareSpecs.length, 0);
  assert.match(lines.join("\n"), /Reusing/);
});

Deno.test("prepareImage() fails with exit 3 and the output tail when the command fails", async () => {
  for (
    const [result, words] of [
      [
        { exitCode: 2 },
        /exited with code 2[\s\S]*installing\ndone[\s\S]*warning: x/,
      ],
      [{ exitCode: null, timedOut: true }, /timed out/],
      [{ exitCode: 137, oomKilled: true }, /lack of memory/],
    ] as const
  ) {
    const fake = new ImageFake();
    fake.prepareResult = result;
    await assert.rejects(
      prepareImage(fake, { ...prepareOptions, timeoutMs: 5000 }),
      isEnvironment(words),
    );
    assert.equal(fake.images.size, 0);
  }
});
