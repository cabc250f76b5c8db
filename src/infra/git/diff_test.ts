import assert from "node:assert/strict";
import { join } from "node:path";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { testGit } from "../../../tests/_helpers/git_context.ts";
import { runWorktree } from "./_test_helpers.ts";
import { writeCandidateTree } from "./candidate.ts";
import { changedFiles, diffPatch, diffStat, treeSymlinks } from "./diff.ts";
import { runGit } from "./process.ts";
import { createWorktree } from "./worktree.ts";

Deno.test("changedFiles() reports modes, renames, deletions and symlink targets", async () => {
  const long = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join("");
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "old/name.txt": long,
    "gone.txt": "g\n",
    "run.sh": "echo\n",
  });
  const { base, wt } = await runWorktree(repo);
  await Deno.writeTextFile(join(wt, "a.txt"), "a2\n");
  await Deno.mkdir(join(wt, "new"));
  await Deno.rename(join(wt, "old/name.txt"), join(wt, "new/name.txt"));
  await Deno.remove(join(wt, "gone.txt"));
  await Deno.chmod(join(wt, "run.sh"), 0o755);
  await Deno.symlink("../../etc/passwd", join(wt, "new/link"));
  const tree = await writeCandidateTree(testGit, wt);

  const changes = await changedFiles(testGit, repo.dir, base, tree);
  const byPath = Object.fromEntries(changes.map((c) => [c.path, c]));
  assert.deepEqual(byPath["a.txt"], {
    path: "a.txt",
    status: "M",
    newMode: "100644",
    symlinkTarget: null,
    size: 3,
  });
  assert.deepEqual(byPath["new/name.txt"], {
    path: "new/name.txt",
    status: "R",
    oldPath: "old/name.txt",
    newMode: "100644",
    symlinkTarget: null,
    size: long.length,
  });
  assert.deepEqual(byPath["gone.txt"], {
    path: "gone.txt",
    status: "D",
    newMode: null,
    symlinkTarget: null,
    size: null,
  });
  assert.equal(byPath["run.sh"]?.newMode, "100755");
  assert.deepEqual(byPath["new/link"], {
    path: "new/link",
    status: "A",
    newMode: "120000",
    symlinkTarget: "../../etc/passwd",
    size: "../../etc/passwd".length,
  });
  assert.equal(changes.length, 5);

  const stat = await diffStat(testGit, wt, base, tree);
  // a.txt (+1 -1), the rename (no lines), gone.txt (-1), run.sh (mode only), link (+1).
  assert.deepEqual(stat, { files: 5, insertions: 2, deletions: 2 });
});

Deno.test("changedFiles() reports a file replaced by a symlink as a type change", async () => {
  await using repo = await tempRepo({ "data": "d\n" });
  const { base, wt } = await runWorktree(repo);
  await Deno.remove(join(wt, "data"));
  await Deno.symlink("/srv/data", join(wt, "data"));
  const tree = await writeCandidateTree(testGit, wt);
  assert.deepEqual(await changedFiles(testGit, repo.dir, base, tree), [
    {
      path: "data",
      status: "T",
      newMode: "120000",
      symlinkTarget: "/srv/data",
      size: "/srv/data".length,
    },
  ]);
});

Deno.test("diffPatch() is binary-safe: git apply on the start commit reproduces the tree", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n", "bin.dat": "old" });
  const { base, wt } = await runWorktree(repo);
  const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
  await Deno.writeFile(join(wt, "bin.dat"), bytes);
  await Deno.writeFile(
    join(wt, "latin1.txt"),
    Uint8Array.of(0x63, 0x61, 0x66, 0xe9, 0x0a),
  );
  await Deno.writeTextFile(join(wt, "a.txt"), "a\nb\n");
  const tree = await writeCandidateTree(testGit, wt);

  const patch = await diffPatch(testGit, wt, base, tree);
  assert.match(new TextDecoder().decode(patch), /GIT binary patch/);
  const patchFile = join(repo.dir, ".ratchet", "p.patch");
  await Deno.writeFile(patchFile, patch);
  const other = join(repo.dir, ".ratchet", "other");
  await createWorktree(testGit, repo.dir, other, "ratchet/other", base);
  await runGit(testGit, other, ["apply", "--index", patchFile]);
  assert.equal(await runGit(testGit, other, ["write-tree"]), tree);
});

Deno.test("treeSymlinks() lists every link of a tree with its target", async () => {
  await using repo = await tempRepo({ "a/file.txt": "x\n" });
  await Deno.symlink("../..", join(repo.dir, "a", "up"));
  await Deno.symlink("a/up/../etc", join(repo.dir, "leak"));
  await Deno.symlink("ü/ñ weird\ttarget", join(repo.dir, "odd"));
  await repo.git("add", "-A");
  await repo.commit("links");
  assert.deepEqual(
    await treeSymlinks(testGit, repo.dir, "HEAD"),
    new Map([
      ["a/up", "../.."],
      ["leak", "a/up/../etc"],
      ["odd", "ü/ñ weird\ttarget"],
    ]),
  );
  assert.deepEqual(await treeSymlinks(testGit, repo.dir, "HEAD~1"), new Map());
});
