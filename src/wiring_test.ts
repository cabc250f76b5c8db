/**
 * gitPort() is the loop's only view of a candidate: its `diff().changes` is
 * what the integrity check judges, so a port that reported fewer changes
 * than git sees would let a harness edit through unmeasured.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkCandidateChanges } from "./core/integrity.ts";
import type { ProtectionPolicy } from "./core/protect.ts";
import { tempRepo } from "../tests/_helpers/git_repo.ts";
import { gitPort } from "./wiring.ts";

const policy: ProtectionPolicy = {
  editable: [],
  harness: ["score.sh", "**/conftest.py"],
  scratch: [],
  reportPath: null,
  configPath: "ratchet.jsonc",
};

const CAP = 10 * 1024 ** 2;

Deno.test("gitPort().diff() gives the integrity check every change git sees in the candidate", async () => {
  await using repo = await tempRepo({
    "score.sh": "echo score: 1\n",
    "src/a.py": "a = 1\n",
    "src/old.py": "x\n",
  });
  const base = await repo.git("rev-parse", "HEAD");
  await repo.write({
    "src/a.py": "a = 2\n",
    "src/.pkg/conftest.py": "import a\n",
  });
  await Deno.remove(join(repo.dir, "src/old.py"));
  const port = gitPort(repo.dir, repo.dir);
  const { tree } = await port.candidateTree(CAP);
  const diff = await port.diff(base, tree);
  assert.deepEqual(
    diff.changes.map((c) => `${c.status} ${c.path}`).toSorted(),
    ["A src/.pkg/conftest.py", "D src/old.py", "M src/a.py"],
  );
  assert.equal(
    checkCandidateChanges(diff.changes, policy, {
      links: diff.links,
      maxFileBytes: CAP,
    })?.reason,
    "harness_added",
  );
  assert.deepEqual(diff.stat, { files: 3, insertions: 2, deletions: 2 });
  assert.match(new TextDecoder().decode(diff.patch), /conftest\.py/);
});

Deno.test("gitPort().diff() reports an edit of a harness file, which the check rejects", async () => {
  await using repo = await tempRepo({ "score.sh": "echo score: 1\n" });
  const base = await repo.git("rev-parse", "HEAD");
  await repo.write({ "score.sh": "echo score: 1000\n" });
  const port = gitPort(repo.dir, repo.dir);
  const diff = await port.diff(base, (await port.candidateTree(CAP)).tree);
  assert.equal(
    checkCandidateChanges(diff.changes, policy, {
      links: diff.links,
      maxFileBytes: CAP,
    })?.reason,
    "protected_path",
  );
});

Deno.test("gitPort().diff() hands the check every link of both trees: an unchanged link a new one leads out is rejected", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  // The repository's own link, inside while src/cache is a directory.
  await Deno.symlink("cache/../a.py", join(repo.dir, "src/data"));
  const base = await repo.commit("a link");
  // The candidate makes src/cache a link to the root's parent… through `..`.
  await Deno.symlink("..", join(repo.dir, "src/cache"));
  const port = gitPort(repo.dir, repo.dir);
  const { tree, oversized } = await port.candidateTree(CAP);
  assert.deepEqual(oversized, []);
  const diff = await port.diff(base, tree);
  assert.deepEqual(diff.links.before, new Map([["src/data", "cache/../a.py"]]));
  assert.deepEqual(
    diff.links.after,
    new Map([["src/cache", ".."], ["src/data", "cache/../a.py"]]),
  );
  const v = checkCandidateChanges(diff.changes, policy, {
    links: diff.links,
    maxFileBytes: CAP,
  });
  assert.equal(v?.reason, "symlink_outside");
  assert.match(v?.detail ?? "", /unchanged symlink src\/data/);
});

Deno.test("gitPort().candidateTree() leaves a file above the cap out unread and names it", async () => {
  await using repo = await tempRepo({ "src/a.py": "a = 1\n" });
  const f = await Deno.open(join(repo.dir, "big.bin"), {
    create: true,
    write: true,
  });
  await f.truncate(1024 ** 4);
  f.close();
  const port = gitPort(repo.dir, repo.dir);
  const { tree, oversized } = await port.candidateTree(CAP);
  assert.deepEqual(oversized, [{ path: "big.bin", size: 1024 ** 4 }]);
  assert.equal(tree, await repo.git("rev-parse", "HEAD^{tree}"));
});
