/** tools/reliability_report.ts renders what the scenarios recorded, failures included. */
import assert from "node:assert/strict";
import { render } from "./reliability_report.ts";
import type { ScenarioResult } from "../tests/reliability/harness.ts";
import type { Summary } from "../tests/reliability/summary.ts";

function scenario(ok: boolean, fault: string): ScenarioResult {
  return {
    id: fault,
    group: "crash",
    title: `killed (${fault})`,
    fault: `SIGKILL at ${fault}`,
    recovery: "resume",
    steps: [{ label: "run", args: [], code: 137, seconds: 1, stderrTail: "" }],
    checks: [
      {
        name: "iter dense from 0, no duplicate",
        stage: "final",
        ok: true,
        detail: "",
      },
      {
        name: "worktree removed",
        stage: "final",
        ok,
        detail: ok ? "" : "exists true",
      },
    ],
    ok,
    seconds: 2,
    error: null,
  };
}

Deno.test("render() tallies scenarios, checks and fault points, and shows what did not hold", () => {
  const summary: Summary = {
    schema_version: 1,
    environment: { deno: "2.9.6" },
    groups: {
      crash: {
        title: "SIGKILL at each write point",
        about: "about the group",
        test: "tests/e2e/reliability_crash_test.ts",
        finished_at: "2026-01-01T00:00:00.000Z",
        seconds: 12,
        scenarios: [
          scenario(true, "loop.committed"),
          scenario(false, "run.stop-recorded:2"),
        ],
      },
    },
  };
  const page = render(summary, null);
  assert.match(page, /\*\*1 of 2 scenarios held\*\* \(4 checks\)/);
  // Checks made fewer than 7 times are tallied as scenario-specific.
  assert.match(
    page,
    /\| 2 scenario-specific checks \(see the groups\) \| 3 \/ 4 \|/,
  );
  assert.match(page, /\| `loop.committed` \| 1st \|/);
  assert.match(page, /\| `run.stop-recorded` \| :2 ❌ \|/);
  assert.match(
    page,
    /What did not hold:[\s\S]*\[final\] worktree removed: exists true/,
  );
  assert.match(page, /No load bench results yet/);
});

Deno.test("render() marks what a timed kill decides with † and counts its checks apart", () => {
  const fixed = scenario(true, "loop.committed");
  const timed = { ...scenario(true, "after 713 ms"), timed: true };
  const summary: Summary = {
    schema_version: 1,
    environment: {},
    groups: {
      random: {
        title: "kill -9 at random moments",
        about: "about",
        test: "tests/e2e/reliability_crash_test.ts",
        finished_at: "2026-01-01T00:00:00.000Z",
        seconds: 3,
        scenarios: [fixed, timed],
      },
    },
  };
  const page = render(summary, null);
  assert.match(
    page,
    /\*\*2 of 2 scenarios held\*\* \(2 checks, and 2 † in the 1 timed kills\)/,
  );
  assert.match(page, /\| resume † \| `run` → 137 † \| ✅ 2\/2 † \|/);
  assert.match(page, /\| resume \| `run` → 137 \| ✅ 2\/2 \|/);
  assert.match(page, /\| the checks of the timed kills \| 2 \/ 2 † \|/);
  assert.match(page, /^† Where a timed kill lands/m);
});

Deno.test("render() shows failure details with run-specific ids masked", () => {
  const s = scenario(false, "loop.committed");
  s.checks[1]!.detail =
    "left /tmp/ratchet-repo-c7863cc9c6729370/.ratchet/lock: PID 22623";
  const page = render({
    schema_version: 1,
    environment: {},
    groups: {
      crash: {
        title: "t",
        about: "a",
        test: "x",
        finished_at: "2026-01-01T00:00:00.000Z",
        seconds: 1,
        scenarios: [s],
      },
    },
  }, null);
  assert.match(
    page,
    /worktree removed: left \/tmp\/ratchet-repo-XXXX\/\.ratchet\/lock: PID NNNN/,
  );
});
