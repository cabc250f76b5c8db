import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir, tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { exists, snapshotFiles } from "./_test_helpers.ts";
import { exportTree } from "./export_tree.ts";
import { treeOf } from "./repo.ts";

Deno.test("exportTree() writes the tree without .git, keeping symlinks and exec bits", async () => {
  await using repo = await tempRepo({
    ".gitattributes": "hidden.txt export-ignore\nsubst.txt export-subst\n",
    "hidden.txt": "still here\n",
    "subst.txt": "$Format:%H$\n",
    "src/lib.py": "print(1)\n",
    "run.sh": "#!/bin/sh\necho hi\n",
  });
  await Deno.chmod(join(repo.dir, "run.sh"), 0o755);
  await Deno.symlink("src/lib.py", join(repo.dir, "link.py"));
  const sha = await repo.commit("with link");
  const indexBefore = await Deno.readFile(join(repo.dir, ".git", "index"));
  await using dest = await tempDir();
  const out = join(dest.dir, "trial-01");

  await exportTree(testGit, repo.dir, sha, out);
  assert.equal(await exists(join(out, ".git")), false);
  assert.equal(await Deno.readLink(join(out, "link.py")), "src/lib.py");
  assert.equal((await Deno.lstat(join(out, "link.py"))).isSymlink, true);
  assert.equal(
    ((await Deno.stat(join(out, "run.sh"))).mode ?? 0) & 0o111,
    0o111,
  );
  assert.equal(
    ((await Deno.stat(join(out, "src/lib.py"))).mode ?? 0) & 0o111,
    0,
  );
  assert.equal(
    await Deno.readTextFile(join(out, "hidden.txt")),
    "still here\n",
  );
  assert.equal(
    await Deno.readTextFile(join(out, "subst.txt")),
    "$Format:%H$\n",
  );
  assert.equal(await Deno.readTextFile(join(out, "src/lib.py")), "print(1)\n");
  assert.deepEqual(
    await Deno.readFile(join(repo.dir, ".git", "index")),
    indexBefore,
  );
  // A tree sha works too.
  const out2 = join(dest.dir, "trial-02");
  await exportTree(
    testGit,
    repo.dir,
    await treeOf(testGit, repo.dir, sha),
    out2,
  );
  assert.deepEqual(await snapshotFiles(out2), await snapshotFiles(out));
});
