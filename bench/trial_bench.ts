/**
 * `deno task bench:trial`: how much a trial through ratchet's runner costs
 * compared with the docker CLI and the bare host, on this machine, and how
 * that cost depends on the repository's size and on where the engine is.
 *
 * Prints the median wall time per trial of a trivial command (`echo score: 1`)
 * 1. through `runTrial` (a fresh container of the tree's image, the wrapper,
 *    its control log read from stderr, capture, metric) on
 *    tests/fixtures/sample_repo;
 * 2. through `docker run --rm --network none busybox`;
 * 3. on the host (`sh -c`);
 * 4. through `runTrial` on a generated large tree (10,000 files, 320 MiB),
 *    with the one-time cost of sending that tree to the engine as a layer;
 * 5. through `runTrial` on an engine that cannot see this machine's files (a
 *    second dockerd in its own mount namespace), with the time to bring the
 *    large tree to it;
 * then where the runner's time goes (the engine's create/start/wait/
 * inspect/remove round trips on the raw API), and the peak RSS of a
 * `measure` run in a fresh process.
 *
 * Goals: runner ≤ 0.6 × docker CLI and < 150 ms median; a trial of the large
 * tree within 1.5× of a tiny one's; measure < 200 MB. Not a test: numbers
 * depend on the machine and its load.
 *
 * With `--write`, the figures go to bench/results/trial.json (kept in git)
 * and the README's `trial-bench` block is rendered from that file
 * (bench/_trial_results.ts); a unit test fails when the two disagree.
 *
 * Usage: deno task bench:trial [--n 15] [--image busybox:latest] [--write]
 */
import { request } from "node:http";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { testConfig } from "../tests/_helpers/config.ts";
import { cp } from "node:fs/promises";
import { DockerRuntime } from "../src/infra/docker/runtime.ts";
import { resolveEngine } from "../src/infra/engine.ts";
import type { ContainerRuntime } from "../src/infra/runtime.ts";
import { runTrial, type TrialDeps } from "../src/trial/runner.ts";
import { TreeImages, type TreeRef } from "../src/trial/tree_images.ts";
import { policyOf } from "../src/app/run_state.ts";
import { startEngine } from "../tests/_helpers/engines.ts";
import { largeTreeRepo } from "./_large_tree.ts";
import { formatMarkdown } from "../tools/_markdown.ts";
import {
  renderTrialBlock,
  replaceReadmeBlock,
  TRIAL_MARKERS,
  TRIAL_RESULTS,
  type TrialBenchResults,
  type TrialBenchRow,
} from "./_trial_results.ts";
import { gitContextFrom } from "../src/infra/git/context.ts";

/** What git runs with in the bench: this process's environment. */
const git = gitContextFrom(Deno.env.toObject());

const { values } = parseArgs({
  args: Deno.args,
  options: {
    n: { type: "string", default: "15" },
    image: { type: "string", default: "busybox:latest" },
    write: { type: "boolean", default: false },
    "measure-child": { type: "string" },
  },
});
const N = Math.max(3, Number(values.n));
const IMAGE = values.image!;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const FIXTURE = join(ROOT, "tests", "fixtures", "sample_repo");
const LABEL = { "ratchet.bench": crypto.randomUUID() };
const socketPath = (() => {
  const host = Deno.env.get("DOCKER_HOST");
  return host?.startsWith("unix://") ? host.slice(7) : "/var/run/docker.sock";
})();
const runtime = new DockerRuntime(
  resolveEngine({ DOCKER_HOST: `unix://${socketPath}` }),
);

function print(line = ""): void {
  Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/**
 * Time several candidates round-robin (one of each per round, the order
 * rotating), so load from other work on the machine hits them alike.
 */
async function timeInterleaved(
  n: number,
  warmup: number,
  fns: Record<string, () => Promise<unknown>>,
): Promise<Record<string, number[]>> {
  const names = Object.keys(fns);
  const out: Record<string, number[]> = Object.fromEntries(
    names.map((k) => [k, []]),
  );
  for (let round = 0; round < warmup + n; round++) {
    for (let j = 0; j < names.length; j++) {
      const name = names[(round + j) % names.length]!;
      const t = performance.now();
      await fns[name]!();
      if (round >= warmup) out[name]!.push(performance.now() - t);
    }
  }
  return out;
}

const fmt = (ms: number) => `${ms.toFixed(1)} ms`;

/** Peak RSS (VmHWM) of this process in MB, on Linux; null elsewhere. */
async function peakRssMb(): Promise<number | null> {
  const status = await Deno.readTextFile("/proc/self/status").catch(() => null);
  const kb = status?.match(/^VmHWM:\s+(\d+) kB/m)?.[1];
  return kb === undefined ? null : Number(kb) / 1024;
}

const config = testConfig({
  runCommand: "echo score: 1",
  cpus: 1,
  memory: 256 * 1024 * 1024,
  pidsLimit: 256,
  shmSize: 16 * 1024 * 1024,
  harness: ["tests", "bench.sh"],
});

// A child process that runs one `measure` and reports its own peak RSS.
if (values["measure-child"] !== undefined) {
  const { measure } = await import("../src/app/measure.ts");
  const run = await measure({ runtime, git, env: () => undefined }, {
    config: testConfig({ ...config, runCommand: "sh bench.sh", image: IMAGE }),
    checkoutDir: values["measure-child"],
    trials: 5,
    labels: LABEL,
  });
  print(JSON.stringify({ n_ok: run.result.n_ok, peak_mb: await peakRssMb() }));
  Deno.exit(0);
}

/** One raw Engine API call over the unix socket; resolves with the status. */
function api(method: string, path: string, body?: unknown): Promise<number> {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : JSON.stringify(body);
    const req = request({
      socketPath,
      method,
      path,
      headers: data === undefined ? {} : {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(data),
      },
    }, (res) => {
      res.resume();
      res.on("end", () => resolve(res.statusCode ?? 0));
    });
    req.on("error", reject);
    if (data !== undefined) req.write(data);
    req.end();
  });
}

/** GET `path` on the raw API and parse the JSON answer. */
function apiJson(path: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, method: "GET", path }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => body += chunk);
      res.on("end", () => {
        try {
          resolve(JSON.parse(body));
        } catch (error) {
          reject(error);
        }
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/**
 * create → start → wait → inspect → delete on the raw API, each phase timed.
 * `networkMode` lets the bench show what joining a long-lived holder's
 * network namespace (`container:<id>`) would save over `none`.
 */
async function rawApiPhases(
  networkMode = "none",
): Promise<Record<string, number>> {
  const name = `ratchet-bench-${crypto.randomUUID().slice(0, 8)}`;
  const t: Record<string, number> = {};
  let last = performance.now();
  const lap = (k: string) => {
    const now = performance.now();
    t[k] = now - last;
    last = now;
  };
  await api("POST", `/containers/create?name=${name}`, {
    Image: IMAGE,
    Cmd: ["sh", "-c", "echo score: 1"],
    Labels: LABEL,
    HostConfig: { NetworkMode: networkMode, CapDrop: ["ALL"], Init: true },
  });
  lap("create");
  await api("POST", `/containers/${name}/start`);
  lap("start");
  await api("POST", `/containers/${name}/wait`);
  lap("wait");
  await api("GET", `/containers/${name}/json`);
  lap("inspect");
  await api("DELETE", `/containers/${name}?force=true`);
  lap("remove");
  return t;
}

/** The figures of this run, in the order printed. */
const rows: TrialBenchRow[] = [];
const series = (
  what: string,
  samples: number[],
  note = "",
): TrialBenchRow => ({
  what,
  median: median(samples),
  min: Math.min(...samples),
  unit: "ms",
  samples: samples.length,
  note,
});
const phaseNote = (p: Record<string, number[]>) =>
  Object.entries(p).map(([k, v]) => `${k} ${fmt(median(v))}`).join(", ");
const loadAverage = async () =>
  (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).split(" ")
    .slice(0, 3).join(" ");

/** The trial dependencies of one engine, its tree images labelled for the bench. */
function trialDeps(on: ContainerRuntime, runId: string): TrialDeps {
  return {
    runtime: on,
    images: new TreeImages({
      runtime: on,
      git,
      runId,
      baseImage: IMAGE,
      snapshotDir: null,
      policy: policyOf(config, null),
      trialUser: { uid: Deno.uid() ?? 0, gid: Deno.gid() ?? 0 },
      labels: LABEL,
    }),
    spec: {
      runId,
      config,
      user: `${Deno.uid() ?? 0}:${Deno.gid() ?? 0}`,
      env: () => undefined,
      extraMounts: [],
      labels: LABEL,
    },
    config,
  };
}

/** One trial of `tree`; throws unless it ends ok. */
async function oneTrial(deps: TrialDeps, tree: TreeRef): Promise<void> {
  const r = await runTrial(deps, {
    iter: 0,
    trial: 1,
    side: "measure",
    tree,
  });
  if (r.outcome !== "ok") throw new Error(`trial ${r.outcome}: ${r.detail}`);
}

/** Seconds `fn` takes, once. */
async function secondsOf(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

const dir = await Deno.makeTempDir({ prefix: "ratchet-bench-" });
const largeDir = await Deno.makeTempDir({ prefix: "ratchet-bench-large-" });
try {
  await cp(FIXTURE, dir, { recursive: true });
  const info = await runtime.info();
  const engine: Record<string, unknown> = await apiJson("/info").catch(
    () => ({}),
  );
  const loadBefore = await loadAverage();
  print(
    `ratchet trial bench — ${N} trials each, image ${IMAGE}, engine ${info.serverVersion} (${info.endpoint})`,
  );
  print(
    `load average: ${
      (await Deno.readTextFile("/proc/loadavg").catch(() => "?")).trim()
    }`,
  );
  print();

  const local = trialDeps(runtime, "bench");
  const tiny: TreeRef = { key: "tiny", source: { kind: "dir", dir } };
  const tinyBuild = await secondsOf(() => local.images.imageOf(tiny));
  const runTrialOnce = () => oneTrial(local, tiny);
  const runCli = async () => {
    const out = await new Deno.Command("docker", {
      args: [
        "run",
        "--rm",
        "--network",
        "none",
        "--label",
        `ratchet.bench=${LABEL["ratchet.bench"]}`,
        IMAGE,
        "sh",
        "-c",
        "echo score: 1",
      ],
      env: { DOCKER_HOST: `unix://${socketPath}` },
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!out.success) throw new Error(new TextDecoder().decode(out.stderr));
  };
  const runHost = async () => {
    await new Deno.Command("sh", {
      args: ["-c", "echo score: 1"],
      stdout: "piped",
    }).output();
  };
  const runBare = () =>
    runtime.run({
      image: IMAGE,
      cmd: ["sh", "-c", "echo score: 1"],
      workingDir: "/",
      env: {},
      user: "0:0",
      mounts: [],
      network: "none",
      limits: {
        cpus: 1,
        memoryBytes: 256 * 1024 * 1024,
        pidsLimit: 256,
        shmSizeBytes: 16 * 1024 * 1024,
        gpus: null,
      },
      labels: LABEL,
      capabilities: "none",
      readOnlyRoot: false,
    }, {
      timeoutMs: null,
      outputCapBytes: 1024 * 1024,
      // As the runner's trials do (bench run, iteration 0).
      sharedNetns: { key: "bench/0", scope: "bench" },
    });
  const times = await timeInterleaved(N, 2, {
    runner: runTrialOnce,
    cli: runCli,
    host: runHost,
    bare: runBare,
  });
  const { runner, cli, host, bare } = times as Record<
    "runner" | "cli" | "host" | "bare",
    number[]
  >;

  const mRunner = median(runner);
  const mCli = median(cli);
  const mHost = median(host);
  print(
    `runner (runTrial)     median ${fmt(mRunner)}   min ${
      fmt(Math.min(...runner))
    }   ×${(mRunner / mCli).toFixed(2)} of CLI   ×${
      (mRunner / mHost).toFixed(0)
    } of host`,
  );
  print(
    `docker run --rm CLI   median ${fmt(mCli)}   min ${fmt(Math.min(...cli))}`,
  );
  print(
    `host sh -c            median ${fmt(mHost)}   min ${
      fmt(Math.min(...host))
    }`,
  );
  const goals = `goal ≤ 0.6× the CLI ${
    mRunner <= 0.6 * mCli ? "met" : "not met"
  }; goal < 150 ms ${mRunner < 150 ? "met" : "not met"}`;
  print(
    `goal: runner ≤ 0.6 × CLI (${fmt(0.6 * mCli)}): ${
      mRunner <= 0.6 * mCli ? "met" : "NOT met"
    }; runner < 150 ms: ${
      mRunner < 150 ? "met" : "NOT met (see the engine floor below)"
    }`,
  );
  print();
  rows.push(
    series(
      "runner: runTrial of the sample repo (a container of its tree image, wrapper, control log from stderr, capture, metric)",
      runner,
      `×${(mRunner / mCli).toFixed(2)} of the docker CLI, ×${
        (mRunner / mHost).toFixed(0)
      } of the host; ${goals}`,
    ),
    series("`docker run --rm --network none busybox` (the docker CLI)", cli),
    series("host: `sh -c`", host),
  );

  // A large repository: its tree goes to the engine once, and a trial of
  // it should cost what a tiny one's does.
  print("large tree: generating 10,000 files, 320 MiB …");
  const large = await largeTreeRepo(largeDir);
  const largeTree: TreeRef = {
    key: "large",
    source: { kind: "git", root: largeDir, treeish: large.sha },
  };
  const largeBuild = await secondsOf(() => local.images.imageOf(largeTree));
  const sizes = await timeInterleaved(N, 1, {
    tiny: runTrialOnce,
    large: () => oneTrial(local, largeTree),
  });
  const mTiny = median(sizes.tiny!);
  const mLarge = median(sizes.large!);
  print(
    `tree image build: sample repo ${
      (tinyBuild * 1000).toFixed(0)
    } ms; large tree (${large.files} files, ${
      (large.bytes / 1024 ** 2).toFixed(0)
    } MiB) ${largeBuild.toFixed(1)} s, once`,
  );
  print(
    `trial, large tree     median ${fmt(mLarge)}   ×${
      (mLarge / mTiny).toFixed(2)
    } of the sample repo's ${fmt(mTiny)} (goal ≤ 1.5×: ${
      mLarge <= 1.5 * mTiny ? "met" : "NOT met"
    })`,
  );
  rows.push(
    {
      what: "tree image build, sample repo (once per tree)",
      median: tinyBuild * 1000,
      min: null,
      unit: "ms",
      samples: 1,
      note: "",
    },
    {
      what: `tree image build, large tree: ${large.files} files, ${
        (large.bytes / 1024 ** 2).toFixed(0)
      } MiB (once per tree)`,
      median: largeBuild,
      min: null,
      unit: "s",
      samples: 1,
      note: "grows with the repository, once per tree, never per trial",
    },
    series(
      "runner: runTrial of the large tree",
      sizes.large!,
      `×${(mLarge / mTiny).toFixed(2)} of the sample repo's ${
        fmt(mTiny)
      } measured alongside; goal ≤ 1.5× ${
        mLarge <= 1.5 * mTiny ? "met" : "not met"
      }`,
    ),
  );
  await local.images.removeAll();

  // An engine that does not see this machine's files (the stand-in for a
  // remote host): everything travels through the Engine API.
  print("hidden-filesystem engine: starting a second dockerd …");
  {
    await using engine = await startEngine("hidden", { images: [IMAGE] });
    const remote = new DockerRuntime(resolveEngine(engine.env));
    const far = trialDeps(remote, "bench-hidden");
    const farBuild = await secondsOf(() => far.images.imageOf(largeTree));
    await far.images.imageOf(tiny);
    const where = await timeInterleaved(N, 1, {
      local: runTrialOnce,
      hidden: () => oneTrial(far, tiny),
    });
    const mHidden = median(where.hidden!);
    print(
      `trial, hidden-fs engine median ${fmt(mHidden)}   ×${
        (mHidden / median(where.local!)).toFixed(2)
      } of the local engine's; large tree sent to it in ${
        farBuild.toFixed(1)
      } s, once`,
    );
    rows.push(
      series(
        "runner: runTrial on an engine that cannot see this machine's files",
        where.hidden!,
        `×${
          (mHidden / median(where.local!)).toFixed(2)
        } of the local engine's ${
          fmt(median(where.local!))
        } measured alongside`,
      ),
      {
        what: "large tree brought to that engine (once per tree)",
        median: farBuild,
        min: null,
        unit: "s",
        samples: 1,
        note: "",
      },
    );
    await far.images.removeAll();
  }
  print();

  const phases: Record<string, number[]> = {};
  for (let i = 0; i < N; i++) {
    for (const [k, v] of Object.entries(await rawApiPhases())) {
      (phases[k] ??= []).push(v);
    }
  }
  print("breakdown (medians):");
  print(`  DockerRuntime.run, no mounts, shared netns  ${fmt(median(bare))}`);
  print(
    `  runner − bare run (wrapper, control log, capture)  ${
      fmt(mRunner - median(bare))
    }`,
  );
  const rawTotal = Object.values(phases).reduce((a, v) => a + median(v), 0);
  print(
    `  raw API, NetworkMode none (a new netns per container) ${
      fmt(rawTotal)
    }: ${
      Object.entries(phases).map(([k, v]) => `${k} ${fmt(median(v))}`).join(
        ", ",
      )
    }`,
  );

  // The floor under the runner: what the engine alone takes for a container
  // joining a holder's netns, as the runner's trials do (netns_pool.ts).
  const holder = `ratchet-bench-holder-${crypto.randomUUID().slice(0, 8)}`;
  await api("POST", `/containers/create?name=${holder}`, {
    Image: IMAGE,
    Cmd: ["sleep", "3600"],
    Labels: LABEL,
    HostConfig: { NetworkMode: "none", Init: true },
  });
  await api("POST", `/containers/${holder}/start`);
  const joined: Record<string, number[]> = {};
  for (let i = 0; i < N; i++) {
    for (
      const [k, v] of Object.entries(await rawApiPhases(`container:${holder}`))
    ) {
      (joined[k] ??= []).push(v);
    }
  }
  await api("DELETE", `/containers/${holder}?force=true`);
  const joinedTotal = Object.values(joined).reduce((a, v) => a + median(v), 0);
  rows.push(
    series(
      "breakdown: `DockerRuntime.run`, no mounts, shared netns",
      bare,
    ),
    {
      what: "breakdown: runner − bare run (wrapper, control log, capture)",
      median: mRunner - median(bare),
      min: null,
      unit: "ms",
      samples: 0,
      note: "",
    },
    {
      what: "raw Engine API, NetworkMode none (a new netns per container)",
      median: rawTotal,
      min: null,
      unit: "ms",
      samples: N,
      note: `sum of the phase medians: ${phaseNote(phases)}`,
    },
    {
      what:
        "engine floor: raw Engine API, NetworkMode container:<holder> (as the runner)",
      median: joinedTotal,
      min: null,
      unit: "ms",
      samples: N,
      note: `sum of the phase medians: ${phaseNote(joined)}`,
    },
  );
  print(
    `  engine floor (raw API, NetworkMode container:<holder>, as the runner) ${
      fmt(joinedTotal)
    }: ${
      Object.entries(joined).map(([k, v]) => `${k} ${fmt(median(v))}`).join(
        ", ",
      )
    }`,
  );
  print();

  const child = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      fileURLToPath(import.meta.url),
      "--image",
      IMAGE,
      "--measure-child",
      dir,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "inherit",
  }).output();
  const measured = JSON.parse(
    new TextDecoder().decode(child.stdout).trim().split("\n").at(-1) ?? "{}",
  );
  print(
    `measure (5 trials of the sample project): peak RSS ${
      measured.peak_mb?.toFixed(1) ?? "?"
    } MB (goal < 200 MB), ${measured.n_ok}/5 ok`,
  );
  if (typeof measured.peak_mb === "number") {
    rows.push({
      what: "`measure`: 5 trials of the sample project, peak RSS",
      median: measured.peak_mb,
      min: null,
      unit: "MB",
      samples: 1,
      note: `goal < 200 MB ${
        measured.peak_mb < 200 ? "met" : "not met"
      }; ${measured.n_ok}/5 trials ok`,
    });
  }

  if (values.write) {
    const results: TrialBenchResults = {
      schema_version: 1,
      measured_at: new Date().toISOString(),
      command: `deno task bench:trial --n ${N} --write`,
      environment: {
        deno: Deno.version.deno,
        os: `${Deno.build.os} ${Deno.build.arch}`,
        cpus: String(navigator.hardwareConcurrency),
        engine: `${info.serverVersion}${info.rootless ? " (rootless)" : ""}`,
        runtime: String(engine.DefaultRuntime ?? "?"),
        cgroup: `v${engine.CgroupVersion ?? "?"}`,
        "load average": loadBefore,
      },
      rows,
    };
    await Deno.mkdir(dirname(TRIAL_RESULTS), { recursive: true });
    await Deno.writeTextFile(
      TRIAL_RESULTS,
      JSON.stringify(results, null, 2) + "\n",
    );
    const readmePath = join(ROOT, "README.md");
    const readme = replaceReadmeBlock(
      await Deno.readTextFile(readmePath),
      await formatMarkdown(renderTrialBlock(results)),
    );
    if (readme === null) {
      throw new Error(
        `README.md has no ${TRIAL_MARKERS.start} … ${TRIAL_MARKERS.end} markers`,
      );
    }
    await Deno.writeTextFile(readmePath, readme);
    print(`wrote ${TRIAL_RESULTS} and the README's trial-bench block`);
  } else {
    print("not written (pass --write to update bench/results/trial.json)");
  }
} finally {
  await runtime.removeContainers(LABEL).catch(() => {});
  await runtime.removeImages(LABEL).catch(() => {});
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.remove(largeDir, { recursive: true }).catch(() => {});
}
