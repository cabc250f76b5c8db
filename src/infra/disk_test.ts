import assert from "node:assert/strict";
import { UpstreamError } from "../errors.ts";
import { lowestFree, requireFreeSpace, RUN_MIN_FREE_BYTES } from "./disk.ts";

Deno.test("lowestFree() skips unreadable directories", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await lowestFree([`${dir}/missing`]), null);
    const free = await lowestFree([`${dir}/missing`, dir]);
    assert.equal(free?.dir, dir);
    assert.ok(free!.bytes >= 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("requireFreeSpace() fails with exit 4 and the resume hint when short", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await requireFreeSpace([dir], 0);
    await requireFreeSpace([`${dir}/missing`], Number.MAX_SAFE_INTEGER);
    await assert.rejects(
      () => requireFreeSpace([dir], Number.MAX_SAFE_INTEGER),
      (e: unknown) => {
        assert.ok(e instanceof UpstreamError);
        assert.match(e.message, /^Only \d+ MiB free on the disk holding /);
        assert.equal(
          e.hint,
          "Free at least 1 GiB there, then run `ratchet resume`.",
        );
        assert.equal(e.exitCode, 4);
        return true;
      },
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.equal(RUN_MIN_FREE_BYTES, 1024 ** 3);
});
