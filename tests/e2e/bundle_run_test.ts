/**
 * The shipped single file does real work: bundled, copied alone into an
 * empty directory, it runs a short `ratchet run` against the fake API and
 * Docker.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import { tempDir } from "../_helpers/git_repo.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  runArgs,
  runContainers,
  scoringRepo,
  setValue,
} from "./_support.ts";

const BUNDLE_TOOL = fileURLToPath(
  new URL("../../tools/bundle.ts", import.meta.url),
);

dockerTest(
  "the bundled single file, alone in an empty directory, runs ratchet run end to end",
  async () => {
    await using build = await tempDir("ratchet-bundle-build-");
    await using alone = await tempDir("ratchet-bundle-alone-");
    const built = join(build.dir, "ratchet.cjs");
    const b = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", BUNDLE_TOOL, built],
      stdin: "null",
    }).output();
    assert.equal(b.code, 0, new TextDecoder().decode(b.stderr));
    const entry = join(alone.dir, "ratchet.cjs");
    await Deno.copyFile(built, entry);

    const text = await Deno.readTextFile(entry);
    const root = fileURLToPath(new URL("../..", import.meta.url));
    assert.ok(!text.includes(root), `the bundle refers to ${root}`);

    // A Deno cache of its own: nothing may come from the checkout's cache.
    await using denoDir = await tempDir("ratchet-bundle-denodir-");
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([setValue(10, 20)]);
    try {
      const r = await ratchet(
        runArgs(1, "--decision", "mean", "--trials", "1"),
        repo.dir,
        server,
        { entry, env: { DENO_DIR: denoDir.dir } },
      );
      assert.deepEqual(server.violations, []);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(server.remaining(), 0);
      // The prompts are inside the bundle: the request carries them.
      assert.match(server.requests[0]!.raw, /ratchet-role: implementer/);
      const run = await readRun(repo.dir);
      const records = await readRecords(repo.dir);
      assertRecordsWellFormed(records, run.run_id);
      assert.deepEqual(records.map((x) => x.decision), [
        "baseline",
        "improved",
      ]);
      await assertBranchMatchesKept(repo, records, run.branch);
      assert.deepEqual(await runContainers(run.run_id), []);
      const entries = [];
      for await (const e of Deno.readDir(alone.dir)) entries.push(e.name);
      assert.deepEqual(entries, ["ratchet.cjs"], "nothing appeared beside it");
      const npm = [];
      try {
        for await (const e of Deno.readDir(join(denoDir.dir, "npm"))) {
          npm.push(e.name);
        }
      } catch { /* never created */ }
      assert.deepEqual(npm, [], "no npm package was fetched");
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
