import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../../../tests/_helpers/git_repo.ts";
import { withProbeDir } from "./probe.ts";

const gone = async (path: string) =>
  await Deno.stat(path).then(() => false, () => true);

Deno.test("withProbeDir() hands out an empty dir under .ratchet/tmp and leaves no .ratchet/ it made", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.dir, ".ratchet");
  let seen = "";
  const answer = await withProbeDir(tmp.dir, async (dir) => {
    seen = dir;
    assert.deepEqual(await Array.fromAsync(Deno.readDir(dir)), []);
    await Deno.writeTextFile(join(dir, "token"), "");
    return 42;
  });
  assert.equal(answer, 42);
  assert.ok(seen.startsWith(join(root, "tmp", "probe-")), seen);
  assert.ok(await gone(root));
  // Also when the question fails.
  await assert.rejects(
    withProbeDir(tmp.dir, () => Promise.reject(new Error("engine down"))),
    /engine down/,
  );
  assert.ok(await gone(root));
});

Deno.test("withProbeDir() removes only its own probe from an existing .ratchet/", async () => {
  await using tmp = await tempDir();
  const root = join(tmp.dir, ".ratchet");
  await Deno.mkdir(join(root, "tmp", "other"), { recursive: true });
  await Deno.writeTextFile(join(root, "config.json"), "{}");
  const probe = await withProbeDir(tmp.dir, (dir) => Promise.resolve(dir));
  assert.ok(await gone(probe));
  assert.equal(await Deno.readTextFile(join(root, "config.json")), "{}");
  assert.deepEqual(
    (await Array.fromAsync(Deno.readDir(join(root, "tmp")))).map((e) => e.name),
    ["other"],
  );
});
