import assert from "node:assert/strict";
import { join } from "node:path";
import { ownerOf, parseOwner } from "./owner.ts";

Deno.test("parseOwner() reads numeric uid:gid and nothing else", () => {
  assert.deepEqual(parseOwner("4321:99"), { uid: 4321, gid: 99 });
  assert.deepEqual(parseOwner(" 0:0\n"), { uid: 0, gid: 0 });
  for (const text of ["root", "1:", ":1", "1:2:3", "-1:0", "1.5:2", ""]) {
    assert.equal(parseOwner(text), null, text);
  }
});

Deno.test("ownerOf() gives the numeric owner of a path", async () => {
  const dir = await Deno.makeTempDir();
  try {
    assert.equal(await ownerOf(dir), `${Deno.uid()}:${Deno.gid()}`);
    if (Deno.uid() === 0) {
      // As root the owner of the path is read, not the caller's id.
      await Deno.writeTextFile(join(dir, "f"), "");
      await Deno.chown(join(dir, "f"), 4321, 4322);
      assert.equal(await ownerOf(join(dir, "f")), "4321:4322");
    }
    await assert.rejects(ownerOf(join(dir, "missing")), Deno.errors.NotFound);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
