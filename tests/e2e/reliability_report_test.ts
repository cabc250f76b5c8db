/** tools/reliability_report.ts renders what the scenarios recorded, failures included. */
import assert from "node:assert/strict";
import { render } from "../../tools/reliability_report.ts";
import type { ScenarioResult } from "../reliability/harness.ts";
import type { Summary } from "../reliability/summary.ts";

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
