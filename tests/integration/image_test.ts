/**
 * Trial images against the real daemon: building from a Dockerfile with a
 * context, the default-image path (with a tiny busybox Dockerfile standing in
 * for the slow embedded one), missing images, and the prepare step with the
 * tree layers laid over its result.
 * Containers carry `ratchet.test=<uuid>`; every image built here is removed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest, testDockerSocket } from "../_helpers/docker.ts";
import { tempDir } from "../_helpers/git_repo.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { testConfig } from "../_helpers/config.ts";
import { DockerRuntime } from "../../src/infra/docker/runtime.ts";
import { resolveEngine } from "../../src/infra/engine.ts";
import { defaultImageTag, ensureTrialImage } from "../../src/infra/image.ts";
import { prepareImage } from "../../src/trial/prepare.ts";
import { TreeImages } from "../../src/trial/tree_images.ts";
import { EnvironmentError, ExitCode } from "../../src/errors.ts";
import { testGit } from "../_helpers/git_context.ts";
import { containerSpec } from "../_helpers/container_spec.ts";

const MiB = 1024 * 1024;
const runtime = new DockerRuntime(
  resolveEngine({ DOCKER_HOST: `unix://${testDockerSocket()}` }),
);
const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
async function dockerOut(...args: string[]): Promise<string> {
  const out = await new Deno.Command("docker", {
    args,
    env: { DOCKER_HOST: `unix://${testDockerSocket()}` },
  }).output();
  assert.ok(out.success, text(out.stderr));
  return text(out.stdout).trim();
}

async function imageLabels(image: string): Promise<Record<string, string>> {
  const out = await new Deno.Command("docker", {
    args: ["image", "inspect", "-f", "{{json .Config.Labels}}", image],
    env: { DOCKER_HOST: `unix://${testDockerSocket()}` },
  }).output();
  assert.ok(out.success, text(out.stderr));
  return JSON.parse(text(out.stdout)) ?? {};
}

/** A test with a label id and a list of images to remove afterwards. */
function withCleanup(
  name: string,
  fn: (id: string, images: string[]) => Promise<void>,
): void {
  dockerTest(name, async () => {
    const id = crypto.randomUUID();
    const images: string[] = [];
    try {
      await fn(id, images);
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      for (const image of images) await runtime.removeImage(image);
    }
  });
}

withCleanup(
  "ensureTrialImage() builds --dockerfile with its directory as context",
  async (id, images) => {
    await using dir = await tempDir();
    const longDir = "d".repeat(60) + "/" + "e".repeat(60);
    await Deno.mkdir(join(dir.dir, longDir), { recursive: true });
    await Deno.mkdir(join(dir.dir, ".ratchet"));
    await Deno.mkdir(join(dir.dir, "ignored-dir"));
    await Deno.writeTextFile(join(dir.dir, "hello.txt"), "hello\n");
    await Deno.writeTextFile(join(dir.dir, "secret.txt"), "secret\n");
    await Deno.writeTextFile(
      join(dir.dir, "ignored-dir", "keep.txt"),
      "kept\n",
    );
    await Deno.writeTextFile(
      join(dir.dir, "ignored-dir", "drop.txt"),
      "drop\n",
    );
    await Deno.writeTextFile(join(dir.dir, longDir, "nested.txt"), "deep\n");
    await Deno.writeTextFile(join(dir.dir, ".ratchet", "state.json"), "{}");
    await Deno.writeTextFile(join(dir.dir, "run.sh"), "#!/bin/sh\necho ran\n");
    await Deno.chmod(join(dir.dir, "run.sh"), 0o755);
    await Deno.symlink("hello.txt", join(dir.dir, "link.txt"));
    await Deno.writeTextFile(
      join(dir.dir, ".dockerignore"),
      "# comment\nsecret.txt\nignored-dir\n!ignored-dir/keep.txt\n",
    );
    const dockerfilePath = join(dir.dir, "trial.Dockerfile");
    await Deno.writeTextFile(
      dockerfilePath,
      `FROM busybox:latest\nCOPY . /ctx/\nRUN echo build-marker-${id}\nVOLUME /anon\nENTRYPOINT ["/bin/false"]\n`,
    );
    const lines: string[] = [];
    const image = await ensureTrialImage(runtime, {
      image: null,
      dockerfile: { path: dockerfilePath },
      version: "0.0.0-test",
      onProgress: (line) => lines.push(line),
    });
    images.push(image);
    assert.match(image, /^ratchet-trial:custom-[0-9a-f]{12}$/);
    assert.ok(
      lines.some((line) => line.includes(`build-marker-${id}`)),
      lines.join("\n"),
    );
    assert.equal((await imageLabels(image))["ratchet.image"], "custom");

    // ENTRYPOINT ["/bin/false"] would fail this if the runtime did not clear it.
    const result = await runtime.run(
      containerSpec(
        id,
        "cd /ctx && find . | sort && cat hello.txt link.txt && ./run.sh",
        { image },
      ),
      { timeoutMs: 30_000, outputCapBytes: MiB },
    );
    assert.equal(result.exitCode, 0, text(result.stderr));
    const out = text(result.stdout);
    const files = out.split("\n");
    assert.ok(files.includes("./hello.txt"));
    assert.ok(files.includes(`./${longDir}/nested.txt`), out);
    assert.ok(files.includes("./ignored-dir/keep.txt"), out);
    assert.ok(files.includes("./trial.Dockerfile"));
    for (
      const absent of [
        "./secret.txt",
        "./ignored-dir/drop.txt",
        "./.ratchet",
        "./.dockerignore",
        "./.ratchet.Dockerfile",
      ]
    ) {
      assert.ok(
        !files.includes(absent),
        `${absent} should not be in the context`,
      );
    }
    assert.match(out, /hello\nhello\nran\n$/);

    // The image's anonymous VOLUME goes away with the container.
    const sandbox = await runtime.startSandbox(
      containerSpec(id, "sleep 300", { image }),
    );
    const volume = await dockerOut(
      "inspect",
      "-f",
      "{{range .Mounts}}{{.Name}}{{end}}",
      sandbox.id,
    );
    assert.match(volume, /^[0-9a-f]{64}$/);
    await sandbox.close();
    assert.equal(
      await dockerOut("volume", "ls", "-q", "--filter", `name=${volume}`),
      "",
    );
  },
);

withCleanup(
  "ensureTrialImage() builds the default image once per tag",
  async (_id, images) => {
    const dockerfile =
      `FROM busybox:latest\nRUN echo default-${crypto.randomUUID()} > /marker\n`;
    const version = "0.0.0-test";
    const tag = defaultImageTag(version, dockerfile);
    images.push(tag);
    const first: string[] = [];
    const image = await ensureTrialImage(runtime, {
      image: null,
      dockerfile: null,
      version,
      defaultDockerfile: dockerfile,
      onProgress: (line) => first.push(line),
    });
    assert.equal(image, tag);
    assert.ok(
      first.some((line) => /Step 2\/\d+ : RUN echo default-/.test(line)),
      first.join("\n"),
    );
    assert.equal((await imageLabels(tag))["ratchet.version"], version);
    const second: string[] = [];
    assert.equal(
      await ensureTrialImage(runtime, {
        image: null,
        dockerfile: null,
        version,
        defaultDockerfile: dockerfile,
        onProgress: (line) => second.push(line),
      }),
      tag,
    );
    assert.deepEqual(second, []);
  },
);

withCleanup(
  "a failing build is an EnvironmentError with the end of the log",
  async (id, images) => {
    await using dir = await tempDir();
    const path = join(dir.dir, "Dockerfile");
    await Deno.writeTextFile(
      path,
      `FROM busybox:latest\nRUN echo failing-step-${id} && exit 3\n`,
    );
    const dockerfile = { path };
    await assert.rejects(
      ensureTrialImage(runtime, { image: null, dockerfile, version: "0" }),
      (error: unknown) => {
        assert.ok(error instanceof EnvironmentError);
        assert.equal(error.exitCode, ExitCode.environment);
        assert.match(error.message, new RegExp(`failing-step-${id}`));
        assert.match(error.message, /Dockerfile/);
        return true;
      },
    );
    images.push(`ratchet-trial:never-${id}`);
  },
);

withCleanup(
  "ensureTrialImage() with a missing --image fails with exit 3 naming it",
  async (id) => {
    const image = `ratchet-test-missing-${id.slice(0, 8)}:none`;
    await assert.rejects(
      ensureTrialImage(runtime, { image, dockerfile: null, version: "0" }),
      (error: unknown) =>
        error instanceof EnvironmentError &&
        error.exitCode === ExitCode.environment &&
        error.message.includes(image),
    );
    assert.equal(
      await ensureTrialImage(runtime, {
        image: "busybox:latest",
        dockerfile: null,
        version: "0",
      }),
      "busybox:latest",
    );
  },
);

/** The prepare step's inputs for a test repository. */
function prepareInput(
  id: string,
  root: string,
  command: string,
  onProgress?: (line: string) => void,
) {
  const labels = { "ratchet.test": id };
  return {
    runtime,
    spec: {
      runId: `test-${id.slice(0, 8)}`,
      config: testConfig({}),
      user: "4321:4321",
      env: () => undefined,
      extraMounts: [],
      labels,
    },
    baseImage: "busybox:latest",
    command,
    source: { kind: "git" as const, root, treeish: "HEAD" },
    git: testGit,
    trialUser: { uid: 4321, gid: 4321 },
    repoKey: `test-${id.slice(0, 8)}`,
    ...(onProgress === undefined ? {} : { onProgress }),
  };
}

withCleanup(
  "prepareImage() keeps what the command made outside the tree, drops the tree's own files, and is reused",
  async (id) => {
    await using repo = await tempRepo({
      "a.txt": "tracked\n",
      "lock.txt": "original lock\n",
    });
    // Network proves the prepare step gets a bridge even though trials do
    // not; root with default capabilities can install into the system.
    const command = [
      "ip route | grep -q default",
      "mkdir -p node_modules/x && echo dep > node_modules/x/i.js",
      "echo rewritten > lock.txt",
      "mkdir -p /opt && echo sys > /opt/p.txt && chown 0:0 /opt/p.txt",
      "echo done",
    ].join(" && ");
    try {
      const prepared = await prepareImage(prepareInput(id, repo.dir, command));
      assert.equal(prepared.reused, false);
      assert.deepEqual(prepared.roots, ["node_modules"]);
      const inImage = await runtime.run(
        containerSpec(
          id,
          "ls -A /work; stat -c %u:%g /work/node_modules/x/i.js; cat /opt/p.txt",
          { image: prepared.image },
        ),
        { timeoutMs: 30_000, outputCapBytes: MiB },
      );
      // Only what the command made is left under /work, given to the trial user.
      assert.equal(text(inImage.stdout), "node_modules\n4321:4321\nsys\n");

      // A candidate that deleted a.txt and kept its own lock.txt: a tracked
      // file deleted does not come back, a rewritten one does not leak.
      await Deno.remove(join(repo.dir, "a.txt"));
      await repo.commit("candidate");
      const images = new TreeImages({
        runtime,
        git: testGit,
        runId: `test-${id.slice(0, 8)}`,
        baseImage: prepared.image,
        snapshotDir: null,
        policy: {
          harness: [],
          editable: [],
          scratch: [],
          reportPath: null,
          configPath: null,
        },
        trialUser: { uid: 4321, gid: 4321 },
        labels: { "ratchet.test": id },
      });
      const image = await images.imageOf({
        key: "candidate",
        source: { kind: "git", root: repo.dir, treeish: "HEAD" },
      });
      const trial = await runtime.run(
        containerSpec(
          id,
          "ls -A /work; cat /work/lock.txt /work/node_modules/x/i.js",
          { image },
        ),
        { timeoutMs: 30_000, outputCapBytes: MiB },
      );
      assert.equal(
        text(trial.stdout),
        "lock.txt\nnode_modules\noriginal lock\ndep\n",
      );

      // Reused: a command that would fail is not run again, and it says so.
      await Deno.writeTextFile(join(repo.dir, "a.txt"), "tracked\n");
      await repo.commit("back to the start tree");
      const lines: string[] = [];
      const again = await prepareImage(
        prepareInput(id, repo.dir, command, (l) => lines.push(l)),
      );
      assert.equal(again.image, prepared.image);
      assert.equal(again.reused, true);
      assert.deepEqual(again.roots, ["node_modules"]);
      assert.match(lines.join("\n"), /Reusing the prepared image/);
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      await runtime.removeImages({
        "ratchet.test": id,
        "ratchet.role": "tree",
      });
      await runtime.removeImages({ "ratchet.test": id });
    }
  },
);

withCleanup(
  "a failing prepare command is exit 3 with its output and commits nothing",
  async (id) => {
    await using repo = await tempRepo({ "a.txt": "a\n" });
    await assert.rejects(
      prepareImage(
        prepareInput(
          id,
          repo.dir,
          "echo fetching; echo no-such-package >&2; exit 4",
        ),
      ),
      (error: unknown) => {
        assert.ok(error instanceof EnvironmentError);
        assert.equal(error.exitCode, ExitCode.environment);
        assert.match(error.message, /exited with code 4/);
        assert.match(error.message, /fetching/);
        assert.match(error.message, /no-such-package/);
        return true;
      },
    );
    assert.deepEqual(
      await runtime.listImages({ "ratchet.test": id }),
      [],
    );
  },
);
