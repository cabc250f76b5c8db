/**
 * Signals outside the loop (issue 16): Ctrl-C, SIGTERM and SIGHUP during
 * `measure` and `calibrate` trials, an image build, an image pull and the
 * prepare step end every command promptly with 130 / 143 / 129, leaving no
 * container, no image and no half-made run behind; a run stopped during its
 * prepare step is resumable. `status` shows the `preparing` phase while it
 * runs.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { spawnCli, type Spawned } from "../_helpers/cli.ts";
import { dockerApi, dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { customImageTag } from "../../src/infra/image.ts";
import { repoKeyOf } from "../../src/trial/prepare.ts";
import {
  apiEnv,
  exists,
  ratchet,
  readRun,
  removeRunContainers,
  runArgs,
  runContainers,
  scoringRepo,
  waitFor,
} from "./_support.ts";

/** Ids of the prepared images of the repository at `dir`. */
async function preparedImages(dir: string): Promise<string[]> {
  const filters = JSON.stringify({
    label: ["ratchet.role=prepared", `ratchet.repo=${repoKeyOf(dir)}`],
  });
  const list = await dockerApi(
    "GET",
    `/images/json?filters=${encodeURIComponent(filters)}`,
  ) as { Id: string }[] | null;
  return (list ?? []).map((i) => i.Id);
}

const CODES = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const;
/** How long a command may take to end after the signal. */
const PROMPT_MS = 10_000;

const MEASURE = [
  "--metric-name",
  "score",
  "--report-source",
  "stdout",
  "--trials",
  "3",
];

/** Ids of every container (running or not) whose command holds `marker`. */
async function containersWith(marker: string): Promise<string[]> {
  const all = await dockerApi("GET", "/containers/json?all=1") as {
    Id: string;
    Command: string;
  }[];
  return all.filter((c) => c.Command.includes(marker)).map((c) => c.Id);
}

/** Whether image `name` exists. */
async function imageExists(name: string): Promise<boolean> {
  const answer = await dockerApi(
    "GET",
    `/images/${encodeURIComponent(name)}/json`,
  ) as { Id?: string } | null;
  return typeof answer?.Id === "string";
}

/** Send `signal` once `ready` holds; the exit code and the ms it took after the signal. */
async function signalWhen(
  p: Spawned,
  signal: keyof typeof CODES,
  what: string,
  ready: () => boolean | Promise<boolean>,
): Promise<{ code: number; ms: number; stderr: string }> {
  try {
    await waitFor(what, ready, 60_000);
  } catch (error) {
    p.kill("SIGKILL");
    await p.done;
    throw new Error(`${error}; stderr: ${p.stderr()}`);
  }
  const t0 = performance.now();
  p.kill(signal);
  const r = await p.done;
  return { code: r.code, ms: performance.now() - t0, stderr: r.stderr };
}

/** Wait until no container runs `marker` (the engine may take a moment). */
async function noContainersWith(marker: string): Promise<void> {
  await waitFor(
    `containers running ${marker} to be gone`,
    async () => (await containersWith(marker)).length === 0,
    PROMPT_MS,
  );
}

dockerTest(
  "measure and calibrate stop during a trial on SIGINT (130), SIGTERM (143) and SIGHUP (129), promptly, with no container and no .ratchet left",
  async () => {
    for (
      const [command, signal] of [
        ["measure", "SIGINT"],
        ["calibrate", "SIGTERM"],
        ["measure", "SIGHUP"],
      ] as const
    ) {
      const marker = `sig-${crypto.randomUUID().slice(0, 8)}`;
      await using repo = await tempRepo({ "README.md": "x\n" });
      const p = spawnCli([
        command,
        "--run-command",
        `sleep 30; echo score: 1 # ${marker}`,
        "--image",
        "busybox:latest",
        ...MEASURE,
      ], { cwd: repo.dir });
      const r = await signalWhen(
        p,
        signal,
        `the ${command} trial`,
        async () => (await containersWith(marker)).length > 0,
      );
      assert.equal(r.code, CODES[signal], `${command} ${signal}: ${r.stderr}`);
      assert.ok(r.ms < PROMPT_MS, `${command} took ${r.ms} ms after ${signal}`);
      assert.match(r.stderr, new RegExp(`Interrupted by ${signal}`));
      assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
      assert.deepEqual(await containersWith(marker), []);
      assert.equal(await exists(join(repo.dir, ".ratchet")), false);
    }
  },
);

dockerTest(
  "a signal during an image build cuts the build off: exit 130, promptly, no build container and no image",
  async () => {
    const marker = `build-${crypto.randomUUID().slice(0, 8)}`;
    const text = `FROM busybox:latest\nRUN sleep 40 # ${marker}\n`;
    await using repo = await tempRepo({
      "Dockerfile.slow": text,
      "score.sh": 'echo "score: 1"\n',
    });
    const p = spawnCli([
      "measure",
      "--run-command",
      "sh score.sh",
      "--dockerfile",
      "Dockerfile.slow",
      ...MEASURE,
    ], { cwd: repo.dir });
    const r = await signalWhen(
      p,
      "SIGINT",
      "the build's RUN step",
      async () => (await containersWith(marker)).length > 0,
    );
    assert.equal(r.code, 130, r.stderr);
    assert.ok(r.ms < PROMPT_MS, `took ${r.ms} ms after SIGINT`);
    assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
    await noContainersWith(marker);
    const tag = customImageTag(join(repo.dir, "Dockerfile.slow"), text);
    assert.equal(await imageExists(tag), false, `${tag} was built`);
  },
);

/** Layer containers and tree images on the engine (Docker tests run one at a time). */
async function treeLeftovers(): Promise<{ id: string }[]> {
  const filters = encodeURIComponent(
    JSON.stringify({ label: ["ratchet.role=tree"] }),
  );
  const containers = await dockerApi(
    "GET",
    `/containers/json?all=1&filters=${filters}`,
  ) as { Id: string }[];
  const images = await dockerApi("GET", `/images/json?filters=${filters}`) as {
    Id: string;
  }[];
  return [...containers, ...images].map((x) => ({ id: x.Id }));
}

dockerTest(
  "a signal while a tree is sent to the engine cuts the upload off: exit 143, promptly, no layer container and no tree image",
  async () => {
    await using repo = await tempRepo({ "score.sh": 'echo "score: 1"\n' });
    // 400 MiB the checkout sends (untracked files are read from disk): the
    // upload lasts long enough to be interrupted.
    const mib = new Uint8Array(1024 * 1024);
    await Deno.mkdir(join(repo.dir, "data"));
    for (let i = 0; i < 400; i++) {
      await Deno.writeFile(join(repo.dir, "data", `${i}.bin`), mib);
    }
    // Only what this test makes counts (another run may have left some).
    const before = new Set((await treeLeftovers()).map((x) => x.id));
    const made = async () =>
      (await treeLeftovers()).filter((x) => !before.has(x.id));
    const p = spawnCli([
      "measure",
      "--run-command",
      "sh score.sh",
      "--image",
      "busybox:latest",
      ...MEASURE,
    ], { cwd: repo.dir });
    const r = await signalWhen(
      p,
      "SIGTERM",
      "the tree's upload",
      async () => (await made()).length > 0,
    );
    assert.equal(r.code, 143, r.stderr);
    assert.ok(r.ms < PROMPT_MS, `took ${r.ms} ms after SIGTERM`);
    assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
    await waitFor(
      "the layer container to be gone",
      async () => (await made()).length === 0,
      PROMPT_MS,
    );
  },
);

dockerTest(
  "a signal during an image pull cuts the pull off: exit 143, promptly",
  async () => {
    // A registry that accepts connections and never answers: the pull hangs.
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const conns: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const c of listener) conns.push(c);
    })();
    try {
      await using repo = await tempRepo({ "score.sh": 'echo "score: 1"\n' });
      const image = `127.0.0.1:${listener.addr.port}/hang/img:latest`;
      const p = spawnCli([
        "measure",
        "--run-command",
        "sh score.sh",
        "--image",
        image,
        ...MEASURE,
      ], { cwd: repo.dir });
      const r = await signalWhen(
        p,
        "SIGTERM",
        "the pull to reach the registry",
        () => conns.length > 0 && /pulling it/.test(p.stderr()),
      );
      assert.equal(r.code, 143, r.stderr);
      assert.ok(r.ms < PROMPT_MS, `took ${r.ms} ms after SIGTERM`);
      assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
      assert.equal(await exists(join(repo.dir, ".ratchet")), false);
    } finally {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting.catch(() => {});
    }
  },
);

dockerTest(
  "a run stopped during --prepare-command (SIGTERM, 143) leaves no prepare container and no prepared image, is resumable, and status shows the preparing phase meanwhile",
  async () => {
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([]);
    const marker = `prep-${crypto.randomUUID().slice(0, 8)}`;
    try {
      // SLOW is passed only to the first run: resume prepares at once.
      const args = runArgs(
        0,
        "--decision",
        "mean",
        "--prepare-command",
        `sleep \${SLOW:-0}; echo prepared # ${marker}`,
        "--pass-env",
        "SLOW",
        "--json",
      );
      const p = spawnCli(args, {
        cwd: repo.dir,
        env: apiEnv(server, { SLOW: "40" }),
      });
      let status: Record<string, unknown> = {};
      const r = await signalWhen(
        p,
        "SIGTERM",
        "the prepare step and status showing it",
        async () => {
          if ((await containersWith(marker)).length === 0) return false;
          const s = await ratchet(["status", "--json"], repo.dir, null);
          if (s.code !== 0) return false;
          status = JSON.parse(s.stdout);
          return status.phase === "preparing";
        },
      );
      assert.equal(status.state, "running");
      assert.equal(status.iter, 0);
      assert.match(p.stdout(), /"event":"phase","iter":0,"phase":"preparing"/);
      assert.equal(r.code, 143, r.stderr);
      assert.ok(r.ms < PROMPT_MS, `took ${r.ms} ms after SIGTERM`);
      assert.match(r.stderr, /ratchet resume/);
      assert.doesNotMatch(r.stderr, /internal error|this is a bug/);
      const run = await readRun(repo.dir);
      assert.equal(run.state, "running");
      assert.equal(run.stop_reason, "interrupted");
      assert.deepEqual(await containersWith(marker), []);
      assert.deepEqual(await runContainers(run.run_id), []);
      // Nothing was committed: no prepared image of this repository.
      assert.equal(run.trial_image, null);
      assert.deepEqual(await preparedImages(repo.dir), []);
      assert.equal(await exists(join(repo.dir, ".ratchet/lock")), false);
      const again = await ratchet(["resume"], repo.dir, server);
      assert.equal(again.code, 0, again.stderr);
      assert.equal((await readRun(repo.dir)).state, "finished");
      assert.deepEqual(server.violations, []);
    } finally {
      await removeRunContainers(repo.dir);
      for (const id of await preparedImages(repo.dir)) {
        await dockerApi("DELETE", `/images/${id}?force=1`).catch(() => {});
      }
    }
  },
);
