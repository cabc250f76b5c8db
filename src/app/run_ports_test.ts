/**
 * gitPort() is the loop's only view of a candidate: its `diff().changes` is
 * what the integrity check judges, so a port that reported fewer changes
 * than git sees would let a harness edit through unmeasured.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { checkCandidateChanges } from "../core/integrity.ts";
import type { ProtectionPolicy } from "../core/protect.ts";
import { tempRepo } from "../../tests/_helpers/git_repo.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import { FakeRuntime } from "../../tests/_fakes/runtime.ts";
import type { Config } from "../config/config.ts";
import type { TrialResult } from "../core/trial_report.ts";
import { TreeImages, treeImageTag } from "../trial/tree_images.ts";
import { gitPort, toTrialSummary, trialPort } from "./run_ports.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

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
  const port = gitPort(testGit, repo.dir, repo.dir);
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
  const port = gitPort(testGit, repo.dir, repo.dir);
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
  const port = gitPort(testGit, repo.dir, repo.dir);
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
  const port = gitPort(testGit, repo.dir, repo.dir);
  const { tree, oversized } = await port.candidateTree(CAP);
  assert.deepEqual(oversized, [{ path: "big.bin", size: 1024 ** 4 }]);
  assert.equal(tree, await repo.git("rev-parse", "HEAD^{tree}"));
});

function trialResult(overrides: Partial<TrialResult> = {}): TrialResult {
  return {
    outcome: "ok",
    score: 1.5,
    unit: "MB",
    rule: "line",
    exitCode: 0,
    wallSeconds: 0.25,
    stdout: "hello\nscore: 1.5 MB\n",
    stderr: "",
    stdoutTruncated: false,
    stderrTruncated: false,
    timedOut: false,
    oomKilled: false,
    reportText: null,
    detail: "",
    containerId: "abc123",
    guards: { accuracy: 0.9 },
    guardUnits: { accuracy: null },
    ...overrides,
  };
}

Deno.test("toTrialSummary() keeps the outcome, guards and the tail of both streams", () => {
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  const summary = toTrialSummary(
    trialResult({ stdout: long, stderr: "oops\n", detail: "why" }),
  );
  assert.equal(summary.outcome, "ok");
  assert.equal(summary.score, 1.5);
  assert.equal(summary.unit, "MB");
  assert.equal(summary.wallSeconds, 0.25);
  assert.equal(summary.detail, "why");
  assert.deepEqual(summary.guards, { accuracy: 0.9 });
  assert.deepEqual(summary.guardUnits, { accuracy: null });
  assert.match(summary.outputTail, /--- stdout \(tail\) ---\nline 60\n/);
  assert.match(summary.outputTail, /--- stderr \(tail\) ---\noops$/);
  assert.doesNotMatch(summary.outputTail, /line 59\n/);
});

/** A trial port over a fake engine and a real repository with two trees. */
async function trials(config: Partial<Config> = {}) {
  const repo = await tempRepo({ "bench.py": "print(1)\n" });
  const first = await repo.git("rev-parse", "HEAD^{tree}");
  await repo.write({ "bench.py": "print(2)\n" });
  await repo.commit("second");
  const second = await repo.git("rev-parse", "HEAD^{tree}");
  const runtime = new FakeRuntime();
  runtime.addImage("trial:1");
  // The wrapper's announcement and wall line, as it writes them to stderr.
  const nonce = "6f1c0a52-3b7e-4d2a-9a61-0c2d8e4f7b13";
  runtime.onRun = (run) => ({
    exitCode: run.spec.cmd[4] === "make check" ? 2 : 0,
    stdout: new TextEncoder().encode("score: 3\n"),
    stderr: new TextEncoder().encode(
      `\n${nonce} begin\n\n${nonce} wall ns 0 100 0\n`,
    ),
  });
  const images = new TreeImages({
    runtime,
    git: testGit,
    runId: "run-1",
    baseImage: "trial:1",
    snapshotDir: null,
    policy: {
      harness: [],
      editable: [],
      scratch: [],
      reportPath: null,
      configPath: null,
    },
    trialUser: { uid: 0, gid: 0 },
  });
  const port = trialPort({
    runtime,
    images,
    spec: {
      runId: "run-1",
      config: testConfig(),
      user: "0:0",
      env: () => undefined,
      extraMounts: [],
    },
    config: testConfig({ runCommand: "python bench.py", ...config }),
    root: repo.dir,
    pinned: [first],
  });
  return {
    port,
    runtime,
    first,
    second,
    [Symbol.asyncDispose]: () => repo[Symbol.asyncDispose](),
  };
}

Deno.test("trialPort() runs a git tree's trial and check in containers of its image", async () => {
  await using t = await trials({ checkCommand: "make check" });
  const summary = await t.port.trial({
    iter: 1,
    trial: 1,
    tree: t.second,
    side: "candidate",
  });
  assert.deepEqual([summary.outcome, summary.score], ["ok", 3]);
  assert.equal(t.runtime.runs[0]!.spec.image, treeImageTag("run-1", t.second));
  const check = await t.port.check({ iter: 1, tree: t.second });
  assert.equal(check?.passed, false);
  assert.match(
    check?.detail ?? "",
    /^--check-command failed: the check command exited with status 2\n--- stdout \(tail\) ---\nscore: 3$/,
  );
});

Deno.test("trialPort().check() is null without --check-command", async () => {
  await using t = await trials({ checkCommand: null });
  assert.equal(await t.port.check({ iter: 1, tree: t.second }), null);
  assert.equal(t.runtime.runs.length, 0);
});

Deno.test("trialPort().retain() removes the images of other trees but keeps the pinned start tree's", async () => {
  await using t = await trials();
  for (const tree of [t.first, t.second]) {
    await t.port.trial({ iter: 1, trial: 1, tree, side: "candidate" });
  }
  await t.port.retain([t.second]);
  assert.ok(t.runtime.images.has(treeImageTag("run-1", t.first)));
  assert.ok(t.runtime.images.has(treeImageTag("run-1", t.second)));
  await t.port.retain([]);
  assert.ok(t.runtime.images.has(treeImageTag("run-1", t.first)));
  assert.equal(t.runtime.images.has(treeImageTag("run-1", t.second)), false);
});
