/**
 * `--help` of ratchet and of every command, compared with the snapshots in
 * tests/snapshots/help/ (rewrite them with `deno task test:update`). The CLI
 * is spawned as a user runs it, so the exit code and stream are checked too.
 */
import assert from "node:assert/strict";
import { COMMANDS } from "../src/cli/args.ts";
import { runCli } from "./_helpers/cli.ts";

const SNAPSHOTS = new URL("./snapshots/help/", import.meta.url);
const update = Deno.env.get("UPDATE_SNAPSHOTS") === "1";

async function checkSnapshot(name: string, actual: string) {
  const file = new URL(`${name}.txt`, SNAPSHOTS);
  if (update) {
    await Deno.mkdir(SNAPSHOTS, { recursive: true });
    await Deno.writeTextFile(file, actual);
    return;
  }
  const expected = await Deno.readTextFile(file).catch(() => null);
  assert.ok(
    expected !== null,
    `missing snapshot ${file.pathname}: run deno task test:update`,
  );
  assert.equal(
    actual,
    expected,
    `help of ${name} changed: run deno task test:update if intended`,
  );
}

const cwd = Deno.cwd();

Deno.test("ratchet --help prints the command list on stdout and exits 0", async () => {
  const r = await runCli(["--help"], { cwd });
  assert.equal(r.code, 0);
  assert.equal(r.stderr, "");
  for (const c of COMMANDS) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
  await checkSnapshot("ratchet", r.stdout);
});

for (const command of COMMANDS) {
  Deno.test(`ratchet ${command} --help shows usage and examples`, async () => {
    const r = await runCli([command, "--help"], { cwd });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^Usage: ratchet ${command}`));
    assert.match(r.stdout, /Examples:\n {2}ratchet /);
    await checkSnapshot(command, r.stdout);
  });
}

Deno.test("ratchet --version prints the version", async () => {
  const r = await runCli(["--version"], { cwd });
  assert.equal(r.code, 0);
  assert.match(r.stdout, /^ratchet \d+\.\d+\.\d+\n$/);
});
