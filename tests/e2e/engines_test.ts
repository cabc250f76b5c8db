/**
 * The local engine's end-to-end scenarios on other engines (spec section 1:
 * "the engine never needs to see ratchet's filesystem"; issue 15):
 *
 * - a dockerd in its own mount namespace that cannot see the repository,
 *   ratchet's checkout or HOME (a remote host);
 * - Podman's Docker-compatible socket;
 * - a remote engine on tcp://127.0.0.1:PORT with verified TLS and client
 *   certificates, which cannot see ratchet's files either.
 *
 * The real CLI, the real SDK against the scripted fake Anthropic server, real
 * git; every engine real (tests/_helpers/engines.ts). After every ending
 * (finished, failed start, interrupted, killed and resumed) the engine is
 * asked directly what is left on it.
 *
 * Scenarios per engine (chosen for CI time; see each test's name):
 *   scripted run (keep, revert, crash, tamper, reject ×3, no submit, empty
 *   diff, a kept change with new, deleted, executable and symlinked files)
 *   + failed start: all three engines;
 *   SIGINT, kill -9 and resume: all three;
 *   critic mode: all three;
 *   hostile candidates (harness writes in trials and tools, forged score,
 *   forged report): hidden-filesystem dockerd and Podman (the two ways of
 *   making the harness read-only that differ: no shared filesystem, and an
 *   engine that ignores ReadonlyPaths);
 *   --mount as a path on the engine's host: all three;
 *   TLS verification: the TLS engine.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { CliResult } from "../_helpers/cli.ts";
import { spawnCli } from "../_helpers/cli.ts";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type EngineKind,
  makeTlsFiles,
  startEngine,
  type TestEngine,
} from "../_helpers/engines.ts";
import {
  type FakeAnthropic,
  type FakeStep,
  roleOf,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import { tempDir, tempRepo } from "../_helpers/git_repo.ts";
import { scoreRunFlags } from "../_helpers/score_flags.ts";
import { canRunDockerd } from "../reliability/dockerd.ts";
import {
  apiEnv,
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  type Block,
  exists,
  giveUp,
  ratchet,
  readCurrent,
  readRecords,
  readRun,
  type Rec,
  reportSide,
  reportsOf,
  runArgs,
  scoringRepo,
  setValue,
  submit,
  turn,
  waitFor,
} from "./_support.ts";
import {
  assertNoMountBlame,
  assertNothingLeft,
  assertStatusEngine,
  endpointNeedle,
  REFUSED,
  runContainersOn,
  snapshot,
  viewOf,
} from "./_engine_support.ts";
import { toolResult } from "./security_redteam.ts";

const MEAN = ["--decision", "mean", "--trials", "1"];

const NAMES: Record<EngineKind, string> = {
  hidden: "hidden-filesystem dockerd",
  podman: "Podman socket",
  tls: "TLS engine",
};

/** A Docker test that runs `fn` against a fresh engine of `kind`. */
function engineTest(
  kind: EngineKind,
  name: string,
  fn: (engine: TestEngine) => Promise<void>,
): void {
  dockerTest(`${NAMES[kind]}: ${name}`, async () => {
    if (kind !== "podman") {
      assert.ok(canRunDockerd(), "a private dockerd needs dockerd and root");
    }
    await using engine = await startEngine(kind);
    await fn(engine);
  });
}

/** A tool call with a known id (`toolu_<id>`), so its result can be found. */
function tool(id: string, name: string, input: unknown): Block {
  return { type: "tool_use", name, input, id: `toolu_${id}` };
}
const bashT = (id: string, command: string) => tool(id, "bash", { command });
const editT = (id: string, input: Record<string, unknown>) =>
  tool(id, "str_replace_based_edit_tool", input);

/** `ratchet <args>` on `engine`. */
function onEngine(
  engine: TestEngine,
  args: string[],
  dir: string,
  server: FakeAnthropic | null,
  env: Record<string, string> = {},
): Promise<CliResult> {
  return ratchet(args, dir, server, { env: { ...engine.env, ...env } });
}

/** The text of iteration `iter`'s first candidate trial report ("" when none). */
async function report(dir: string, iter: number): Promise<string> {
  for (const name of await reportsOf(dir, iter)) {
    if (await reportSide(dir, name) === "candidate") {
      return await Deno.readTextFile(join(dir, ".ratchet/reports", name));
    }
  }
  return "";
}

// ---------------------------------------------------------------------------
// Scripted run

const CRASH_MARKER = "panic: E2E-ENGINE-CRASH in prog.sh";

/** prog.sh for a candidate that tries to append to the harness during its trial. */
const TAMPER_PROG = [
  "if echo 'echo score: 1000; exit 0' >> score.sh; then echo 1000; exit 0; fi",
  'echo "TAMPER BLOCKED" >&2',
  "exit 97",
  "",
].join("\n");

async function scriptedRun(engine: TestEngine): Promise<void> {
  const view = viewOf(engine);
  const before = await snapshot(view);
  await using repo = await scoringRepo();
  await using server = await startFakeAnthropic([
    // 1: improved (10 → 20)
    setValue(10, 20, "value 20"),
    // 2: regressed (20 → 15)
    setValue(20, 15, "value 15"),
    // 3: crashed
    turn(
      editT("crash", {
        command: "str_replace",
        path: "/work/prog.sh",
        old_str: "cat value.txt",
        new_str: `echo "${CRASH_MARKER}" >&2; exit 7`,
      }),
      submit("A faster program.", "rewrite prog.sh"),
    ),
    // 4: tamper: the trial appends to the harness (crashed when blocked)
    turn(
      editT("tamper", {
        command: "create",
        path: "/work/prog.sh",
        file_text: TAMPER_PROG,
      }),
      submit("The scorer can be taught.", "append to score.sh"),
    ),
    // 5: the harness is read-only in the sandbox; a symlink out of the tree
    turn(
      bashT("sandbox-write", "echo 'echo score: 999' > /work/score.sh"),
      bashT("sandbox-link", "ln -s /etc/passwd /work/leak"),
    ),
    turn(submit("Link the data in.", "add a link")),
    // 6: a new file matching the harness glob score*.sh
    turn(
      bashT("harness-add", "echo 'echo score: 999' > /work/score2.sh"),
      submit("A second scorer.", "add score2.sh"),
    ),
    // 7: fails --check-command (value must stay ≤ 100)
    setValue(20, 500, "value 500"),
    // 8: no submit
    ...giveUp(),
    // 9: submits without changing anything
    turn(submit("Nothing to change.", "no edit")),
    // 10: improved (20 → 30), with a new file, a deletion, a mode change and
    // a symlink inside the tree, all made in the engine's sandbox
    turn(
      editT("view", { command: "view", path: "/work/value.txt" }),
      editT("new-file", {
        command: "create",
        path: "/work/notes/new.txt",
        file_text: "made in the sandbox\n",
      }),
      bashT(
        "shape",
        "rm /work/README.md && chmod +x /work/prog.sh && ln -s value.txt /work/alias && echo done",
      ),
      editT("edit", {
        command: "str_replace",
        path: "/work/value.txt",
        old_str: "20",
        new_str: "30",
      }),
    ),
    turn(submit("Setting the value to 30 raises the score.", "value 30")),
  ]);
  const r = await onEngine(
    engine,
    runArgs(
      10,
      "--check-command",
      'test "$(cat value.txt)" -le 100',
      // A per-run volume on the engine, gone when the run ends.
      "--cache",
      "/var/cache/ratchet-e2e",
    ),
    repo.dir,
    server,
  );
  assert.deepEqual(server.violations, []);
  assertNoMountBlame(r, "the scripted run");
  assert.equal(r.code, 0, r.stderr);
  assert.equal(server.remaining(), 0, "every scripted turn was used");
  const run = await readRun(repo.dir);
  assert.equal(run.state, "finished");
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  assert.deepEqual(records.map((x) => [x.decision, x.reason]), [
    ["baseline", null],
    ["improved", null],
    ["regressed", null],
    ["crashed", "crashed_trials"],
    ["crashed", "crashed_trials"],
    ["rejected", "symlink_outside"],
    ["rejected", "harness_added"],
    ["rejected", "check_failed"],
    ["no_change", "no_submit"],
    ["no_change", "empty_diff"],
    ["improved", null],
  ]);
  assert.deepEqual(records.map((x) => x.avg), [
    10,
    20,
    15,
    null,
    null,
    null,
    null,
    null,
    null,
    null,
    30,
  ]);
  assert.deepEqual(records[0]!.trial_scores, [10, 10, 10, 10, 10]);
  // The crash output was captured from the engine.
  assert.ok(
    (await report(repo.dir, 3)).includes(CRASH_MARKER),
    await report(repo.dir, 3),
  );
  // The trial's write to the harness failed, with the kernel's refusal.
  const tamper = await report(repo.dir, 4);
  assert.match(tamper, /TAMPER BLOCKED/);
  assert.match(tamper, REFUSED);
  // In the sandbox: the harness write failed, the link was made (and the
  // diff check rejected it), the view showed the incumbent's file.
  const sandboxWrite = toolResult(server, "sandbox-write");
  assert.ok(sandboxWrite?.isError, JSON.stringify(sandboxWrite));
  assert.match(sandboxWrite!.text, REFUSED);
  assert.equal(toolResult(server, "sandbox-link")?.isError, false);
  assert.match(toolResult(server, "view")?.text ?? "", /20/);
  assert.equal(toolResult(server, "shape")?.isError, false);
  assert.equal(toolResult(server, "new-file")?.isError, false);
  // Measured iterations have an incumbent and a candidate trial; rejected
  // and empty ones were never measured.
  for (const iter of [1, 2, 3, 4, 10]) {
    assert.equal((await reportsOf(repo.dir, iter)).length, 2, `iter ${iter}`);
  }
  for (const x of records.slice(5, 10)) {
    assert.deepEqual(x.trial_scores, [], `iter ${x.iter} not measured`);
  }
  // The kept commits, exactly as the sandbox left /work.
  await assertBranchMatchesKept(repo, records, run.branch);
  const tip = run.branch;
  assert.equal(await repo.git("show", `${tip}:value.txt`), "30");
  assert.equal(
    await repo.git("show", `${tip}:notes/new.txt`),
    "made in the sandbox",
  );
  const tree = await repo.git("ls-tree", "-r", tip);
  assert.doesNotMatch(tree, /\tREADME\.md$/m, "README.md was deleted");
  assert.match(tree, /^100755 blob \w+\tprog\.sh$/m, "prog.sh is executable");
  assert.match(tree, /^120000 blob \w+\talias$/m, "alias is a symlink");
  assert.equal(await repo.git("show", `${tip}:alias`), "value.txt");
  assert.match(tree, /^100644 blob \w+\tscore\.sh$/m);
  assert.doesNotMatch(tree, /\tleak$|score2\.sh/m);
  // The user's checkout is untouched; the worktree is gone.
  assert.equal(await Deno.readTextFile(join(repo.dir, "value.txt")), "10\n");
  assert.equal(await exists(join(repo.dir, ".ratchet/worktree")), false);
  await assertStatusEngine(repo.dir, engine);
  await assertNothingLeft(view, before, "after a finished run");

  // A failed start (the baseline has no metric): exit 5, nothing left.
  await using silent = await startFakeAnthropic([]);
  const failed = await onEngine(
    engine,
    runArgs(3, ...MEAN, "--metric-name", "latency"),
    repo.dir,
    silent,
  );
  assert.equal(failed.code, 5, failed.stderr);
  assertNoMountBlame(failed, "the failed start");
  assert.match(failed.stderr, /baseline could not be measured/);
  assert.equal(silent.requests.length, 0);
  await assertNothingLeft(view, before, "after a failed start");
}

for (const kind of ["hidden", "podman", "tls"] as const) {
  engineTest(
    kind,
    "a scripted run keeps, reverts, crashes, blocks a trial's write to the harness, rejects (symlink out, harness file added, check failed), and brings the sandbox's new, deleted, executable and symlinked files back exactly; status --json names the engine; nothing is left after the run or after a failed start",
    scriptedRun,
  );
}

// ---------------------------------------------------------------------------
// SIGINT, kill -9, resume

/** A candidate whose trial takes 30 s (caught while it runs). */
function slowCandidate(): FakeStep {
  return turn(
    editT("slow", {
      command: "str_replace",
      path: "/work/prog.sh",
      old_str: "cat value.txt",
      new_str: "sleep 30; cat value.txt",
    }),
    submit("Sleeping first warms the cache.", "sleep"),
  );
}

async function interruptKillResume(engine: TestEngine): Promise<void> {
  const view = viewOf(engine);
  const before = await snapshot(view);
  await using repo = await scoringRepo();
  /** Start `args`, wait until iteration 2's candidate trial runs, send `signal`. */
  const stopDuringTrial = async (
    args: string[],
    steps: FakeStep[],
    signal: Deno.Signal,
  ): Promise<CliResult> => {
    await using server = await startFakeAnthropic(steps);
    const p = spawnCli(args, {
      cwd: repo.dir,
      env: apiEnv(server, engine.env),
    });
    let ended = false;
    p.done.then(() => (ended = true));
    try {
      await waitFor("iteration 2's trial on the engine", async () => {
        if (ended) {
          throw new Error(
            `ratchet ended before iteration 2's trial:\n${p.stderr()}`,
          );
        }
        const current = await readCurrent(repo.dir);
        if (current?.iter !== 2 || current.phase !== "measuring") return false;
        return (await runContainersOn(view, current.run_id)).length > 0;
      }, 120_000);
      // The candidate's trial (the incumbent's goes first).
      await new Promise((r) => setTimeout(r, 500));
      p.kill(signal);
    } finally {
      const r = await Promise.race([
        p.done,
        new Promise<null>((res) => setTimeout(() => res(null), 60_000)),
      ]);
      if (r === null) p.kill("SIGKILL");
    }
    const r = await p.done;
    assert.deepEqual(server.violations, []);
    return r;
  };

  // SIGINT mid-trial: exit 130, state written, nothing left on the engine.
  const interrupted = await stopDuringTrial(
    runArgs(3, ...MEAN),
    [setValue(10, 20), slowCandidate()],
    "SIGINT",
  );
  assert.equal(interrupted.code, 130, interrupted.stderr);
  assertNoMountBlame(interrupted, "the interrupted run");
  assert.match(interrupted.stderr, /ratchet resume/);
  let run = await readRun(repo.dir);
  assert.equal(run.stop_reason, "interrupted");
  await assertNothingLeft(view, before, "after SIGINT");

  // kill -9 mid-trial of the retried iteration: the process gets no chance
  // to clean up; resume must.
  const killed = await stopDuringTrial(
    ["resume"],
    [slowCandidate()],
    "SIGKILL",
  );
  assert.equal(killed.code, 137, killed.stderr);

  await using server = await startFakeAnthropic([
    setValue(20, 30),
    ...giveUp(),
  ]);
  const resumed = await onEngine(engine, ["resume"], repo.dir, server);
  assert.deepEqual(server.violations, []);
  assertNoMountBlame(resumed, "the resumed run");
  assert.equal(resumed.code, 0, resumed.stderr);
  assert.equal(server.remaining(), 0);
  run = await readRun(repo.dir);
  assert.equal(run.state, "finished");
  const records: Rec[] = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  assert.deepEqual(records.map((r) => r.decision), [
    "baseline",
    "improved",
    "improved",
    "no_change",
  ]);
  assert.deepEqual(records.map((r) => r.avg), [10, 20, 30, null]);
  await assertBranchMatchesKept(repo, records, run.branch);
  assert.equal(
    await repo.git("show", `${run.branch}:prog.sh`),
    "cat value.txt",
  );
  await assertStatusEngine(repo.dir, engine);
  await assertNothingLeft(view, before, "after kill -9 and resume");
}

for (const kind of ["hidden", "podman", "tls"] as const) {
  engineTest(
    kind,
    "SIGINT during a trial stops with exit 130 and nothing left on the engine; kill -9 during a trial, then resume, finishes the run exactly and removes what the killed process left",
    interruptKillResume,
  );
}

// ---------------------------------------------------------------------------
// Critic mode

const PROPOSAL_A = {
  title: "Nudge the value",
  hypothesis: "A slightly larger value scores slightly higher.",
  plan: "In value.txt, change 10 to 11.",
};
const PROPOSAL_B = {
  title: "Jump the value",
  hypothesis: "The score is the value itself, so a much larger value wins.",
  plan: "In value.txt, change 10 to 50.",
};

async function criticRun(engine: TestEngine): Promise<void> {
  const view = viewOf(engine);
  const before = await snapshot(view);
  await using repo = await scoringRepo();
  const step = (role: string, ...content: Block[]): FakeStep => ({
    expect_role: role,
    content,
  });
  await using server = await startFakeAnthropic([
    step(
      "proposer-a",
      editT("a-view", { command: "view", path: "/work/value.txt" }),
      bashT("a-write", "echo 99 > /work/value.txt"),
    ),
    step("proposer-a", tool("a-submit", "submit_proposal", PROPOSAL_A)),
    step("proposer-b", bashT("b-touch", "touch /work/probe && echo made")),
    step("proposer-b", tool("b-submit", "submit_proposal", PROPOSAL_B)),
    step(
      "judge",
      tool("judge", "choose_proposal", {
        choice: "B",
        rationale: "B's gain is larger.",
      }),
    ),
    step(
      "implementer",
      editT("impl", {
        command: "str_replace",
        path: "/work/value.txt",
        old_str: "10",
        new_str: "50",
      }),
      submit(PROPOSAL_B.hypothesis, "value 50, as proposal B planned"),
    ),
  ]);
  const r = await onEngine(
    engine,
    runArgs(1, "--critic", ...MEAN),
    repo.dir,
    server,
  );
  assert.deepEqual(server.violations, []);
  assertNoMountBlame(r, "the critic run");
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(server.requests.map((q) => roleOf(q.body)), [
    "proposer-a",
    "proposer-a",
    "proposer-b",
    "proposer-b",
    "judge",
    "implementer",
  ]);
  // The proposers could look but not write.
  assert.match(toolResult(server, "a-view")?.text ?? "", /10/);
  const aWrite = toolResult(server, "a-write");
  assert.ok(aWrite?.isError, JSON.stringify(aWrite));
  assert.match(aWrite.text, REFUSED);
  const bTouch = toolResult(server, "b-touch");
  assert.ok(bTouch?.isError, JSON.stringify(bTouch));
  assert.match(bTouch.text, REFUSED);
  assert.doesNotMatch(bTouch?.text ?? "", /made/);
  const run = await readRun(repo.dir);
  const records = await readRecords(repo.dir);
  assertRecordsWellFormed(records, run.run_id);
  assert.equal(records[1]!.decision, "improved");
  assert.equal(records[1]!.avg, 50);
  assert.equal(records[1]!.critic?.choice, "B");
  await assertBranchMatchesKept(repo, records, run.branch);
  assert.doesNotMatch(
    await repo.git("ls-tree", "--name-only", run.branch),
    /probe/,
  );
  await assertNothingLeft(view, before, "after a critic run");
}

for (const kind of ["hidden", "podman", "tls"] as const) {
  engineTest(
    kind,
    "critic mode: proposers look through read-only tools, the judge chooses, the implementer's change is measured and kept; nothing is left",
    criticRun,
  );
}

// ---------------------------------------------------------------------------
// Hostile candidates

/** The repository under attack: the harness sources the program. */
const HOSTILE_FILES: Record<string, string> = {
  "value.txt": "10\n",
  "prog.sh": ": the program under optimisation, sourced by the harness\n",
  "score.sh": '. ./prog.sh\necho "score: $(cat value.txt)"\n',
  "eval/ref.txt": "reference data\n",
  "README.md": "a repository under attack\n",
};

/** prog.sh: score 1000 if `attack` works, else exit 97. */
function payload(id: string, attack: string): string {
  return [
    `# ${id}`,
    `if ${attack}; then echo "score: 1000"; exit 0; fi`,
    `echo "ATTACK BLOCKED: ${id}" >&2`,
    "exit 97",
    "",
  ].join("\n");
}

/** The model rewrites prog.sh with `code` and submits. */
function programTurn(id: string, code: string): FakeStep {
  return turn(
    editT(`prog-${id}`, {
      command: "create",
      path: "/work/prog.sh",
      file_text: code,
    }),
    submit(`${id} raises the score.`, `prog.sh: ${id}`),
  );
}

function hostileArgs(iterations: number, ...extra: string[]): string[] {
  return [
    ...scoreRunFlags({ harness: ["score.sh", "eval"] }),
    ...MEAN,
    "--max-consecutive-crashes",
    "1000",
    "--iterations",
    String(iterations),
    ...extra,
  ];
}

async function hostileRun(engine: TestEngine): Promise<void> {
  const view = viewOf(engine);
  const before = await snapshot(view);
  // Trial attacks on the harness, tool attacks, a forged score line.
  {
    await using repo = await tempRepo(HOSTILE_FILES);
    const trialAttacks: [string, string][] = [
      ["t-write", "echo 'echo score: 1000' >> score.sh"],
      ["t-delete", "rm -f score.sh"],
      ["t-chmod", "chmod 777 score.sh"],
      ["t-replace-dir", "rm -rf eval && mkdir eval"],
      [
        "t-hardlink-out",
        "ln score.sh mine.sh && echo 'echo score: 1000' > mine.sh",
      ],
    ];
    await using server = await startFakeAnthropic([
      ...trialAttacks.map(([id, code]) => programTurn(id, payload(id, code))),
      turn(bashT("b-write", "echo 'echo score: 1000' > /work/score.sh")),
      turn(submit("b-write helps.", "b-write")),
      turn(
        editT("e-write", {
          command: "create",
          path: "/work/score.sh",
          file_text: "echo score: 1000\n",
        }),
        editT("e-eval", {
          command: "create",
          path: "/work/eval/ref.txt",
          file_text: "forged\n",
        }),
      ),
      turn(submit("e-write helps.", "e-write")),
      programTurn("forged-line", 'echo "score: 1000"\n'),
    ]);
    const n = trialAttacks.length + 3;
    const r = await onEngine(engine, hostileArgs(n), repo.dir, server);
    assert.deepEqual(server.violations, []);
    assertNoMountBlame(r, "the hostile run");
    assert.equal(r.code, 0, r.stderr);
    const records = await readRecords(repo.dir);
    assert.equal(records.length, n + 1);
    const problems: string[] = [];
    for (const [i, [id]] of trialAttacks.entries()) {
      const rec = records[i + 1]!;
      const text = await report(repo.dir, i + 1);
      if (rec.decision !== "crashed") {
        problems.push(`${id}: ${rec.decision} ${rec.trial_scores}`);
      }
      if (!text.includes(`ATTACK BLOCKED: ${id}`)) {
        problems.push(`${id}: not blocked in the trial: ${text.slice(-300)}`);
      }
    }
    const tools = records.slice(trialAttacks.length + 1, n);
    for (const [k, id] of ["b-write", "e-write"].entries()) {
      const rec = tools[k]!;
      if (rec.decision !== "no_change" || rec.reason !== "empty_diff") {
        problems.push(`${id}: ${rec.decision} (${rec.reason})`);
      }
    }
    for (const id of ["b-write", "e-write", "e-eval"]) {
      const res = toolResult(server, id);
      if (!res?.isError) problems.push(`${id} succeeded: ${res?.text}`);
    }
    const forged = records[n]!;
    if (forged.decision === "improved" || forged.trial_scores[0] !== 10) {
      problems.push(
        `forged line counted: ${forged.decision} ${forged.trial_scores}`,
      );
    }
    assert.deepEqual(problems, []);
    const run = await readRun(repo.dir);
    assert.equal(
      await repo.git("show", `${run.branch}:score.sh`),
      HOSTILE_FILES["score.sh"]!.trim(),
    );
    await assertNothingLeft(view, before, "after the hostile run");
  }
  // A forged report file: swapped for a symlink after the harness wrote it,
  // or rewritten by a process that outlives the command.
  {
    await using repo = await tempRepo({
      ...HOSTILE_FILES,
      "score.sh":
        '. ./prog.sh\nmkdir -p out\necho "score: $(cat value.txt)" > out/report.txt\n',
    });
    await using server = await startFakeAnthropic([
      programTurn(
        "r-symlink-tree",
        "trap 'rm -f out/report.txt; echo \"score: 1000\" > forged.txt; ln -s ../forged.txt out/report.txt' EXIT\n",
      ),
      programTurn(
        "r-symlink-abs",
        "trap 'rm -f out/report.txt; echo \"score: 1000\" > /tmp/forged.txt; ln -s /tmp/forged.txt out/report.txt' EXIT\n",
      ),
      programTurn(
        "r-background",
        "(sleep 1; echo 'score: 1000' > out/report.txt) > /dev/null 2>&1 &\n",
      ),
    ]);
    const r = await onEngine(
      engine,
      hostileArgs(3, "--report-source", "out/report.txt"),
      repo.dir,
      server,
    );
    assert.deepEqual(server.violations, []);
    assert.equal(r.code, 0, r.stderr);
    const records = await readRecords(repo.dir);
    assert.deepEqual(
      records.map((x) => [x.decision, x.trial_scores]),
      [
        ["baseline", [10]],
        ["crashed", [null]],
        ["crashed", [null]],
        ["no_change", [10]],
      ],
    );
    for (const iter of [2, 3]) {
      assert.doesNotMatch(await report(repo.dir, iter), /score: 1000/);
    }
    await assertNothingLeft(view, before, "after the forged-report run");
  }
}

for (const kind of ["hidden", "podman"] as const) {
  engineTest(
    kind,
    "hostile candidates: trial writes, deletes, chmods, directory swaps and hard links of the harness fail; the sandbox's bash and editor cannot write it; a forged score line and a forged report (symlinked, or rewritten after the command) never count",
    hostileRun,
  );
}

// ---------------------------------------------------------------------------
// --mount: a path on the engine's host

async function mountRun(engine: TestEngine): Promise<void> {
  const view = viewOf(engine);
  const before = await snapshot(view);
  await using repo = await tempRepo({
    "README.md": "measure a mounted file\n",
  });
  const tag = crypto.randomUUID().slice(0, 8);
  // Exists only on the engine's host (for the engines that do not share
  // ratchet's filesystem, /tmp there is not ratchet's /tmp).
  const present = `/tmp/ratchet-engine-data-${tag}`;
  const made = await engine.hostShell(
    `mkdir -p ${present} && echo 'score: 42' > ${present}/value`,
  );
  assert.equal(made.code, 0, made.stderr);
  if (!engine.sharesFilesystem) {
    assert.equal(await exists(present), false, "ratchet cannot see it");
  }
  const missing = `/srv/ratchet-missing-${tag}`;
  const measure = (mount: string) =>
    onEngine(
      engine,
      [
        "measure",
        "--run-command",
        "cat /data/value",
        "--metric-name",
        "score",
        "--report-source",
        "stdout",
        "--image",
        "busybox:latest",
        "--trials",
        "2",
        "--json",
        "--mount",
        mount,
      ],
      repo.dir,
      null,
    );
  try {
    const ok = await measure(`${present}:/data:ro`);
    assert.equal(ok.code, 0, ok.stderr);
    const result = JSON.parse(ok.stdout) as { trials: { score: number }[] };
    assert.deepEqual(result.trials.map((t) => t.score), [42, 42]);
    await assertNothingLeft(view, before, "after measure with --mount");

    const bad = await measure(`${missing}:/data`);
    assert.equal(bad.code, 3, bad.stderr);
    assert.ok(bad.stderr.includes(missing), bad.stderr);
    assert.match(bad.stderr, /--mount/);
    assert.ok(
      bad.stderr.includes(endpointNeedle(engine)),
      `the error names the engine (${endpointNeedle(engine)}):\n${bad.stderr}`,
    );
    // Checked, not created (Podman creates a missing bind source by itself).
    const after = await engine.hostShell(`test -e ${missing}`);
    assert.notEqual(after.code, 0, `${missing} was created on the engine`);
    await assertNothingLeft(view, before, "after a missing --mount");
  } finally {
    await engine.hostShell(`rm -rf ${present} ${missing}`);
  }
}

for (const kind of ["hidden", "podman", "tls"] as const) {
  engineTest(
    kind,
    "--mount names a path on the engine's host: a directory only the engine sees is mounted; a missing one is an error (exit 3) naming the path, --mount and the engine, and is not created",
    mountRun,
  );
}

// ---------------------------------------------------------------------------
// TLS

engineTest(
  "tls",
  "ratchet reaches the engine through DOCKER_HOST=tcp://, DOCKER_TLS_VERIFY and DOCKER_CERT_PATH with a client certificate; a server it cannot verify, a client certificate the server does not trust, and plain tcp are refused with exit 3 naming the endpoint",
  async (engine) => {
    assert.equal(engine.kind, "tls");
    const tls = (engine as TestEngine & { tls: { clientDir: string } }).tls;
    await using repo = await tempRepo({ "README.md": "tls\n" });
    const measure = (env: Record<string, string>) =>
      ratchet(
        [
          "measure",
          "--run-command",
          "echo score: 7",
          "--metric-name",
          "score",
          "--report-source",
          "stdout",
          "--image",
          "busybox:latest",
          "--trials",
          "1",
          "--json",
        ],
        repo.dir,
        null,
        { env },
      );
    const ok = await measure(engine.env);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).trials[0].score, 7);

    // Another CA, and a client certificate it signed.
    await using other = await tempDir("ratchet-tls-other-");
    const stranger = await makeTlsFiles(other.dir, "stranger");
    /** A DOCKER_CERT_PATH made of these three files. */
    const certDir = async (
      name: string,
      ca: string,
      cert: string,
      key: string,
    ) => {
      const dir = join(other.dir, name);
      await Deno.mkdir(dir);
      await Deno.copyFile(ca, join(dir, "ca.pem"));
      await Deno.copyFile(cert, join(dir, "cert.pem"));
      await Deno.copyFile(key, join(dir, "key.pem"));
      return dir;
    };
    const ours = (f: string) => join(tls.clientDir, f);
    const theirs = (f: string) => join(stranger.clientDir, f);
    const cases: [string, Record<string, string>][] = [
      [
        // The server's certificate checked against a CA that did not sign it.
        "an unverifiable server",
        {
          ...engine.env,
          DOCKER_CERT_PATH: await certDir(
            "wrong-ca",
            theirs("ca.pem"),
            ours("cert.pem"),
            ours("key.pem"),
          ),
        },
      ],
      [
        "a client certificate the server does not trust",
        {
          ...engine.env,
          DOCKER_CERT_PATH: await certDir(
            "untrusted-client",
            ours("ca.pem"),
            theirs("cert.pem"),
            theirs("key.pem"),
          ),
        },
      ],
      ["plain tcp", { DOCKER_HOST: engine.env.DOCKER_HOST! }],
    ];
    const port = endpointNeedle(engine);
    for (const [what, env] of cases) {
      const r = await measure(env);
      assert.equal(r.code, 3, `${what}: ${r.stderr}`);
      assert.ok(r.stderr.includes(port), `${what} names ${port}: ${r.stderr}`);
    }
  },
);
