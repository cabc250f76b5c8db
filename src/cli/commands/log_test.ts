import { testContext } from "../../../tests/_helpers/context.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { logCommand, terminalWidth } from "./log.ts";
import { statusCommand } from "./status.ts";
import { Store } from "../../infra/store/store.ts";
import { readStatus } from "../../app/status.ts";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { installFixture } from "../../../tests/fixtures/records/generate.ts";

const context = testContext;

Deno.test("logCommand() --json prints every record exactly as results.jsonl holds it", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  const ctx = context(join(repo.dir));
  assert.equal(await logCommand({ json: true }, ctx), 0);
  const file = await Deno.readTextFile(
    join(repo.dir, ".ratchet/results.jsonl"),
  );
  assert.equal(ctx.output.stdout.join("\n") + "\n", file);
});

Deno.test("logCommand() leaves out a torn last line while a run appends", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  const path = join(repo.dir, ".ratchet/results.jsonl");
  const file = await Deno.readTextFile(path);
  await Deno.writeTextFile(path, file + '{"schema_version":1,"run_id":"2026');
  const ctx = context(repo.dir);
  assert.equal(await logCommand({ json: true }, ctx), 0);
  assert.equal(ctx.output.stdout.join("\n") + "\n", file);
  const table = context(repo.dir, { COLUMNS: "90" });
  assert.equal(await logCommand({ json: false }, table), 0);
  assert.match(table.output.stdout.join("\n"), /^13\s+· regressed/m);
});

Deno.test("logCommand() renders the table and chart at the terminal's width", async () => {
  await using repo = await tempRepo();
  await installFixture("long", repo.dir);
  const ctx = context(join(repo.dir), { COLUMNS: "72" });
  assert.equal(await logCommand({ json: false }, ctx), 0);
  const text = ctx.output.stdout.join("\n");
  assert.match(text, /^iter\s+decision\s+score/);
  assert.match(text, /higher is better/);
  for (const line of text.split("\n")) {
    assert.ok(Array.from(line).length <= 72, line);
  }
  assert.equal(terminalWidth(context("/", {})), 100);
  assert.equal(terminalWidth(context("/", { COLUMNS: "132" })), 132);
});

Deno.test("statusCommand() --json prints the status object on one line", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  await Deno.mkdir(join(repo.dir, "sub"));
  const ctx = context(join(repo.dir, "sub"));
  assert.equal(await statusCommand({ json: true }, ctx), 0);
  assert.equal(ctx.output.stdout.length, 1);
  assert.ok(!ctx.output.stdout[0]!.includes("\n"));
  assert.deepEqual(
    JSON.parse(ctx.output.stdout[0]!),
    await readStatus(new Store(repo.dir)),
  );
  const human = context(repo.dir);
  assert.equal(await statusCommand({ json: false }, human), 0);
  assert.match(human.output.stdout[0]!, /-28\.9% vs baseline, better/);
});

Deno.test("statusCommand() and logCommand() exit 3 when there is no run", async () => {
  await using repo = await tempRepo();
  for (const run of [statusCommand, logCommand]) {
    for (const json of [true, false]) {
      await assert.rejects(run({ json }, context(repo.dir)), (error) => {
        assert.equal((error as { exitCode?: number }).exitCode, 3);
        assert.match(String((error as Error).message), /no ratchet run/);
        return true;
      });
    }
  }
});
