/**
 * `measure` against the real daemon on the sample project
 * (tests/fixtures/sample_repo), with its own ratchet.jsonc: editable mode,
 * harness, scratch output directory. busybox stands in for the trial image.
 */
import assert from "node:assert/strict";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { dockerTest, testDockerSocket } from "../_helpers/docker.ts";
import type { Config } from "../../src/config/config.ts";
import { loadConfig } from "../../src/config/load.ts";
import { DockerRuntime } from "../../src/infra/docker/runtime.ts";
import { resolveEngine } from "../../src/infra/engine.ts";
import { cp } from "node:fs/promises";
import { measure, type MeasureProgress } from "../../src/app/measure.ts";
import { renderMeasure } from "../../src/ui/measure_view.ts";
import { testGit } from "../_helpers/git_context.ts";

const FIXTURE = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "fixtures",
  "sample_repo",
);
const runtime = new DockerRuntime(
  resolveEngine({ DOCKER_HOST: `unix://${testDockerSocket()}` }),
);

async function sampleCheckout(): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-measure-it-" });
  await cp(FIXTURE, dir, { recursive: true, preserveTimestamps: true });
  return dir;
}

async function fixtureConfig(
  dir: string,
  flags: Partial<Config> = {},
): Promise<Config> {
  const { config } = await loadConfig({
    cwd: dir,
    repoRoot: dir,
    configPath: null,
    // busybox stands in for the default trial image.
    flags: { image: "busybox:latest", ...flags },
    trustConfig: false,
    purpose: "measure",
    envModel: undefined,
    readTextFile: (p) => Deno.readTextFile(p),
  });
  return config;
}

async function listing(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(join(dir, rel))) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    out.push(path);
    if (e.isDirectory) out.push(...await listing(dir, path));
  }
  return out.sort();
}

function measureTest(
  name: string,
  fn: (dir: string, id: string) => Promise<void>,
) {
  dockerTest(name, async () => {
    const id = crypto.randomUUID();
    const dir = await sampleCheckout();
    try {
      await fn(dir, id);
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      await runtime.removeVolumes({ "ratchet.test": id });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

measureTest(
  "measure runs the sample project's trials and reports spec §8 fields",
  async (dir, id) => {
    const before = await listing(dir);
    const config = await fixtureConfig(dir);
    assert.deepEqual(config.editable, ["src"]);
    const progress: MeasureProgress[] = [];
    const run = await measure({ runtime, git: testGit, env: () => undefined }, {
      config,
      checkoutDir: dir,
      trials: 3,
      labels: { "ratchet.test": id },
      onTrial: (p) => progress.push(p),
    });
    const r = run.result;
    assert.deepEqual(Object.keys(r), [
      "schema_version",
      "rule",
      "unit",
      "trials",
      "n",
      "n_ok",
      "mean",
      "median",
      "stdev",
      "cv",
      "min",
      "max",
    ]);
    assert.equal(r.schema_version, 1);
    assert.equal(r.rule, "line");
    assert.equal(r.unit, null);
    assert.equal(r.n, 3);
    assert.equal(r.n_ok, 3, run.details.join("\n"));
    assert.deepEqual([r.mean, r.median, r.stdev, r.cv, r.min, r.max], [
      75025,
      75025,
      0,
      0,
      75025,
      75025,
    ]);
    for (const t of r.trials) {
      assert.deepEqual(Object.keys(t), [
        "score",
        "outcome",
        "exit_code",
        "wall_s",
      ]);
      assert.equal(t.outcome, "ok");
      assert.equal(t.exit_code, 0);
      assert.ok(t.wall_s !== null && t.wall_s > 0 && t.wall_s < 30);
    }
    assert.deepEqual(progress.map((p) => `${p.k}/${p.n}`), [
      "1/3",
      "2/3",
      "3/3",
    ]);
    assert.equal(run.message, null);

    const text = renderMeasure(run, { color: false });
    assert.match(text, /trial 1\/3 +ok +score 75025/);
    assert.match(text, /rule +last "NAME: VALUE" line/);
    assert.match(
      text,
      /mean +75025\nmedian +75025\nstdev +0\ncv +0\.0%\nmin +75025\nmax +75025/,
    );
    assert.ok(!text.includes("\x1b["), "no colour codes");
    // No git was needed, and the checkout is left as it was (no .ratchet either).
    assert.deepEqual(await listing(dir), before);
  },
);

measureTest(
  "measure reads a report file, and explains when no trial yields the metric",
  async (dir, id) => {
    const fromFile = await measure({
      runtime,
      git: testGit,
      env: () => undefined,
    }, {
      config: await fixtureConfig(dir, { reportSource: "out/report.txt" }),
      checkoutDir: dir,
      trials: 1,
      labels: { "ratchet.test": id },
    });
    assert.equal(fromFile.result.n_ok, 1, fromFile.details.join("\n"));
    assert.equal(fromFile.result.mean, 75025);

    const none = await measure(
      { runtime, git: testGit, env: () => undefined },
      {
        config: await fixtureConfig(dir, { metricName: "latency_ms" }),
        checkoutDir: dir,
        trials: 2,
        labels: { "ratchet.test": id },
      },
    );
    assert.equal(none.result.n_ok, 0);
    assert.deepEqual(none.result.trials.map((t) => t.outcome), [
      "no_metric",
      "no_metric",
    ]);
    assert.equal(none.result.mean, null);
    assert.equal(none.result.rule, null);
    assert.match(none.message ?? "", /latency_ms.*tried/s);
    assert.match(none.message ?? "", /--report-source wall/);
    const text = renderMeasure(none, { color: true });
    assert.match(text, /No trial yielded the metric/);
    assert.match(text, /--report-source wall/);
    assert.ok(text.includes("\x1b[31m"), "red when coloured");
  },
);

measureTest(
  "measure keeps the harness read-only and reports a crash",
  async (dir, id) => {
    const measureWith = async (runCommand: string) =>
      measure({ runtime, git: testGit, env: () => undefined }, {
        config: await fixtureConfig(dir, { runCommand }),
        checkoutDir: dir,
        trials: 1,
        labels: { "ratchet.test": id },
      });
    // Had the write worked, bench.sh (set -e) would run "broken" and fail.
    const held = await measureWith("echo broken > tests/check.sh; sh bench.sh");
    assert.deepEqual(
      held.result.trials.map((t) => t.outcome),
      ["ok"],
      held.details.join(),
    );
    const crashed = await measureWith("sh bench.sh; exit 2");
    assert.deepEqual(
      crashed.result.trials.map((t) => [t.outcome, t.exit_code]),
      [["crashed", 2]],
    );
    assert.match(
      crashed.message ?? "",
      /crashed: the run command exited with status 2/,
    );
    assert.match(renderMeasure(crashed, { color: false }), /crashed/);
  },
);

measureTest(
  "measure reads every guard from the same report, by the metric's rules, and a missing one is no_metric",
  async (dir, id) => {
    // The sample's stdout has a JSON line {"fib": {"value": N}}: a dotted
    // guard finds it, as the metric's rules would.
    const run = await measure({ runtime, git: testGit, env: () => undefined }, {
      config: await fixtureConfig(dir, {
        guard: [{ name: "fib.value", direction: "max", tolerance: 0 }],
      }),
      checkoutDir: dir,
      trials: 2,
      labels: { "ratchet.test": id },
    });
    assert.equal(run.result.n_ok, 2, run.details.join("\n"));
    for (const t of run.result.trials) {
      assert.deepEqual(t.guards, { "fib.value": 75025 });
    }
    assert.deepEqual(run.result.guards, {
      "fib.value": {
        unit: null,
        n_ok: 2,
        mean: 75025,
        median: 75025,
        stdev: 0,
        cv: 0,
        min: 75025,
        max: 75025,
      },
    });
    assert.match(
      renderMeasure(run, { color: false }),
      /guard fib\.value {2}mean 75025/,
    );
    const missing = await measure({
      runtime,
      git: testGit,
      env: () => undefined,
    }, {
      config: await fixtureConfig(dir, {
        guard: [{ name: "accuracy", direction: "max", tolerance: 0.02 }],
      }),
      checkoutDir: dir,
      trials: 1,
      labels: { "ratchet.test": id },
    });
    assert.equal(missing.result.trials[0]!.outcome, "no_metric");
    assert.match(
      missing.message ?? "",
      /guard "accuracy": metric "accuracy" not found in the report; tried:/,
    );
  },
);
