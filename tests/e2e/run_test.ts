/**
 * `ratchet run` end to end: the real CLI, the real SDK against the scripted
 * fake Anthropic server, real Docker trials (busybox) and real git. The
 * metric is deterministic (the number in value.txt), so each decision is
 * known in advance.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  bash,
  exists,
  firstUserText,
  giveUp,
  ratchet,
  readRecords,
  readRun,
  type Rec,
  removeRunContainers,
  replace,
  reportSide,
  reportsOf,
  runArgs,
  runContainers,
  scoringRepo,
  setValue,
  submit,
  turn,
} from "./_support.ts";

const CRASH_MARKER = "panic: E2E-CRASH-MARKER in prog.sh";

dockerTest(
  "ratchet run keeps improvements as commits on the run branch, reverts regressions, crashes, rejected and empty proposals, and leaves the user's checkout alone; apply squashes the kept changes",
  async () => {
    await using repo = await scoringRepo();
    // The user's state: an unstaged edit and a staged new file.
    await repo.write({ "README.md": "a repo to optimise\nwork in progress\n" });
    await repo.write({ "staged.txt": "staged\n" });
    await repo.git("add", "staged.txt");
    // Hooks that must never run, and signing that would fail.
    const hookLog = join(repo.dir, "hooks-ran.txt");
    for (
      const hook of [
        "pre-commit",
        "commit-msg",
        "post-commit",
        "post-checkout",
        "post-merge",
        "post-rewrite",
      ]
    ) {
      const path = join(repo.dir, ".git/hooks", hook);
      await Deno.writeTextFile(path, `#!/bin/sh\necho ${hook} >> ${hookLog}\n`);
      await Deno.chmod(path, 0o755);
    }
    await repo.git("config", "commit.gpgsign", "true");
    await repo.git("config", "gpg.program", "false");
    const userHead = await repo.git("rev-parse", "HEAD");
    const userStatus = await repo.git("status", "--porcelain");
    const userDiff = await repo.git("diff");
    const userCached = await repo.git("diff", "--cached");

    await using server = await startFakeAnthropic([
      // 1: improved (10 → 20)
      setValue(10, 20, "value 20"),
      // 2: regressed (20 → 15)
      setValue(20, 15, "value 15"),
      // 3: crashed: the program now exits non-zero
      turn(
        replace(
          "/work/prog.sh",
          "cat value.txt",
          `echo "${CRASH_MARKER}" >&2; exit 7`,
        ),
        submit("A faster program.", "rewrite prog.sh"),
      ),
      // 4: the harness is read-only in the sandbox; a symlink out of the tree
      turn(
        bash("echo 'echo score: 999' > /work/score.sh"),
        bash("ln -s /etc/passwd /work/leak"),
      ),
      turn(submit("Link the data in.", "add a link")),
      // 5: a new file matching the harness glob score*.sh
      turn(
        bash("echo 'echo score: 999' > /work/score2.sh"),
        submit("A second scorer.", "add score2.sh"),
      ),
      // 6: fails --check-command (value must stay ≤ 100)
      setValue(20, 500, "value 500"),
      // 7: no submit
      ...giveUp(),
      // 8: submits without changing anything
      turn(submit("Nothing to change.", "no edit")),
      // 9: improved again (20 → 30)
      setValue(20, 30, "value 30"),
    ]);

    try {
      const r = await ratchet(
        runArgs(
          9,
          "--check-command",
          'test "$(cat value.txt)" -le 100',
        ),
        repo.dir,
        server,
      );
      assert.deepEqual(server.violations, []);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(server.remaining(), 0, "every scripted turn was used");
      const run = await readRun(repo.dir);
      const runId = run.run_id;
      assert.match(runId, /^\d{8}-\d{6}-[0-9a-f]{4}$/);
      assert.equal(run.branch, `ratchet/${runId}`);
      assert.equal(run.state, "finished");
      assert.equal(run.stop_reason, "iterations");

      // What the user is told.
      assert.match(r.stderr, /uncommitted changes/);
      assert.match(r.stderr, new RegExp(`Run ${runId} finished: iterations`));
      assert.match(r.stderr, /ratchet apply/);
      assert.ok(r.stderr.includes(`git merge --squash ratchet/${runId}`));

      const records = await readRecords(repo.dir);
      assertRecordsWellFormed(records, runId);
      assert.deepEqual(records.map((x) => x.decision), [
        "baseline",
        "improved",
        "regressed",
        "crashed",
        "rejected",
        "rejected",
        "rejected",
        "no_change",
        "no_change",
        "improved",
      ]);
      assert.deepEqual(records.map((x) => x.reason), [
        null,
        null,
        null,
        "crashed_trials",
        "symlink_outside",
        "harness_added",
        "check_failed",
        "no_submit",
        "empty_diff",
        null,
      ]);
      assert.deepEqual(records.map((x) => x.kept), [
        true,
        true,
        false,
        false,
        false,
        false,
        false,
        false,
        false,
        true,
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
        30,
      ]);
      const [base, up, down, crash] = records;
      assert.equal(base!.sha, userHead, "iteration 0 records the start commit");
      assert.deepEqual(base!.trial_scores, [10, 10, 10, 10, 10]);
      assert.equal(up!.effect, 1);
      assert.deepEqual(up!.baseline_scores, [10]);
      assert.equal(up!.hypothesis, "Setting the value to 20 raises the score.");
      assert.equal(up!.description, "value 20");
      assert.ok(up!.cost_usd > 0 && up!.tokens.input > 0);
      assert.deepEqual(up!.diff_stat, {
        files: 1,
        insertions: 1,
        deletions: 1,
      });
      assert.equal(down!.sha, null);
      assert.equal(down!.effect, -0.25);
      assert.deepEqual(crash!.trial_outcomes, ["crashed"]);
      assert.deepEqual(crash!.trial_scores, [null]);
      for (const x of records.slice(4, 9)) {
        assert.deepEqual(x.trial_scores, [], `iter ${x.iter} not measured`);
        assert.equal(x.sha, null);
      }
      assert.match(records[6]!.detail, /check/);

      // Reports: measured iterations alternate incumbent, candidate; the
      // rejected and empty ones were never measured.
      assert.equal((await reportsOf(repo.dir, 0)).length, 5);
      for (const iter of [1, 2, 3, 9]) {
        const names = await reportsOf(repo.dir, iter);
        assert.deepEqual(
          await Promise.all(names.map((n) => reportSide(repo.dir, n))),
          ["incumbent", "candidate"],
          `iteration ${iter}`,
        );
      }
      for (const iter of [4, 5, 6, 7, 8]) {
        const trials = (await reportsOf(repo.dir, iter)).filter((n) =>
          !n.endsWith("trial-00.txt")
        );
        assert.deepEqual(trials, [], `iteration ${iter} has no trial reports`);
      }

      // Diffs of every candidate, kept or not.
      const patch = (iter: number) =>
        Deno.readTextFile(
          join(
            repo.dir,
            `.ratchet/diffs/iter-${String(iter).padStart(4, "0")}.patch`,
          ),
        );
      assert.match(await patch(2), /^-20$/m);
      assert.match(await patch(2), /^\+15$/m);
      assert.ok((await patch(3)).includes(CRASH_MARKER));
      assert.match(await patch(4), /leak/);
      assert.match(await patch(5), /score2\.sh/);

      // The crash output and the debugging instructions reach the next
      // proposal (request 3 opens iteration 4), and only that one.
      const afterCrash = firstUserText(server, 3);
      assert.ok(afterCrash.includes(CRASH_MARKER), afterCrash);
      assert.ok(afterCrash.includes("# The last candidate crashed"));
      assert.ok(!firstUserText(server, 5).includes(CRASH_MARKER));
      // After a revert, the reverting instructions.
      assert.ok(
        firstUserText(server, 2).includes("# The last change was not kept"),
      );
      // The scores the model is told, with their trial counts.
      assert.match(
        firstUserText(server, 0),
        /Baseline: iteration 0: mean 10\b[^\n]*, 5 trials\n/,
      );
      // The research log reaches later proposals.
      const last = firstUserText(server, 10);
      assert.match(
        last,
        /Incumbent \(the code you see\): iteration 1: mean 20\b[^\n]*, 1 trial\n/,
      );
      assert.match(last, /iter 2 \| regressed \| score 15/);
      assert.match(last, /iter 3 \| crashed/);
      assert.match(last, /iter 6 \| rejected/);
      // The stable prefix (system prompt, tools) is byte-identical across
      // iterations, and marked for caching.
      const prefix = (i: number) =>
        JSON.stringify([
          server.requests[i]!.body!.system,
          server.requests[i]!.body!.tools,
        ]);
      for (let i = 1; i < server.requests.length; i++) {
        assert.equal(prefix(i), prefix(0), `request ${i}'s prefix`);
      }
      assert.match(prefix(0), /"cache_control"/);
      // The write to the harness failed in the sandbox (owned by another uid).
      const results = (server.requests[4]!.body!.messages as {
        content: { type: string; content: unknown; is_error?: boolean }[];
      }[]).at(-1)!.content.filter((b) => b.type === "tool_result");
      assert.equal(results.length, 2);
      assert.match(
        JSON.stringify(results[0]!.content),
        /Permission denied/,
      );

      // Git: the run branch holds exactly the kept commits, by ratchet.
      await assertBranchMatchesKept(repo, records, run.branch);
      const kept = [records[1]!, records[9]!];
      for (const k of kept) {
        const who = await repo.git(
          "log",
          "-1",
          "--format=%an <%ae>|%cn <%ce>",
          k.sha!,
        );
        assert.equal(
          who,
          "ratchet <ratchet@localhost>|ratchet <ratchet@localhost>",
        );
        const message = await repo.git("log", "-1", "--format=%B", k.sha!);
        assert.ok(message.includes(k.description), message);
        assert.ok(message.includes(k.hypothesis), message);
        assert.match(message, /Decision: improved/);
        assert.match(message, /Effect: \+\d/);
        assert.ok(message.includes(`Ratchet-Run: ${runId}`), message);
      }
      assert.equal(
        await repo.git("show", `${run.branch}:value.txt`),
        "30",
      );
      assert.equal(
        await repo.git("show", `${run.branch}:prog.sh`),
        "cat value.txt",
      );

      // The user's checkout, branch and index are untouched.
      assert.equal(await repo.git("rev-parse", "HEAD"), userHead);
      assert.equal(await repo.git("branch", "--show-current"), "main");
      assert.equal(await repo.git("status", "--porcelain"), userStatus);
      assert.equal(await repo.git("diff"), userDiff);
      assert.equal(await repo.git("diff", "--cached"), userCached);
      assert.equal(
        await Deno.readTextFile(join(repo.dir, "value.txt")),
        "10\n",
      );
      assert.match(
        await Deno.readTextFile(join(repo.dir, ".git/info/exclude")),
        /^\.ratchet\/$/m,
      );
      // The worktree is gone, the branch kept; no container left.
      assert.equal(await exists(join(repo.dir, ".ratchet/worktree")), false);
      assert.equal(
        (await repo.git("worktree", "list", "--porcelain")).match(
          /^worktree /gm,
        )
          ?.length,
        1,
      );
      assert.deepEqual(await runContainers(runId), []);

      // apply: refused on a dirty tree, then one squashed commit.
      const dirty = await ratchet(["apply"], repo.dir, null);
      assert.equal(dirty.code, 3, dirty.stderr);
      assert.match(dirty.stderr, /uncommitted changes/);
      assert.equal(await repo.git("rev-parse", "HEAD"), userHead);
      // (a hard reset also drops the staged new file)
      await repo.git("reset", "-q", "--hard");
      const applied = await ratchet(["apply"], repo.dir, null);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stderr, /Applied 2 kept change\(s\)/);
      assert.equal(await repo.git("rev-parse", "HEAD~1"), userHead);
      assert.equal(await repo.git("branch", "--show-current"), "main");
      const summary = await repo.git("log", "-1", "--format=%B");
      assert.match(
        summary,
        /^ratchet: score 10 → 30 \(\+200\.0%, confirmed\) in 2 change\(s\)\n\nClaimed gain: \+200\.0% \(start commit and iter 9 measured interleaved/,
      );
      assert.match(summary, /- iter 1: value 20/);
      assert.match(summary, /- iter 9: value 30/);
      assert.ok(summary.includes(`Ratchet-Run: ${runId}`));
      assert.equal(
        await repo.git("diff", "--name-only", "HEAD~1", "HEAD"),
        "value.txt",
      );
      assert.equal(
        await Deno.readTextFile(join(repo.dir, "value.txt")),
        "30\n",
      );
      assert.equal(await repo.git("status", "--porcelain"), "");
      assert.equal(await exists(hookLog), false, "no git hook ran");
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

dockerTest(
  "ratchet run from a detached HEAD stops for threshold (also at iteration 0), patience, crashes and cost (before a call and within a proposal) with exit 0; exits 3 on a rejected or missing API key, no Docker or no image, and 5 when the baseline has no metric",
  async () => {
    await using repo = await scoringRepo();
    const mean = ["--decision", "mean", "--trials", "1"];
    const crashTurn = turn(
      replace("/work/prog.sh", "cat value.txt", "exit 9"),
      submit("Exit early.", "exit 9"),
    );
    const cases: {
      name: string;
      flags: string[];
      steps: Parameters<typeof startFakeAnthropic>[0];
      decisions: string[];
      reason: string;
      check?: (records: Rec[]) => void;
    }[] = [
      {
        name: "threshold at iteration 0",
        flags: ["--threshold", "5"],
        steps: [],
        decisions: ["baseline"],
        reason: "threshold",
      },
      {
        name: "threshold",
        flags: ["--threshold", "20"],
        steps: [setValue(10, 25)],
        decisions: ["baseline", "improved"],
        reason: "threshold",
      },
      {
        name: "patience",
        flags: ["--patience", "2"],
        steps: [setValue(10, 5), ...giveUp()],
        decisions: ["baseline", "regressed", "no_change"],
        reason: "patience",
      },
      {
        name: "crashes",
        flags: ["--max-consecutive-crashes", "2"],
        steps: [crashTurn, crashTurn],
        decisions: ["baseline", "crashed", "crashed"],
        reason: "crashes",
      },
      {
        name: "cost before the first call",
        flags: ["--max-cost-usd", "0.0001"],
        steps: [],
        decisions: ["baseline"],
        reason: "cost",
      },
      {
        // The first call of iteration 1 bills $4.80; the next could pass $5.
        name: "cost within a proposal",
        flags: ["--max-cost-usd", "5"],
        steps: [{
          content: [replace("/work/value.txt", "10", "20")],
          usage: { input_tokens: 1_600_000 },
        }],
        decisions: ["baseline", "no_change"],
        reason: "cost",
        check(records) {
          const r = records[1]!;
          assert.equal(r.reason, "no_submit");
          assert.match(r.detail, /--max-cost-usd/);
          assert.ok(r.cost_usd > 4.5 && r.cost_usd < 5, `${r.cost_usd}`);
          assert.equal(r.tokens.input, 1_600_000);
          assert.deepEqual(r.trial_scores, []);
        },
      },
    ];
    // A detached HEAD is fine, and stays detached.
    await repo.git("checkout", "-q", "--detach");
    const head = await repo.git("rev-parse", "HEAD");
    try {
      for (const c of cases) {
        await using server = await startFakeAnthropic(c.steps);
        const r = await ratchet(
          runArgs(5, ...mean, ...c.flags),
          repo.dir,
          server,
        );
        assert.deepEqual(server.violations, [], c.name);
        assert.equal(r.code, 0, `${c.name}: ${r.stderr}`);
        assert.equal(server.remaining(), 0, c.name);
        const run = await readRun(repo.dir);
        assert.equal(run.stop_reason, c.reason, c.name);
        assert.equal(run.state, "finished", c.name);
        assert.match(r.stderr, new RegExp(`finished: ${c.reason}\\.`), c.name);
        const records = await readRecords(repo.dir);
        assertRecordsWellFormed(records, run.run_id);
        assert.deepEqual(records.map((x) => x.decision), c.decisions, c.name);
        c.check?.(records);
        await assertBranchMatchesKept(repo, records, run.branch);
        assert.deepEqual(await runContainers(run.run_id), [], c.name);
        assert.equal(await exists(join(repo.dir, ".ratchet/worktree")), false);
      }
      assert.equal(await repo.git("rev-parse", "HEAD"), head);
      assert.equal(await repo.git("branch", "--show-current"), "");
      // Every earlier run was archived by the next one.
      const archived = [];
      for await (const e of Deno.readDir(join(repo.dir, ".ratchet/runs"))) {
        archived.push(e.name);
      }
      assert.equal(archived.length, cases.length - 1);

      await using rejecting = await startFakeAnthropic([{
        type: "error",
        status: 401,
        error_type: "authentication_error",
        message: "invalid x-api-key",
      }]);
      const r = await ratchet(runArgs(3, ...mean), repo.dir, rejecting);
      assert.equal(r.code, 3, r.stderr);
      assert.match(r.stderr, /API key rejected/);
      assert.match(r.stderr, /ANTHROPIC_API_KEY/);
      const run = await readRun(repo.dir);
      // The baseline is measured and kept: the run goes on once the key works.
      assert.match(
        r.stderr,
        new RegExp(`run ${run.run_id} is kept: .*ratchet resume`),
      );
      assert.equal(rejecting.requests.length, 1, "a 401 is not retried");
      assert.deepEqual(await runContainers(run.run_id), []);

      // Not ready to start: exit 3 before any API call.
      const noKey = await ratchet(runArgs(3, ...mean), repo.dir, null, {
        env: { ANTHROPIC_API_KEY: "" },
      });
      assert.equal(noKey.code, 3, noKey.stderr);
      assert.match(noKey.stderr, /ANTHROPIC_API_KEY is not set/);
      const noDocker = await ratchet(runArgs(3, ...mean), repo.dir, null, {
        env: { DOCKER_HOST: `unix://${repo.dir}/no-such.sock` },
      });
      assert.equal(noDocker.code, 3, noDocker.stderr);
      const noImage = await ratchet(
        [...runArgs(3, ...mean), "--image", "ratchet-e2e/no-such-image:0"],
        repo.dir,
        null,
      );
      assert.equal(noImage.code, 3, noImage.stderr);
      assert.match(noImage.stderr, /no-such-image/);

      // A baseline without the metric stops before any API call (exit 5).
      await using silent = await startFakeAnthropic([]);
      const noMetric = await ratchet(
        runArgs(3, ...mean, "--metric-name", "latency"),
        repo.dir,
        silent,
      );
      assert.equal(noMetric.code, 5, noMetric.stderr);
      assert.match(noMetric.stderr, /baseline could not be measured/);
      assert.equal(silent.requests.length, 0);
      // The run never started: its config, worktree and branch are gone
      // (only the baseline's trial reports stay), and so are its containers.
      const abandoned = /Starting run (\S+)/.exec(noMetric.stderr)?.[1];
      assert.ok(abandoned, noMetric.stderr);
      assert.equal(await exists(join(repo.dir, ".ratchet/config.json")), false);
      assert.equal(
        await repo.git("branch", "--list", `ratchet/${abandoned}`),
        "",
      );
      assert.deepEqual(await runContainers(abandoned), []);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
