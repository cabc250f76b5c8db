/**
 * Flags, paths, state and output of the real CLI that need neither Docker
 * nor a model (issue 16): `--gpus` checked with the other flags, `--no-NAME`
 * negations, what `resume` accepts, `measure --trials` beyond the run-only
 * rule, `report --out` relative to the repo root, `status` showing the
 * phase, trial and in-progress spend, colour decided per stream, and
 * `init`'s harness and test command for each ecosystem it recognizes.
 * Docker is a socket that does not exist: a command that gets past its
 * flags stops there with exit 3.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "jsonc-parser";
import { runCli, runCliInTerminal } from "./_helpers/cli.ts";
import { tempRepo } from "./_helpers/git_repo.ts";
import { scoreRunFlags } from "./_helpers/score_flags.ts";
import { buildFixture, installFixture } from "./fixtures/records/generate.ts";

const NO_DOCKER = "unix:///nonexistent-ratchet-test.sock";
/** The escape character that starts every ANSI colour code. */
const ESC = "\x1b";
const ENV = { ANTHROPIC_API_KEY: "test", DOCKER_HOST: NO_DOCKER };

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

function scoringFiles(): Record<string, string> {
  return {
    "value.txt": "10\n",
    "score.sh": 'echo "score: $(cat value.txt)"\n',
  };
}

Deno.test("a bad --gpus is refused with the other flags (exit 2, naming it) before Docker is asked", async () => {
  await using repo = await tempRepo(scoringFiles());
  for (
    const [args, value] of [
      [[...scoreRunFlags(), "--gpus", "bogus=1"], "bogus=1"],
      [[
        "measure",
        "--run-command",
        "sh score.sh",
        "--metric-name",
        "score",
        "--report-source",
        "stdout",
        "--gpus",
        "many",
      ], "many"],
    ] as const
  ) {
    const r = await runCli([...args], { cwd: repo.dir, env: ENV });
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(
      r.stderr,
      new RegExp(`error: Invalid value for --gpus: "${value}"`),
    );
    assert.match(r.stderr, /hint: Use "all", a count, or "device=0,1"/);
    assert.doesNotMatch(r.stderr, /Docker/);
    assert.equal(await exists(join(repo.dir, ".ratchet")), false);
  }
  // A good value gets past the flags (to Docker, absent here).
  const ok = await runCli([...scoreRunFlags(), "--gpus", "device=0,1"], {
    cwd: repo.dir,
    env: ENV,
  });
  assert.equal(ok.code, 3, ok.stderr);
  assert.match(ok.stderr, /Docker is not reachable/);
});

Deno.test("measure --trials 20 and calibrate --trials 11 are not held to the run's max-trials rule", async () => {
  await using repo = await tempRepo({
    ...scoringFiles(),
    "ratchet.jsonc":
      '{ "run-command": "sh score.sh", "metric-name": "score", "report-source": "stdout", "trials": 3, "max-trials": 10 }\n',
  });
  for (
    const args of [["measure", "--trials", "20"], [
      "calibrate",
      "--trials",
      "11",
    ]]
  ) {
    const r = await runCli(args, { cwd: repo.dir, env: ENV });
    // Past the configuration: stopped by the missing Docker, not by exit 2.
    assert.equal(r.code, 3, `${args.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /Docker is not reachable/);
  }
});

Deno.test("--no-NAME resets what ratchet.jsonc set, and refuses to be given with its option", async () => {
  await using repo = await tempRepo({
    ...scoringFiles(),
    "Dockerfile.trial": "FROM busybox:latest\n",
    "ratchet.jsonc":
      '{ "run-command": "sh score.sh", "direction": "max", "metric-name": "score", "report-source": "stdout", "image": "busybox:latest", "critic": true, "threshold": 50 }\n',
  });
  const base = ["run", "--trust-config", "--dockerfile", "Dockerfile.trial"];
  // The file's image and the flag's Dockerfile cannot both hold...
  const both = await runCli(base, { cwd: repo.dir, env: ENV });
  assert.equal(both.code, 2, both.stderr);
  assert.match(both.stderr, /cannot both be set/);
  // ...until --no-image takes the file's image away: then Docker is next.
  const reset = await runCli([...base, "--no-image", "--no-critic"], {
    cwd: repo.dir,
    env: ENV,
  });
  assert.equal(reset.code, 3, reset.stderr);
  assert.match(reset.stderr, /Docker is not reachable/);
  const clash = await runCli(
    [...base, "--no-image", "--threshold", "5", "--no-threshold"],
    { cwd: repo.dir, env: ENV },
  );
  assert.equal(clash.code, 2, clash.stderr);
  assert.match(clash.stderr, /--threshold and --no-threshold are both given/);
  const help = await runCli(["run", "--help"], { cwd: repo.dir });
  for (
    const flag of [
      "--no-critic",
      "--no-threshold",
      "--no-trial-timeout-seconds",
      "--no-image",
      "--no-gpus",
    ]
  ) {
    assert.match(help.stdout, new RegExp(`${flag}\\b`));
  }
});

Deno.test("resume takes the settings it may change and refuses the others, naming the flag", async () => {
  await using repo = await tempRepo(scoringFiles());
  const refused = await runCli(["resume", "--trials", "5"], {
    cwd: repo.dir,
    env: ENV,
  });
  assert.equal(refused.code, 2, refused.stderr);
  assert.match(
    refused.stderr,
    /error: "ratchet resume" cannot change --trials: it is fixed for the run/,
  );
  assert.match(
    refused.stderr,
    /hint: resume accepts --iterations, --max-cost-usd, --patience, --threshold, --model/,
  );
  const unknown = await runCli(["resume", "--frobnicate"], {
    cwd: repo.dir,
    env: ENV,
  });
  assert.equal(unknown.code, 2);
  assert.match(
    unknown.stderr,
    /Unknown flag --frobnicate for "ratchet resume"/,
  );
  const bad = await runCli(["resume", "--patience", "-3"], {
    cwd: repo.dir,
    env: ENV,
  });
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--patience/);
  // Accepted: with no run here, resume says so (exit 3).
  for (
    const flags of [
      ["--iterations", "30"],
      ["--max-cost-usd", "25"],
      ["--patience", "4"],
      ["--threshold", "12.5"],
      ["--no-threshold"],
      ["--model", "claude-sonnet-4-5"],
    ]
  ) {
    const r = await runCli(["resume", ...flags], { cwd: repo.dir, env: ENV });
    assert.equal(r.code, 3, `${flags.join(" ")}: ${r.stderr}`);
    assert.match(r.stderr, /no run to resume/);
  }
});

Deno.test("report --out is relative to the repo root from any directory; an absolute path is absolute", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  await Deno.mkdir(join(repo.dir, "sub"));
  const cwd = join(repo.dir, "sub");
  const r = await runCli(["report", "--out", "run.html"], { cwd, env: ENV });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout.trim(), join(repo.dir, "run.html"));
  assert.match(
    await Deno.readTextFile(join(repo.dir, "run.html")),
    /^<!doctype html>/,
  );
  assert.equal(await exists(join(cwd, "run.html")), false);
  await using other = await tempRepo();
  const absolute = join(other.dir, "elsewhere.html");
  const a = await runCli(["report", "--out", absolute], { cwd, env: ENV });
  assert.equal(a.code, 0, a.stderr);
  assert.equal(a.stdout.trim(), absolute);
  assert.match(await Deno.readTextFile(absolute), /^<!doctype html>/);
});

/** A copy of the `mixed` fixture as an interrupted run with `current` in progress. */
async function interruptedRun(
  dir: string,
  current: Record<string, unknown>,
): Promise<{ recordsCost: number; runId: string; iters: number }> {
  await installFixture("mixed", dir);
  const { run, records } = buildFixture("mixed");
  await Deno.writeTextFile(
    join(dir, ".ratchet/config.json"),
    JSON.stringify({ ...run, state: "running", stop_reason: "interrupted" }),
  );
  await Deno.writeTextFile(
    join(dir, ".ratchet/current.json"),
    JSON.stringify({
      schema_version: 1,
      run_id: run.run_id,
      iter: records.length,
      incumbent_sha: records[0]!.sha,
      candidate_tree: null,
      hypothesis: "",
      description: "",
      started_at: "2026-03-02T12:00:00.000Z",
      tokens: { input: 0, output: 0, cache_write: 0, cache_read: 0 },
      cost_usd: 0,
      ...current,
    }),
  );
  return {
    recordsCost: records.reduce((a, r) => a + r.cost_usd, 0),
    runId: run.run_id,
    iters: records.length,
  };
}

Deno.test("status counts the in-progress iteration's spend already in current.json", async () => {
  await using repo = await tempRepo();
  const { recordsCost, iters } = await interruptedRun(repo.dir, {
    phase: "proposing",
    cost_usd: 0.4321,
    tokens: { input: 5000, output: 900, cache_write: 0, cache_read: 0 },
  });
  const r = await runCli(["status", "--json"], { cwd: repo.dir, env: ENV });
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout);
  assert.equal(status.state, "interrupted");
  assert.equal(status.iter, iters);
  assert.equal(status.phase, "proposing");
  assert.ok(
    Math.abs(status.cost_usd - (recordsCost + 0.4321)) < 1e-6,
    `cost ${status.cost_usd}, records ${recordsCost} + 0.4321 in progress`,
  );
  const text = await runCli(["status"], { cwd: repo.dir, env: ENV });
  assert.match(
    text.stdout,
    new RegExp(`cost\\s+\\$${(recordsCost + 0.4321).toFixed(2)}`),
  );
});

Deno.test("status shows the baseline phase with trial k of n from current.json", async () => {
  await using repo = await tempRepo();
  await interruptedRun(repo.dir, {
    iter: 14,
    phase: "baseline",
    trial: 2,
    of: 5,
  });
  const r = await runCli(["status", "--json"], { cwd: repo.dir, env: ENV });
  assert.equal(r.code, 0, r.stderr);
  const status = JSON.parse(r.stdout);
  assert.equal(status.phase, "baseline");
  assert.equal(status.trial, 2);
  assert.equal(status.of, 5);
  const text = await runCli(["status"], { cwd: repo.dir, env: ENV });
  assert.match(text.stdout, /iteration\s+14 \(baseline, trial 2 of 5\)/);
});

Deno.test("colour follows each stream: status and log redirected to a file write no escape codes while stderr is a terminal", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  for (const command of ["status", "log"]) {
    const file = join(repo.dir, `${command}.txt`);
    const r = await runCliInTerminal([command], {
      cwd: repo.dir,
      env: ENV,
      redirect: `> '${file}'`,
    });
    assert.equal(r.code, 0, r.terminal);
    const text = await Deno.readTextFile(file);
    assert.ok(text.length > 100, `${command} wrote: ${text}`);
    assert.ok(!text.includes(`${ESC}[`), `${command} > file has escape codes`);
    // On the terminal itself the same output is coloured.
    const shown = await runCliInTerminal([command], {
      cwd: repo.dir,
      env: ENV,
    });
    assert.ok(shown.terminal.includes(`${ESC}[1m`), `${command} on a terminal`);
  }
  // An error on the terminal (stderr) stays coloured while stdout is a file.
  await using empty = await tempRepo();
  const err = await runCliInTerminal(["status"], {
    cwd: empty.dir,
    env: ENV,
    redirect: "> /dev/null",
  });
  assert.equal(err.code, 3);
  assert.ok(err.terminal.includes(`${ESC}[31m${ESC}[1merror`), err.terminal);
});

/** `ratchet init` in a repo of `files`; the parsed ratchet.jsonc and its text. */
async function init(
  files: Record<string, string>,
): Promise<{ value: Record<string, unknown>; text: string }> {
  await using repo = await tempRepo(files);
  const r = await runCli(["init"], { cwd: repo.dir });
  assert.equal(r.code, 0, r.stderr);
  const text = await Deno.readTextFile(join(repo.dir, "ratchet.jsonc"));
  return { value: parse(text) as Record<string, unknown>, text };
}

Deno.test("init protects the benchmark, the files defining the commands and the test-runner config, and proposes the real test command, per ecosystem", async () => {
  const node = await init({
    "package.json": JSON.stringify({
      scripts: { bench: "node bench/run.js", test: "node --test" },
    }),
    "bench/run.js": "console.log('ok')\n",
    "src/lib.js": "export const x = 1;\n",
    "src/lib.test.js": "import './lib.js';\n",
  });
  assert.equal(node.value["run-command"], "npm run -s bench");
  assert.deepEqual(node.value.harness, [
    "package.json",
    "bench/run.js",
    "bench/**",
    "**/*.test.*",
  ]);
  assert.equal(node.value["check-command"], "npm test --silent");

  const pytest = await init({
    "pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n",
    "Makefile": "test:\n\tpytest\n",
    "pkg/core.py": "X = 1\n",
    "tests/test_core.py": "def test_x(): pass\n",
  });
  assert.equal(pytest.value["run-command"], "python3 -m pytest -q");
  assert.deepEqual(pytest.value.harness, [
    "tests/**",
    "**/test_*.py",
    "pyproject.toml",
  ]);
  assert.match(pytest.text, /\/\/ "check-command": "python3 -m pytest -q"/);
  assert.doesNotMatch(pytest.text, /make test/);

  const bench = await init({
    "bench.py": "print('seconds: 1')\n",
    "setup.cfg": "[tool:pytest]\n",
    "tests/test_lib.py": "def test_x(): pass\n",
  });
  assert.deepEqual(bench.value.harness, [
    "bench.py",
    "tests/**",
    "**/test_*.py",
    "setup.cfg",
  ]);
  assert.equal(bench.value["check-command"], "python3 -m pytest -q");

  const rust = await init({
    "Cargo.toml": "[package]\nname = 'x'\n",
    "src/lib.rs": "",
    "tests/it.rs": "",
  });
  assert.deepEqual(rust.value.harness, ["Cargo.toml", "tests/**"]);
  assert.match(rust.text, /\/\/ "check-command": "cargo test --quiet"/);

  const go = await init({ "go.mod": "module x\n", "x_test.go": "package x\n" });
  assert.deepEqual(go.value.harness, ["go.mod", "**/*_test.go"]);
  assert.match(go.text, /\/\/ "check-command": "go test \.\/\.\.\."/);

  const make = await init({
    "Makefile": "bench:\n\t./run bench/input\ntest:\n\t./t\n",
    "bench/input": "1\n",
    "run": "#!/bin/sh\n",
  });
  assert.equal(make.value["run-command"], "make bench");
  assert.deepEqual(make.value.harness, ["Makefile", "bench/**"]);
  assert.equal(make.value["check-command"], "make test");
});
