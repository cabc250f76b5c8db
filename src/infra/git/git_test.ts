import assert from "node:assert/strict";
import { join } from "node:path";
import { ExitCode } from "../../errors.ts";
import {
  tempDir,
  type TempRepo,
  tempRepo,
} from "../../../tests/_helpers/git_repo.ts";
import {
  changedFiles,
  commitCandidate,
  createWorktree,
  currentBranch,
  diffPatch,
  diffStat,
  ensureExcluded,
  exportTree,
  findRepoRoot,
  GitError,
  GitTimeoutError,
  gitTimeoutMs,
  headSha,
  isDirty,
  listBranchCommits,
  removeWorktree,
  resetWorktree,
  runGit,
  squashApply,
  stageCandidate,
  treeOf,
  treeSymlinks,
  writeCandidateTree,
} from "./git.ts";

const BRANCH = "ratchet/20250101-000000-abcd";

function worktreeOf(repo: TempRepo): string {
  return join(repo.dir, ".ratchet", "worktree");
}

/** Every file under `dir` except .git and .ratchet: path → content or `-> target`. */
async function snapshotFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for await (const entry of Deno.readDir(join(dir, rel))) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (path === ".git" || path === ".ratchet") continue;
      if (entry.isSymlink) {
        out[path] = `-> ${await Deno.readLink(join(dir, path))}`;
      } else if (entry.isDirectory) {
        await walk(path);
      } else {
        out[path] = await Deno.readTextFile(join(dir, path));
      }
    }
  }
  await walk("");
  return out;
}

/** What the user's checkout looks like: branch, HEAD, index, changes, files. */
async function userState(repo: TempRepo) {
  return {
    branch: await repo.git("symbolic-ref", "-q", "HEAD").catch(() =>
      "(detached)"
    ),
    head: await repo.git("rev-parse", "HEAD"),
    index: await repo.git("ls-files", "--stage"),
    staged: await repo.git("diff", "--cached"),
    unstaged: await repo.git("diff"),
    status: await repo.git("status", "--porcelain", "--untracked-files=all"),
    branches: await repo.git("for-each-ref", "refs/heads/"),
    files: await snapshotFiles(repo.dir),
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

Deno.test("findRepoRoot() returns the top of the work tree from a subdirectory", async () => {
  await using repo = await tempRepo({ "src/deep/a.txt": "a\n" });
  const root = await findRepoRoot(join(repo.dir, "src", "deep"));
  assert.equal(await Deno.realPath(root), await Deno.realPath(repo.dir));
});

Deno.test("findRepoRoot() throws EnvironmentError (exit 3) outside a repository", async () => {
  await using dir = await tempDir();
  await assert.rejects(findRepoRoot(dir.dir), (error: unknown) => {
    assert.ok(error instanceof GitError === false);
    const e = error as { exitCode: number; message: string; hint: string };
    assert.equal(e.exitCode, ExitCode.environment);
    assert.match(e.message, /not inside a git repository/);
    assert.match(e.hint, /git init/);
    return true;
  });
});

Deno.test("headSha() throws EnvironmentError when the repository has no commit", async () => {
  await using repo = await tempRepo({ "a.txt": "a" }, { commit: false });
  await assert.rejects(headSha(repo.dir), (error: unknown) => {
    const e = error as { exitCode: number; message: string; hint: string };
    assert.equal(e.exitCode, ExitCode.environment);
    assert.match(e.message, /no commits yet/);
    assert.match(e.hint, /first commit/);
    return true;
  });
  const sha = await repo.commit("first");
  assert.equal(await headSha(repo.dir), sha);
});

Deno.test("currentBranch() returns the branch, or null on a detached HEAD", async () => {
  await using repo = await tempRepo();
  assert.equal(await currentBranch(repo.dir), "main");
  await repo.git("checkout", "-q", "-b", "ratchet/x");
  assert.equal(await currentBranch(repo.dir), "ratchet/x");
  await repo.git("checkout", "-q", "--detach");
  assert.equal(await currentBranch(repo.dir), null);
});

Deno.test("isDirty() sees staged, unstaged and untracked changes but not .ratchet/", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n", "b.txt": "b\n" });
  assert.equal(await isDirty(repo.dir), false);
  await repo.write({ ".ratchet/results.jsonl": "{}\n" });
  assert.equal(await isDirty(repo.dir), false);
  await repo.write({ "new.txt": "n\n" });
  assert.equal(await isDirty(repo.dir), true);
  assert.equal(await isDirty(repo.dir, { untracked: false }), false);
  await Deno.remove(join(repo.dir, "new.txt"));
  await repo.write({ "a.txt": "changed\n" });
  assert.equal(await isDirty(repo.dir, { untracked: false }), true);
  await repo.git("checkout", "--", "a.txt");
  await repo.write({ "b.txt": "staged\n" });
  await repo.git("add", "b.txt");
  await repo.write({ "b.txt": "b\n" });
  assert.equal(await isDirty(repo.dir, { untracked: false }), true);
});

Deno.test("ensureExcluded() appends the entry once, also from a linked worktree", async () => {
  await using repo = await tempRepo();
  const exclude = join(repo.dir, ".git", "info", "exclude");
  await Deno.mkdir(join(repo.dir, ".git", "info"), { recursive: true });
  await Deno.writeTextFile(exclude, "# existing\n*.log"); // no final newline
  assert.equal(await ensureExcluded(repo.dir, ".ratchet/"), true);
  assert.equal(await ensureExcluded(repo.dir, ".ratchet/"), false);
  assert.equal(
    await Deno.readTextFile(exclude),
    "# existing\n*.log\n.ratchet/\n",
  );
  await repo.write({ ".ratchet/x": "x" });
  assert.equal(await repo.git("status", "--porcelain"), "");

  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, await headSha(repo.dir));
  assert.equal(await ensureExcluded(wt, "/.ratchet"), false);
  assert.equal(await ensureExcluded(wt, "build/"), true);
  assert.match(await Deno.readTextFile(exclude), /\nbuild\/\n$/);
});

Deno.test("createWorktree() works from a detached HEAD and never moves it", async () => {
  await using repo = await tempRepo({ "a.txt": "1\n" });
  const first = await headSha(repo.dir);
  await repo.write({ "a.txt": "2\n" });
  const second = await repo.commit("second");
  await repo.git("checkout", "-q", "--detach", first);
  await ensureExcluded(repo.dir, ".ratchet/");
  const before = await userState(repo);

  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, second);
  assert.equal(await Deno.readTextFile(join(wt, "a.txt")), "2\n");
  assert.equal(await currentBranch(wt), BRANCH);
  assert.equal(await headSha(wt), second);
  const after = await userState(repo);
  assert.equal(after.head, first);
  assert.deepEqual({ ...after, branches: "" }, { ...before, branches: "" });
  assert.match(
    after.branches,
    new RegExp(`${second} commit\trefs/heads/${BRANCH}`),
  );
});

Deno.test("a run leaves a dirty checkout on another branch untouched through commit and revert", async () => {
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "b.txt": "b\n",
    "src/x.py": "x = 1\n",
  });
  const base = await headSha(repo.dir);
  await repo.git("checkout", "-q", "-b", "feature");
  await repo.write({ "c.txt": "c\n" });
  await repo.commit("feature work");
  await repo.write({ "a.txt": "unstaged edit\n", "b.txt": "staged edit\n" });
  await repo.git("add", "b.txt");
  await repo.write({
    "a.txt": "unstaged edit again\n",
    "u.txt": "untracked\n",
  });
  await ensureExcluded(repo.dir, ".ratchet/");
  const before = await userState(repo);

  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "src/x.py"), "x = 2\n");
  await Deno.writeTextFile(join(wt, "src/new.py"), "y = 1\n");
  const tree = await writeCandidateTree(wt);
  const kept = await commitCandidate(wt, {
    tree,
    parent: base,
    message: "kept",
  });

  await Deno.writeTextFile(join(wt, "a.txt"), "candidate\n");
  await Deno.mkdir(join(wt, "gen/deep"), { recursive: true });
  await Deno.writeTextFile(join(wt, "gen/deep/out.txt"), "junk\n");
  await writeCandidateTree(wt);
  await resetWorktree(wt, kept);

  const after = await userState(repo);
  assert.deepEqual(
    { ...after, branches: "" },
    { ...before, branches: "" },
  );
  assert.equal(
    after.branches.split("\n").filter((l) => !l.includes(BRANCH)).join("\n"),
    before.branches,
  );
  assert.equal(await repo.git("rev-parse", `refs/heads/${BRANCH}`), kept);
});

Deno.test("commitCandidate() commits as ratchet, advances the run branch and syncs the index", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "a.txt"), "b\n");
  const tree = await writeCandidateTree(wt);
  const message = "Speed up parsing\n\nhypothesis: fewer allocations\np=0.01";
  const sha = await commitCandidate(wt, { tree, parent: base, message });

  const wtGit = (...args: string[]) => runGit(wt, args);
  assert.equal(
    await wtGit("log", "-1", "--format=%an <%ae>|%cn <%ce>"),
    "ratchet <ratchet@localhost>|ratchet <ratchet@localhost>",
  );
  assert.equal(await wtGit("log", "-1", "--format=%B"), `${message}\n`);
  assert.equal(await wtGit("rev-parse", "HEAD"), sha);
  assert.equal(await wtGit("rev-parse", `refs/heads/${BRANCH}`), sha);
  assert.equal(await wtGit("rev-parse", "HEAD^"), base);
  assert.equal(await treeOf(wt, sha), tree);
  assert.equal(await wtGit("status", "--porcelain"), "");
  // The parent check refuses to move a branch that is not where the caller thinks.
  await assert.rejects(
    commitCandidate(wt, { tree, parent: base, message: "again" }),
    GitError,
  );
});

Deno.test("writeCandidateTree() includes untracked files and deletions", async () => {
  await using repo = await tempRepo({ "keep.txt": "k\n", "gone.txt": "g\n" });
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, await headSha(repo.dir));
  await Deno.remove(join(wt, "gone.txt"));
  await Deno.mkdir(join(wt, "new/dir"), { recursive: true });
  await Deno.writeTextFile(join(wt, "new/dir/file.txt"), "n\n");
  const tree = await writeCandidateTree(wt);
  const listing = await runGit(repo.dir, [
    "ls-tree",
    "-r",
    "--name-only",
    tree,
  ]);
  assert.deepEqual(listing.split("\n"), ["keep.txt", "new/dir/file.txt"]);
  // The user's index is not the one that was written.
  assert.equal(await repo.git("ls-files"), "gone.txt\nkeep.txt");
});

Deno.test("resetWorktree() restores the commit and removes untracked and ignored files the candidate added", async () => {
  await using repo = await tempRepo({
    ".gitignore": "build/\n",
    "a.txt": "a\n",
    "b.txt": "b\n",
  });
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  const clean = await snapshotFiles(wt);
  await Deno.writeTextFile(join(wt, "a.txt"), "changed\n");
  await Deno.remove(join(wt, "b.txt"));
  await Deno.mkdir(join(wt, "newdir/sub"), { recursive: true });
  await Deno.writeTextFile(join(wt, "newdir/sub/x.txt"), "x\n");
  await Deno.mkdir(join(wt, "build"));
  await Deno.writeTextFile(join(wt, "build/out.o"), "o\n");
  await Deno.symlink("a.txt", join(wt, "link"));
  await writeCandidateTree(wt);

  await resetWorktree(wt, base);
  assert.deepEqual(await snapshotFiles(wt), clean);
  assert.equal(await exists(join(wt, "newdir")), false);
  assert.equal(await exists(join(wt, "build")), false);
  assert.equal(await runGit(wt, ["status", "--porcelain", "--ignored"]), "");
  assert.equal(await headSha(wt), base);
});

async function plantHooks(dir: string, marker: string): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  for (
    const hook of [
      "pre-commit",
      "post-commit",
      "post-checkout",
      "post-merge",
      "post-rewrite",
      "reference-transaction",
      "post-index-change",
      "pre-auto-gc",
    ]
  ) {
    const path = join(dir, hook);
    await Deno.writeTextFile(path, `#!/bin/sh\necho ${hook} >> '${marker}'\n`);
    await Deno.chmod(path, 0o755);
  }
}

/** Everything ratchet does with git in a run and on apply. */
async function exerciseRun(repo: TempRepo): Promise<void> {
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await ensureExcluded(repo.dir, ".ratchet/");
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "a.txt"), "kept\n");
  const tree = await writeCandidateTree(wt);
  const kept = await commitCandidate(wt, { tree, parent: base, message: "k" });
  await Deno.writeTextFile(join(wt, "a.txt"), "reverted\n");
  await writeCandidateTree(wt);
  await resetWorktree(wt, kept);
  await changedFiles(repo.dir, base, tree);
  await diffPatch(wt, base, tree);
  await exportTree(repo.dir, tree, join(repo.dir, ".ratchet", "tmp", "t1"));
  await removeWorktree(repo.dir, wt);
  await squashApply(repo.dir, BRANCH, base, "apply");
}

for (const where of [".git/hooks", "core.hooksPath"]) {
  Deno.test(`git hooks never run (planted via ${where})`, async () => {
    await using repo = await tempRepo({ "a.txt": "a\n" });
    await using markers = await tempDir();
    const marker = join(markers.dir, "hooks-ran");
    if (where === ".git/hooks") {
      await plantHooks(join(repo.dir, ".git", "hooks"), marker);
    } else {
      const hooks = join(markers.dir, "hooks");
      await plantHooks(hooks, marker);
      await repo.git("config", "core.hooksPath", hooks);
    }
    // The planted hooks do fire for plain git, so their silence below counts.
    await repo.write({ "probe.txt": "p\n" });
    await repo.commit("probe");
    assert.match(await Deno.readTextFile(marker), /pre-commit/);
    await Deno.remove(marker);

    await exerciseRun(repo);
    assert.equal(await exists(marker), false, "a hook ran");
    assert.equal(await Deno.readTextFile(join(repo.dir, "a.txt")), "kept\n");
  });
}

Deno.test("changedFiles() reports modes, renames, deletions and symlink targets", async () => {
  const long = Array.from({ length: 20 }, (_, i) => `line ${i}\n`).join("");
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "old/name.txt": long,
    "gone.txt": "g\n",
    "run.sh": "echo\n",
  });
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "a.txt"), "a2\n");
  await Deno.mkdir(join(wt, "new"));
  await Deno.rename(join(wt, "old/name.txt"), join(wt, "new/name.txt"));
  await Deno.remove(join(wt, "gone.txt"));
  await Deno.chmod(join(wt, "run.sh"), 0o755);
  await Deno.symlink("../../etc/passwd", join(wt, "new/link"));
  const tree = await writeCandidateTree(wt);

  const changes = await changedFiles(repo.dir, base, tree);
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

  const stat = await diffStat(wt, base, tree);
  // a.txt (+1 -1), the rename (no lines), gone.txt (-1), run.sh (mode only), link (+1).
  assert.deepEqual(stat, { files: 5, insertions: 2, deletions: 2 });
});

Deno.test("changedFiles() reports a file replaced by a symlink as a type change", async () => {
  await using repo = await tempRepo({ "data": "d\n" });
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.remove(join(wt, "data"));
  await Deno.symlink("/srv/data", join(wt, "data"));
  const tree = await writeCandidateTree(wt);
  assert.deepEqual(await changedFiles(repo.dir, base, tree), [
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
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  const bytes = Uint8Array.from({ length: 512 }, (_, i) => (i * 7) % 256);
  await Deno.writeFile(join(wt, "bin.dat"), bytes);
  await Deno.writeFile(
    join(wt, "latin1.txt"),
    Uint8Array.of(0x63, 0x61, 0x66, 0xe9, 0x0a),
  );
  await Deno.writeTextFile(join(wt, "a.txt"), "a\nb\n");
  const tree = await writeCandidateTree(wt);

  const patch = await diffPatch(wt, base, tree);
  assert.match(new TextDecoder().decode(patch), /GIT binary patch/);
  const patchFile = join(repo.dir, ".ratchet", "p.patch");
  await Deno.writeFile(patchFile, patch);
  const other = join(repo.dir, ".ratchet", "other");
  await createWorktree(repo.dir, other, "ratchet/other", base);
  await runGit(other, ["apply", "--index", patchFile]);
  assert.equal(await runGit(other, ["write-tree"]), tree);
});

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

  await exportTree(repo.dir, sha, out);
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
  await exportTree(repo.dir, await treeOf(repo.dir, sha), out2);
  assert.deepEqual(await snapshotFiles(out2), await snapshotFiles(out));
});

/** A run that kept two commits changing src/a.py and adding src/b.py. */
async function keptRun(repo: TempRepo): Promise<string> {
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await ensureExcluded(repo.dir, ".ratchet/");
  await createWorktree(repo.dir, wt, BRANCH, base);
  await Deno.writeTextFile(join(wt, "src/a.py"), "a = 2\n");
  let tree = await writeCandidateTree(wt);
  const first = await commitCandidate(wt, { tree, parent: base, message: "1" });
  await Deno.writeTextFile(join(wt, "src/b.py"), "b = 1\n");
  tree = await writeCandidateTree(wt);
  await commitCandidate(wt, { tree, parent: first, message: "2" });
  return base;
}

Deno.test("squashApply() refuses a dirty tree and leaves it as it was", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  await repo.write({ "c.txt": "dirty\n" });
  const before = await userState(repo);
  await assert.rejects(
    squashApply(repo.dir, BRANCH, base, "apply"),
    (error: unknown) => {
      const e = error as { exitCode: number; message: string; hint: string };
      assert.equal(e.exitCode, ExitCode.environment);
      assert.match(e.message, /uncommitted changes/);
      assert.match(e.hint, /git stash/);
      return true;
    },
  );
  assert.deepEqual(await userState(repo), before);
});

Deno.test("squashApply() makes one commit with the run's changes on the current branch", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  await repo.write({ "untracked.txt": "mine\n" });
  const sha = await squashApply(
    repo.dir,
    BRANCH,
    base,
    "ratchet: 2 kept changes",
  );
  assert.ok(sha !== null);
  assert.equal(await repo.git("rev-parse", "main"), sha);
  assert.equal(await repo.git("rev-parse", "HEAD^"), base);
  assert.equal(
    await repo.git("log", "-1", "--format=%s"),
    "ratchet: 2 kept changes",
  );
  assert.equal(await repo.git("rev-list", "--count", `${base}..HEAD`), "1");
  assert.equal(await treeOf(repo.dir, sha), await treeOf(repo.dir, BRANCH));
  assert.equal(await Deno.readTextFile(join(repo.dir, "src/b.py")), "b = 1\n");
  assert.equal(
    await Deno.readTextFile(join(repo.dir, "untracked.txt")),
    "mine\n",
  );
  assert.equal(
    await repo.git("status", "--porcelain", "--untracked-files=no"),
    "",
  );
  assert.equal(await squashApply(repo.dir, BRANCH, base, "again"), null);
});

Deno.test("squashApply() applies only the run's diff after the branch moved on", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n", "c.txt": "c\n" });
  const base = await keptRun(repo);
  // The user's branch is unrelated history holding src/a.py but not c.txt:
  // only base→tip is applied, not the difference between base and the branch.
  await repo.git("checkout", "-q", "--orphan", "other");
  await repo.git("rm", "-q", "--cached", "c.txt");
  await Deno.remove(join(repo.dir, "c.txt"));
  await repo.write({ "other.txt": "o\n" });
  const otherHead = await repo.commit("other root");
  const sha = await squashApply(repo.dir, BRANCH, base, "apply");
  assert.ok(sha !== null);
  assert.equal(await repo.git("rev-parse", "HEAD^"), otherHead);
  assert.deepEqual(
    (await repo.git("ls-tree", "-r", "--name-only", "HEAD")).split("\n"),
    ["other.txt", "src/a.py", "src/b.py"],
  );
  // c.txt (in the run's base, not on this branch) is not brought back.
  assert.equal(await Deno.readTextFile(join(repo.dir, "src/a.py")), "a = 2\n");
  assert.equal(await exists(join(repo.dir, "c.txt")), false);
  assert.equal(await currentBranch(repo.dir), "other");
});

Deno.test("squashApply() refuses a conflict and leaves the checkout as it was", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  const base = await keptRun(repo);
  await repo.write({ "src/a.py": "a = 3\n" });
  await repo.commit("user edit");
  const before = await userState(repo);
  await assert.rejects(
    squashApply(repo.dir, BRANCH, base, "apply"),
    (error: unknown) => {
      const e = error as { exitCode: number; message: string; hint: string };
      assert.equal(e.exitCode, ExitCode.environment);
      assert.match(e.message, /conflict.*src\/a\.py/);
      assert.match(e.hint, /git merge --squash/);
      return true;
    },
  );
  assert.deepEqual(await userState(repo), before);
});

Deno.test("squashApply() returns null when the run kept nothing", async () => {
  await using repo = await tempRepo();
  const base = await headSha(repo.dir);
  await createWorktree(repo.dir, worktreeOf(repo), BRANCH, base);
  assert.equal(await squashApply(repo.dir, BRANCH, base, "apply"), null);
  assert.equal(await headSha(repo.dir), base);
});

Deno.test("listBranchCommits() lists the run's commits oldest first", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  const base = await keptRun(repo);
  const commits = await listBranchCommits(repo.dir, base, BRANCH);
  assert.equal(commits.length, 2);
  assert.equal(await repo.git("rev-parse", `${commits[0]}^`), base);
  assert.equal(commits[1], await repo.git("rev-parse", BRANCH));
  assert.deepEqual(await listBranchCommits(repo.dir, base, "main"), []);
});

Deno.test("removeWorktree() removes the worktree and keeps the branch", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  await keptRun(repo);
  const wt = worktreeOf(repo);
  await Deno.writeTextFile(join(wt, "untracked.txt"), "u\n");
  const tip = await repo.git("rev-parse", BRANCH);
  await removeWorktree(repo.dir, wt);
  assert.equal(await exists(wt), false);
  assert.equal(await repo.git("rev-parse", BRANCH), tip);
  assert.doesNotMatch(await repo.git("worktree", "list"), /\.ratchet/);
});

Deno.test("removeWorktree() drops the registration of a worktree whose directory is gone", async () => {
  await using repo = await tempRepo();
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, await headSha(repo.dir));
  await Deno.remove(wt, { recursive: true });
  await removeWorktree(repo.dir, wt);
  assert.doesNotMatch(await repo.git("worktree", "list"), /\.ratchet/);
  // The branch is free again: it can be checked out in a new worktree.
  await createWorktree(repo.dir, wt + "2", "ratchet/next", BRANCH);
  await repo.git("branch", "-D", BRANCH);
});

Deno.test("runGit() throws GitError carrying git's stderr", async () => {
  await using repo = await tempRepo();
  await assert.rejects(
    runGit(repo.dir, ["rev-parse", "--verify", "no-such-ref"]),
    (error: unknown) => {
      assert.ok(error instanceof GitError);
      assert.equal(error.status, 128);
      assert.match(error.message, /no-such-ref|Needed a single revision/);
      assert.match(error.stderr, /fatal/);
      return true;
    },
  );
});

Deno.test("stageCandidate() leaves files above the cap out of the tree unread, and lists them", async () => {
  await using repo = await tempRepo({
    "a.txt": "a\n",
    "data/tracked.bin": "small\n",
    ".gitignore": "build/\n",
  });
  const base = await headSha(repo.dir);
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  const sparse = async (path: string, size: number) => {
    await Deno.mkdir(join(wt, path, ".."), { recursive: true });
    const f = await Deno.open(join(wt, path), { create: true, write: true });
    await f.truncate(size);
    f.close();
  };
  // A new 1 TB file, a tracked file grown past the cap, an ignored one
  // (never added), and a small new file that must still be staged.
  await sparse("huge.bin", 1024 ** 4);
  await sparse("data/tracked.bin", 2 * 1024 ** 2);
  await sparse("build/out.bin", 1024 ** 3);
  await sparse("odd name ':(glob)*.bin", 3 * 1024 ** 2);
  await Deno.writeTextFile(join(wt, "a.txt"), "a2\n");
  await Deno.writeTextFile(join(wt, "new.txt"), "n\n");
  const started = performance.now();
  const staged = await stageCandidate(wt, 1024 ** 2);
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(staged.oversized, [
    { path: "data/tracked.bin", size: 2 * 1024 ** 2 },
    { path: "huge.bin", size: 1024 ** 4 },
    { path: "odd name ':(glob)*.bin", size: 3 * 1024 ** 2 },
  ]);
  // Hashing a terabyte would take hours: nothing was read.
  assert.ok(seconds < 10, `${seconds} s`);
  const listing = await runGit(repo.dir, [
    "ls-tree",
    "-r",
    "-l",
    staged.tree,
  ]);
  assert.doesNotMatch(listing, /huge\.bin|odd name|build/);
  assert.match(listing, /\s6\tdata\/tracked\.bin$/m); // the old content
  assert.match(listing, /\tnew\.txt$/m);
  const changes = await changedFiles(repo.dir, base, staged.tree);
  assert.deepEqual(changes.map((c) => [c.path, c.size]), [
    ["a.txt", 3],
    ["new.txt", 2],
  ]);
  // Without a cap everything small is staged as before.
  await Deno.remove(join(wt, "huge.bin"));
  await Deno.remove(join(wt, "data/tracked.bin"));
  await Deno.remove(join(wt, "odd name ':(glob)*.bin"));
  const plain = await stageCandidate(wt, null);
  assert.deepEqual(plain.oversized, []);
  assert.equal(plain.tree, await writeCandidateTree(wt));
});

Deno.test("stageCandidate() leaves a big tracked file that was only touched to git", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  // The repository's own 2 MiB file, committed.
  await Deno.writeFile(
    join(repo.dir, "data.bin"),
    new Uint8Array(2 * 1024 ** 2).fill(7),
  );
  const base = await repo.commit("data");
  const wt = worktreeOf(repo);
  await createWorktree(repo.dir, wt, BRANCH, base);
  const later = new Date(Date.now() + 5_000);
  await Deno.utime(join(wt, "data.bin"), later, later);
  const touched = await stageCandidate(wt, 1024 ** 2);
  assert.deepEqual(touched.oversized, []);
  assert.deepEqual(await changedFiles(repo.dir, base, touched.tree), []);
  // Same size, new content: git reads it, and the diff shows its size.
  await Deno.writeFile(
    join(wt, "data.bin"),
    new Uint8Array(2 * 1024 ** 2).fill(8),
  );
  const changed = await stageCandidate(wt, 1024 ** 2);
  assert.deepEqual(changed.oversized, []);
  assert.deepEqual(
    (await changedFiles(repo.dir, base, changed.tree)).map((c) => c.size),
    [2 * 1024 ** 2],
  );
  // Grown past its committed size: left out unread.
  const f = await Deno.open(join(wt, "data.bin"), { write: true });
  await f.truncate(3 * 1024 ** 2);
  f.close();
  assert.deepEqual((await stageCandidate(wt, 1024 ** 2)).oversized, [
    { path: "data.bin", size: 3 * 1024 ** 2 },
  ]);
});

Deno.test("treeSymlinks() lists every link of a tree with its target", async () => {
  await using repo = await tempRepo({ "a/file.txt": "x\n" });
  await Deno.symlink("../..", join(repo.dir, "a", "up"));
  await Deno.symlink("a/up/../etc", join(repo.dir, "leak"));
  await Deno.symlink("ü/ñ weird\ttarget", join(repo.dir, "odd"));
  await repo.git("add", "-A");
  await repo.commit("links");
  assert.deepEqual(
    await treeSymlinks(repo.dir, "HEAD"),
    new Map([
      ["a/up", "../.."],
      ["leak", "a/up/../etc"],
      ["odd", "ü/ñ weird\ttarget"],
    ]),
  );
  assert.deepEqual(await treeSymlinks(repo.dir, "HEAD~1"), new Map());
});

Deno.test("every git call is bounded: a hung git is killed and named, not waited on", async () => {
  await using repo = await tempRepo({ "a.txt": "a\n" });
  // git blocks opening a FIFO nobody writes to: a real hang inside git.
  const fifo = join(repo.dir, "pipe");
  const made = await new Deno.Command("mkfifo", { args: [fifo] }).output();
  assert.equal(made.code, 0);
  const started = performance.now();
  await assert.rejects(
    runGit(repo.dir, ["hash-object", "--no-filters", "pipe"], {
      timeoutMs: 500,
    }),
    (error: unknown) => {
      assert.ok(error instanceof GitTimeoutError);
      assert.equal(error.exitCode, ExitCode.environment);
      assert.match(
        error.message,
        /^git hash-object --no-filters pipe did not finish within 0\.5 s and was killed$/,
      );
      assert.match(error.hint ?? "", /RATCHET_GIT_TIMEOUT_SECONDS=SECONDS/);
      return true;
    },
  );
  assert.ok(performance.now() - started < 5_000);
  // A call that answers in time is untouched by its limit.
  assert.equal(
    await runGit(repo.dir, ["rev-parse", "--is-inside-work-tree"], {
      timeoutMs: 30_000,
    }),
    "true",
  );
});

Deno.test("gitTimeoutMs() reads RATCHET_GIT_TIMEOUT_SECONDS and refuses nonsense", () => {
  assert.equal(gitTimeoutMs(() => undefined), 300_000);
  assert.equal(gitTimeoutMs(() => "2.5"), 2_500);
  for (const bad of ["0", "-1", "soon"]) {
    assert.throws(
      () => gitTimeoutMs(() => bad),
      (e: unknown) =>
        e instanceof Error &&
        /RATCHET_GIT_TIMEOUT_SECONDS=.* is not a number of seconds/.test(
          e.message,
        ),
    );
  }
});
