/**
 * The trial runner (`runTrial`, `runCheck`) on a fake engine: what it gives
 * the container (the tree's image, the wrapper), the paths it reads back,
 * and how it judges what the container left (the control log signed with the
 * nonce the wrapper announced on stderr). The
 * wrapper itself is tested in wrapper_test.ts, the real engine in
 * tests/integration/trial_test.ts.
 */
import assert from "node:assert/strict";
import { type FakeRun, FakeRuntime } from "../../tests/_fakes/runtime.ts";
import { tempRepo } from "../../tests/_helpers/git_repo.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import type { Config } from "../config/config.ts";
import { parseTrialReport } from "../core/trial_report.ts";
import type { Collected, RunResult } from "../infra/runtime.ts";
import { CONTROL_DIR, type SpecContext, WORK_DIR } from "./container_spec.ts";
import { BACKSTOP_GRACE_MS } from "./backstop.ts";
import { runCheck, runTrial, type TrialDeps, WRAPPER } from "./runner.ts";
import { TreeImages, treeImageTag, type TreeRef } from "./tree_images.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

const LOG = `${CONTROL_DIR}/log`;
const SETUP = `${CONTROL_DIR}/setup.out`;
const encode = (text: string) => new TextEncoder().encode(text);
const file = (text: string, truncated = false): Collected => ({
  kind: "file",
  bytes: encode(text),
  truncated,
});

/** The nonce a fake wrapper announces, and its announcement (first on stderr). */
const NONCE = "6f1c0a52-3b7e-4d2a-9a61-0c2d8e4f7b13";
const BEGIN = `\n${NONCE} begin\n`;

/** A control log as the wrapper writes it, for a command that ran `seconds`. */
function wrapperLog(
  seconds: number,
  status: number,
  extra: string[] = [],
): Collected {
  const n = NONCE;
  const t0 = 1_000_000_000_000_000_000n;
  const t1 = t0 + BigInt(Math.round(seconds * 1e9));
  return file(
    [`${n} start`, ...extra, `${n} wall ns ${t0} ${t1} ${status}`, ""].join(
      "\n",
    ),
  );
}

/** A repository tree, a fake engine with the trial image, and the runner's deps. */
async function setup(config: Partial<Config> = {}) {
  const repo = await tempRepo({ "bench.py": "print('score: 1')\n" });
  const tree = await repo.git("rev-parse", "HEAD^{tree}");
  const runtime = new FakeRuntime();
  runtime.addImage("trial:1");
  const spec: SpecContext = {
    runId: "run-1",
    config: testConfig(),
    user: "1000:1001",
    env: () => undefined,
    extraMounts: [],
  };
  const images = new TreeImages({
    git: testGit,
    runtime,
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
    trialUser: { uid: 1000, gid: 1001 },
  });
  const saved: { iter: number; trial: number; text: string }[] = [];
  const deps: TrialDeps = {
    runtime,
    images,
    spec,
    config: testConfig({
      runCommand: "python bench.py",
      trialTimeoutSeconds: 60,
      ...config,
    }),
    saveReport: (iter, trial, text) => {
      saved.push({ iter, trial, text });
      return Promise.resolve();
    },
  };
  const ref: TreeRef = {
    key: tree,
    source: { kind: "git", root: repo.dir, treeish: tree },
  };
  return {
    runtime,
    deps,
    ref,
    saved,
    tree,
    /**
     * Make every container do `fn`; its stderr starts with the wrapper's
     * announcement of NONCE unless `begin` is false.
     */
    on(fn: (run: FakeRun) => Partial<RunResult>, begin = true) {
      runtime.onRun = (run) => {
        const got = fn(run);
        if (!begin) return got;
        const stderr = got.stderr ?? new Uint8Array();
        return {
          ...got,
          stderr: new Uint8Array([...encode(BEGIN), ...stderr]),
        };
      };
    },
    [Symbol.asyncDispose]: () => repo[Symbol.asyncDispose](),
  };
}

const request = (ref: TreeRef) => ({
  iter: 3,
  trial: 2,
  side: "candidate" as const,
  tree: ref,
});

Deno.test("runTrial() runs the wrapper in a fresh container of the tree's image, and puts nothing in", async () => {
  await using t = await setup();
  t.on(() => ({
    stdout: encode("score: 2.5\n"),
    collected: { [LOG]: wrapperLog(0.25, 0) },
  }));
  const result = await runTrial(t.deps, request(t.ref));
  await runTrial(t.deps, request(t.ref));
  assert.equal(result.outcome, "ok");
  assert.equal(result.score, 2.5);
  assert.equal(result.wallSeconds, 0.25);
  assert.equal(result.containerId, "fake-container-1");
  const [run] = t.runtime.runs;
  assert.ok(run);
  // The tree's image, built once for both trials.
  assert.equal(run.spec.image, treeImageTag("run-1", t.tree));
  assert.equal(
    t.runtime.calls.filter((c) => c.startsWith("layer ")).length,
    1,
  );
  assert.deepEqual(run.spec.cmd, [
    "sh",
    "-c",
    WRAPPER,
    "ratchet-trial",
    "python bench.py",
    "",
    "60",
  ]);
  assert.equal(run.spec.user, "1000:1001");
  assert.equal(run.spec.capabilities, "none");
  assert.equal(run.spec.labels["ratchet.iter"], "3");
  assert.equal(run.spec.labels["ratchet.trial"], "2");
  // The control directory comes with the image: nothing is put in.
  assert.deepEqual(run.files, []);
  // No copy of the log in stderr but the announcement: the log file is read
  // back, capped. No announcement: no nonce, so no log is worth reading.
  const collect = run.options.collect as (
    s: { stderr: Uint8Array; stderrTruncated: boolean },
  ) => unknown;
  assert.deepEqual(
    collect({ stderr: encode(BEGIN), stderrTruncated: false }),
    [{ path: LOG, maxBytes: 1024 * 1024 }],
  );
  assert.deepEqual(
    collect({ stderr: new Uint8Array(), stderrTruncated: false }),
    [],
  );
  // No setup command: the engine's own timeout is the backstop.
  assert.equal(run.options.timeoutMs, 60_000 + BACKSTOP_GRACE_MS);
  assert.equal(run.options.onStart, undefined);
  // The holder runs the run's trial image, never a tree's (whose image is
  // removed while the holder may still be up).
  assert.deepEqual(run.options.sharedNetns, {
    key: "run-1/3",
    scope: "run-1",
    image: "trial:1",
  });
  assert.equal(run.options.outputCapBytes, 10 * 1024 * 1024);
});

Deno.test("runTrial() ignores control-log lines without the nonce", async () => {
  await using t = await setup({ reportSource: "wall", metricName: "time" });
  t.on(() => ({
    collected: {
      [LOG]: file(
        [
          "forged wall ns 0 1 0",
          `${"0".repeat(32)} wall ns 0 1 0`,
          new TextDecoder().decode(
            (wrapperLog(1.5, 0) as { bytes: Uint8Array }).bytes,
          ),
        ].join("\n"),
      ),
    },
  }));
  const result = await runTrial(t.deps, request(t.ref));
  assert.deepEqual([result.outcome, result.score], ["ok", 1.5]);
  // A log without a genuine wall line has no wall time.
  t.on(() => ({ collected: { [LOG]: file("forged wall ns 0 1 0\n") } }));
  const forged = await runTrial(t.deps, request(t.ref));
  assert.equal(forged.outcome, "no_metric");
  assert.equal(forged.wallSeconds, null);
  assert.match(forged.detail, /wall time was not recorded/);
});

Deno.test("runTrial() reads the report file from the stopped container", async () => {
  await using t = await setup({ reportSource: "out/./r.txt" });
  const at = `${WORK_DIR}/out/r.txt`;
  t.on(() => ({
    stdout: encode("score: 1\n"),
    collected: { [LOG]: wrapperLog(0.1, 0), [at]: file("score: 42\n") },
  }));
  const result = await runTrial(t.deps, request(t.ref));
  assert.deepEqual([result.outcome, result.score], ["ok", 42]);
  assert.equal(result.reportText, "score: 42\n");
  assert.deepEqual(t.runtime.collectedPaths[0], [
    LOG,
    at,
  ]);
  for (
    const [collected, words] of [
      [{ kind: "missing" }, /report file out\/r\.txt was not written/],
      [
        { kind: "other", type: "symlink" },
        /is a symlink; ratchet does not follow it/,
      ],
      [{ kind: "other", type: "dir" }, /is not a regular file \(dir\)/],
      [file("score: 42\n", true), /larger than 10 MiB/],
    ] as const
  ) {
    t.on(() => ({
      collected: { [LOG]: wrapperLog(0.1, 0), [at]: collected },
    }));
    const r = await runTrial(t.deps, request(t.ref));
    assert.equal(r.outcome, "no_metric");
    assert.match(r.detail, words);
    assert.equal(r.score, null);
  }
});

Deno.test("runTrial() judges kills and exit statuses before the metric", async () => {
  await using t = await setup();
  const cases: [Partial<RunResult>, string, RegExp][] = [
    [{ timedOut: true, exitCode: null }, "timeout", /did not finish within/],
    [{ oomKilled: true, exitCode: 137 }, "oom", /memory limit/],
    [{ exitCode: 3 }, "crashed", /exited with status 3/],
  ];
  for (const [got, outcome, words] of cases) {
    t.on(() => ({
      stdout: encode("score: 5\n"),
      collected: { [LOG]: wrapperLog(0.1, got.exitCode ?? 0) },
      ...got,
    }));
    const r = await runTrial(t.deps, request(t.ref));
    assert.equal(r.outcome, outcome);
    assert.equal(r.score, null);
    assert.match(r.detail, words);
  }
  // The in-container watchdog fired: a timeout, whatever the exit status.
  t.on(() => ({
    exitCode: 137,
    collected: {
      [LOG]: file(`${NONCE} start\n${NONCE} timeout\n`),
    },
  }));
  const watchdog = await runTrial(t.deps, request(t.ref));
  assert.deepEqual([watchdog.outcome, watchdog.timedOut, watchdog.exitCode], [
    "timeout",
    true,
    null,
  ]);
});

Deno.test("runTrial() with a setup command reads its output and polls for the start instead of an engine timeout", async () => {
  await using t = await setup({ setupCommand: "make deps" });
  t.on(() => ({
    exitCode: 2,
    collected: {
      [LOG]: file(`${NONCE} setup 2\n`),
      [SETUP]: file("make: *** no rule\n"),
    },
  }));
  const r = await runTrial(t.deps, request(t.ref));
  assert.equal(r.outcome, "crashed");
  assert.match(
    r.detail,
    /setup command \(--setup-command\) exited with status 2/,
  );
  const [run] = t.runtime.runs;
  assert.equal(run!.spec.cmd[5], "make deps");
  assert.equal(run!.options.timeoutMs, null);
  assert.equal(typeof run!.options.onStart, "function");
  assert.deepEqual(t.runtime.collectedPaths[0], [LOG, SETUP]);
  assert.match(
    t.saved[0]!.text,
    /===== setup command output =====\nmake: \*\*\* no rule\n/,
  );
});

Deno.test("runTrial() without a timeout sets none, on the engine or in the wrapper", async () => {
  await using t = await setup({ trialTimeoutSeconds: null });
  t.on(() => ({ collected: { [LOG]: wrapperLog(0.1, 0) } }));
  await runTrial(t.deps, request(t.ref));
  const [run] = t.runtime.runs;
  assert.equal(run!.options.timeoutMs, null);
  assert.equal(run!.options.onStart, undefined);
  assert.equal(run!.spec.cmd[6], "");
});

Deno.test("runTrial() saves the trial's report, which reads back", async () => {
  await using t = await setup();
  t.on(() => ({
    stdout: encode("step 1\nscore: 7\n"),
    stderr: encode("warning\n"),
    stderrTruncated: true,
    collected: { [LOG]: wrapperLog(0.5, 0) },
  }));
  const r = await runTrial(t.deps, { ...request(t.ref), side: "incumbent" });
  assert.equal(t.saved.length, 1);
  const { iter, trial, text } = t.saved[0]!;
  assert.deepEqual([iter, trial], [3, 2]);
  assert.match(text, /run run-1, iteration 3, trial 2 \(incumbent\)/);
  assert.match(text, /wall time: +0\.500000 s \(clock: date \+%s%N/);
  assert.match(text, /container: +fake-container-1/);
  assert.deepEqual(parseTrialReport(text), {
    side: "incumbent",
    outcome: "ok",
    stdout: "step 1\nscore: 7\n",
    stderr: "warning\n",
  });
  assert.equal(r.stderrTruncated, true);
});

Deno.test("runTrial() holds a trial to the baseline's unit and guards", async () => {
  await using t = await setup({
    guard: [{ name: "accuracy", direction: "max", tolerance: 0.01 }],
  });
  t.on(() => ({
    stdout: encode("score: 3 MB\naccuracy: 0.9\n"),
    collected: { [LOG]: wrapperLog(0.1, 0) },
  }));
  const ok = await runTrial(t.deps, { ...request(t.ref), expectedUnit: "MB" });
  assert.deepEqual([ok.outcome, ok.unit], ["ok", "MB"]);
  assert.deepEqual(ok.guards, { accuracy: 0.9 });
  const unit = await runTrial(t.deps, {
    ...request(t.ref),
    expectedUnit: null,
  });
  assert.equal(unit.outcome, "no_metric");
  t.on(() => ({
    stdout: encode("score: 3 MB\n"),
    collected: { [LOG]: wrapperLog(0.1, 0) },
  }));
  const guardless = await runTrial(t.deps, request(t.ref));
  assert.equal(guardless.outcome, "no_metric");
  assert.match(guardless.detail, /accuracy/);
  assert.deepEqual(guardless.guards, { accuracy: null });
});

Deno.test("runTrial() does not start once aborted", async () => {
  await using t = await setup();
  const controller = new AbortController();
  controller.abort(new Error("interrupted"));
  await assert.rejects(
    runTrial({ ...t.deps, signal: controller.signal }, request(t.ref)),
    /interrupted/,
  );
  assert.equal(t.runtime.runs.length, 0);
});

Deno.test("runCheck() passes on exit 0 and says why otherwise", async () => {
  await using t = await setup({
    checkCommand: "pytest -q",
    setupCommand: "make",
  });
  const check = () => runCheck(t.deps, { iter: 5, tree: t.ref });
  t.on(() => ({
    stdout: encode("3 passed\n"),
    collected: { [LOG]: wrapperLog(0.1, 0) },
  }));
  const passed = await check();
  assert.deepEqual(passed, {
    passed: true,
    exitCode: 0,
    timedOut: false,
    outputTail: "--- stdout (tail) ---\n3 passed",
    detail: "check passed",
  });
  const [run] = t.runtime.runs;
  assert.equal(run!.spec.cmd[4], "pytest -q");
  assert.equal(run!.spec.labels["ratchet.trial"], "check");
  // A check reads back no report file (the setup output is read, unsaved).
  assert.deepEqual(t.runtime.collectedPaths[0], [LOG, SETUP]);
  t.on(() => ({
    exitCode: 1,
    stdout: encode("1 failed\n"),
    collected: { [LOG]: wrapperLog(0.1, 1) },
  }));
  const failed = await check();
  assert.equal(failed.passed, false);
  assert.equal(failed.detail, "the check command exited with status 1");
  assert.match(failed.outputTail, /1 failed/);
  t.on(() => ({
    exitCode: 4,
    collected: { [LOG]: file(`${NONCE} setup 4\n`) },
  }));
  assert.match(
    (await check()).detail,
    /setup command exited with status 4 before the check/,
  );
  t.on(() => ({ exitCode: null, timedOut: true }));
  const slow = await check();
  assert.deepEqual([slow.passed, slow.timedOut, slow.exitCode], [
    false,
    true,
    null,
  ]);
  assert.match(slow.detail, /did not finish within --trial-timeout-seconds 60/);
  t.on(() => ({ exitCode: 137, oomKilled: true }));
  assert.match((await check()).detail, /memory limit/);
  // Saved reports are for trials only.
  assert.equal(t.saved.length, 0);
});

Deno.test("runCheck() without --check-command runs nothing", async () => {
  await using t = await setup({ checkCommand: null });
  const r = await runCheck(t.deps, { iter: 1, tree: t.ref });
  assert.equal(r.passed, true);
  assert.equal(r.detail, "no --check-command configured");
  assert.equal(t.runtime.runs.length, 0);
});

/** The wrapper's lines as it also writes them to stderr ("\n" + line + "\n"). */
function stderrCopy(seconds: number, status: number): string {
  const log = new TextDecoder().decode(
    (wrapperLog(seconds, status) as { bytes: Uint8Array }).bytes,
  );
  return log.split("\n").filter((l) => l !== "").map((l) => `\n${l}\n`)
    .join("");
}

Deno.test("runTrial() takes the control log from stderr when it is whole, and reads the log file only when it is not", async () => {
  await using t = await setup();
  // Whole in stderr: no log file is read, and the command's stderr comes
  // back without the wrapper's lines.
  t.on(() => {
    const [start, wall] = stderrCopy(0.25, 0).split("\n\n");
    return {
      stdout: encode("score: 3\n"),
      stderr: encode(`${start}\nwarn\n${wall}`),
    };
  });
  const whole = await runTrial(t.deps, request(t.ref));
  assert.deepEqual([whole.outcome, whole.score], ["ok", 3]);
  assert.equal(whole.wallSeconds, 0.25);
  assert.deepEqual(t.runtime.collectedPaths[0], []);
  assert.equal(parseTrialReport(t.saved[0]!.text)?.stderr, "warn\n");
  // Cut by the output cap: the log file is read and decides.
  t.on(() => ({
    stdout: encode("score: 3\n"),
    stderr: encode(stderrCopy(0.25, 0).slice(0, 40)),
    stderrTruncated: true,
    collected: { [LOG]: wrapperLog(0.5, 0) },
  }));
  const cut = await runTrial(t.deps, request(t.ref));
  assert.deepEqual(t.runtime.collectedPaths[1], [LOG]);
  assert.equal(cut.wallSeconds, 0.5);
  // A command's forged wall line in stderr (no nonce) never counts.
  t.on(() => ({
    stdout: encode("score: 3\n"),
    stderr: encode("\nforged wall ns 0 1 0\n"),
    collected: { [LOG]: file("") },
  }));
  const forged = await runTrial(t.deps, request(t.ref));
  assert.deepEqual(t.runtime.collectedPaths[2], [LOG]);
  assert.equal(forged.wallSeconds, null);
  // Only the very first bytes announce the nonce: an announcement anywhere
  // else (a command printing its own, then lines signed with it) is the
  // command's output, and no log file is read without one.
  const own = "0123456789abcdef0123456789abcdef";
  t.on(() => ({
    stdout: encode("score: 3\n"),
    stderr: encode(
      `x\n${own} begin\n\n${own} start\n\n${own} wall er 0 0.1 0\n`,
    ),
    collected: { [LOG]: file(`${own} start\n${own} wall er 0 0.1 0\n`) },
  }), false);
  const impostor = await runTrial(t.deps, request(t.ref));
  assert.deepEqual(t.runtime.collectedPaths[3], []);
  assert.equal(impostor.wallSeconds, null);
  assert.match(parseTrialReport(t.saved[3]!.text)?.stderr ?? "", /begin/);
});
