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
