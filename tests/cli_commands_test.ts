/**
 * Commands that need neither Docker nor a model, run through the real CLI:
 * init, instruct without a run, resume without a run, and usage errors.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "jsonc-parser";
import { runCli } from "./_helpers/cli.ts";
import { tempRepo } from "./_helpers/git_repo.ts";

Deno.test("ratchet init writes a commented ratchet.jsonc guessed from the repo and never overwrites it", async () => {
  await using repo = await tempRepo({
    "bench.py": "print('seconds: 1')\n",
    "lib.py": "x = 1\n",
    "tests/test_lib.py": "def test_x(): pass\n",
  });
  const r = await runCli(["init"], { cwd: repo.dir });
  assert.equal(r.code, 0, r.stderr);
  const text = await Deno.readTextFile(join(repo.dir, "ratchet.jsonc"));
  assert.match(text, /\/\/ Guessed by `ratchet init`/);
  const value = parse(text) as Record<string, unknown>;
  assert.equal(value["run-command"], "python3 bench.py");
  assert.deepEqual(value.harness, ["bench.py", "tests/**", "**/test_*.py"]);

  await Deno.writeTextFile(join(repo.dir, "ratchet.jsonc"), "{ /* mine */ }\n");
  const again = await runCli(["init"], { cwd: repo.dir });
  assert.equal(again.code, 2);
  assert.match(again.stderr, /already exists; not overwriting it/);
  assert.match(again.stderr, /--force/);
  assert.equal(
    await Deno.readTextFile(join(repo.dir, "ratchet.jsonc")),
    "{ /* mine */ }\n",
  );

  const forced = await runCli(["init", "--force"], { cwd: repo.dir });
  assert.equal(forced.code, 0, forced.stderr);
  assert.match(
    await Deno.readTextFile(join(repo.dir, "ratchet.jsonc")),
    /Guessed/,
  );
});

Deno.test("ratchet init suggests a guard when the benchmark prints more than the metric", async () => {
  await using repo = await tempRepo({
    "bench.py": [
      "import time",
      "t = time.time()",
      "acc = run()",
      'print(f"accuracy: {acc:.4f}")',
      'print(f"peak_mb: {mem}")',
      "",
    ].join("\n"),
  });
  const r = await runCli(["init"], { cwd: repo.dir });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /The benchmark also prints accuracy, peak_mb/);
  const text = await Deno.readTextFile(join(repo.dir, "ratchet.jsonc"));
  assert.match(
    text,
    /\/\/ bench\.py also prints accuracy, peak_mb: a guard keeps/,
  );
  const value = parse(text) as Record<string, unknown>;
  assert.deepEqual(value.guard, ["accuracy:max:0.02", "peak_mb:min:0.02"]);
  // The file is a valid configuration: measure reads it (and stops only at
  // Docker or the image, not at the configuration).
  const m = await runCli(["measure", "--trials", "2", "--json"], {
    cwd: repo.dir,
    env: { DOCKER_HOST: "unix:///nonexistent/docker.sock" },
  });
  assert.doesNotMatch(m.stderr, /guard/i);
  assert.notEqual(m.code, 2, m.stderr);

  // A benchmark that prints only its metric gets no guard.
  await using plain = await tempRepo({ "bench.py": "print('seconds: 1')\n" });
  await runCli(["init"], { cwd: plain.dir });
  const none = parse(
    await Deno.readTextFile(join(plain.dir, "ratchet.jsonc")),
  ) as Record<string, unknown>;
  assert.equal(none.guard, undefined);
});

Deno.test("ratchet run and measure refuse a bad --guard with exit 2 before anything starts", async () => {
  await using repo = await tempRepo({ "bench.sh": "echo 'score: 1'\n" });
  const base = [
    "--run-command",
    "sh bench.sh",
    "--direction",
    "max",
    "--metric-name",
    "score",
    "--report-source",
    "stdout",
  ];
  for (
    const [guard, re] of [
      ["score:min", /names the metric itself/],
      ["accuracy", /is not NAME:max\|min\[:TOL\]/],
      ["accuracy:max:1.5", /tolerance 1\.5 is outside 0 to 1/],
      ["accuracy:max:-0.1", /outside 0 to 1/],
    ] as const
  ) {
    for (const command of ["run", "measure"]) {
      const r = await runCli([command, ...base, "--guard", guard], {
        cwd: repo.dir,
        env: {
          ANTHROPIC_API_KEY: "test",
          DOCKER_HOST: "unix:///nonexistent/docker.sock",
        },
      });
      assert.equal(r.code, 2, `${command} --guard ${guard}: ${r.stderr}`);
      assert.match(r.stderr, re);
      assert.ok(
        !(await Deno.stat(join(repo.dir, ".ratchet")).then(
          () => true,
          () => false,
        )),
        "nothing started",
      );
    }
  }
});

Deno.test("ratchet instruct and resume exit 3 when there is no run", async () => {
  await using repo = await tempRepo();
  const i = await runCli(["instruct", "try harder"], { cwd: repo.dir });
  assert.equal(i.code, 3);
  assert.match(i.stderr, /No run is going/);
  const r = await runCli(["resume"], {
    cwd: repo.dir,
    env: { ANTHROPIC_API_KEY: "x" },
  });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /no run to resume/);
  assert.match(r.stderr, /ratchet run/);
});

Deno.test("ratchet reports usage errors with exit 2 and a hint", async () => {
  await using repo = await tempRepo();
  const r = await runCli(["run", "--trials", "0"], { cwd: repo.dir });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Invalid value for --trials: 0/);
  assert.match(
    r.stderr,
    /hint: --trials must be a whole number from 1 to 1000/,
  );
  const u = await runCli(["frob"], { cwd: repo.dir });
  assert.equal(u.code, 2);
  assert.match(u.stderr, /Unknown command "frob"/);
});
