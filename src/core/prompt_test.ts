import assert from "node:assert/strict";
import {
  type PromptContext,
  type PromptTemplates,
  renderSystemPrompt,
  renderUserMessage,
  RESEARCH_LOG_LIMIT,
} from "./prompt.ts";

const templates: PromptTemplates = {
  integrity: "INTEGRITY RULES",
  criticMode: "CRITIC MODE",
  debugging: "DEBUGGING HELP",
  reverting: "REVERTING HELP",
  roles: {
    implementer: "IMPLEMENTER",
    "proposer-a": "PROPOSER A",
    "proposer-b": "PROPOSER B",
    judge: "JUDGE",
  },
};

function context(overrides: Partial<PromptContext> = {}): PromptContext {
  return {
    objective: {
      metricName: "wall_time",
      direction: "min",
      runCommand: "pytest -q",
      reportSource: "stdout",
    },
    runInstructions: "Performance only.",
    repoOverview: "/work/src/\n/work/src/a.py",
    protection: {
      editable: [],
      harness: ["tests/**"],
      scratch: [],
      reportPath: null,
      configPath: null,
    },
    iteration: 3,
    iterations: 20,
    baseline: { iter: 0, mean: 2.5, ci: [2.4, 2.6], n: 5 },
    incumbent: { iter: 2, mean: 2.0001234, ci: null, n: 3 },
    researchLog: [
      {
        iter: 0,
        hypothesis: "",
        decision: "baseline",
        reason: null,
        score: 2.5,
        diff_summary: "",
      },
      {
        iter: 1,
        hypothesis: "memoize f",
        decision: "no_change",
        reason: "within_noise",
        score: 2.49,
        diff_summary: "src/a.py +2 -0",
      },
      {
        iter: 2,
        hypothesis: "vectorize\nthe loop",
        decision: "improved",
        reason: null,
        score: 2.0,
        diff_summary: "src/a.py +5 -9",
      },
    ],
    notes: [],
    crash: null,
    reverted: false,
    ...overrides,
  };
}

Deno.test("renderSystemPrompt() starts with the role line and holds the stable instructions", () => {
  const system = renderSystemPrompt("implementer", context(), templates);
  assert.ok(
    system.startsWith(
      "ratchet-role: implementer\n\nIMPLEMENTER\n\nINTEGRITY RULES\n",
    ),
  );
  assert.match(system, /# Run-specific rules\n\nPerformance only\./);
  assert.match(system, /Metric: `wall_time`, lower is better \(min\)/);
  assert.match(system, /Command: `pytest -q`/);
  assert.match(system, /Harness \(read-only\): `tests\/\*\*`/);
  assert.match(
    system,
    /ratchet's configuration \(`ratchet\.jsonc`\) is read-only\./,
  );
  assert.match(
    system,
    /# Repository overview\n\n\/work\/src\/\n\/work\/src\/a\.py/,
  );
  assert.doesNotMatch(system, /CRITIC MODE/);
  const judge = renderSystemPrompt("judge", context(), templates);
  assert.ok(
    judge.startsWith(
      "ratchet-role: judge\n\nJUDGE\n\nCRITIC MODE\n\nINTEGRITY RULES",
    ),
  );
});

Deno.test("renderSystemPrompt() does not change with the iteration's state", () => {
  const later = context({
    iteration: 9,
    incumbent: { iter: 8, mean: 1, ci: [0.9, 1.1], n: 4 },
    notes: ["try numpy"],
    crash: { iter: 8, output: "Traceback" },
    researchLog: [],
  });
  for (
    const role of ["implementer", "proposer-a", "proposer-b", "judge"] as const
  ) {
    assert.equal(
      renderSystemPrompt(role, later, templates),
      renderSystemPrompt(role, context(), templates),
    );
  }
});

Deno.test("renderUserMessage() gives scores, the research log and the task", () => {
  const message = renderUserMessage("implementer", context(), templates);
  assert.ok(message.startsWith("# Iteration 3 of 20\n\n## Scores\n\n"));
  assert.match(
    message,
    /- Baseline: iteration 0: mean 2\.5, interval \[2\.4, 2\.6\], 5 trials/,
  );
  assert.match(
    message,
    /- Incumbent \(the code you see\): iteration 2: mean 2\.00012, 3 trials/,
  );
  assert.match(message, /- iter 0 \| baseline \| score 2\.5 \| baseline\n/);
  assert.match(
    message,
    /- iter 1 \| no_change \(within_noise\) \| score 2\.49 \| memoize f \| diff: src\/a\.py \+2 -0/,
  );
  assert.match(
    message,
    /- iter 2 \| improved \| score 2 \| vectorize the loop \| diff: src\/a\.py \+5 -9/,
  );
  assert.match(
    message,
    /## Your task\n\nMake one change .* call `submit_change`\.\n$/,
  );
  assert.doesNotMatch(message, /DEBUGGING|REVERTING|Notes from the user/);
});

Deno.test("renderUserMessage() adds notes, and after a crash the output tail with debugging.md", () => {
  const output = `${"x".repeat(10_000)}Traceback: boom`;
  const message = renderUserMessage(
    "implementer",
    context({
      notes: ["try numpy", "keep it simple"],
      crash: { iter: 2, output },
      reverted: true,
    }),
    templates,
  );
  assert.match(
    message,
    /## Notes from the user \(`ratchet instruct`\)\n\n- try numpy\n- keep it simple/,
  );
  assert.match(
    message,
    /DEBUGGING HELP\n\nTail of the crashed trial's output \(iteration 2\):\n\n```\n…x+Traceback: boom\n```/,
  );
  assert.ok(message.length < 8000, "only the tail of the output is shown");
  assert.doesNotMatch(
    message,
    /REVERTING/,
    "a crash already says the change was reverted",
  );
});

Deno.test("renderUserMessage() adds reverting.md after a revert", () => {
  assert.match(
    renderUserMessage("implementer", context({ reverted: true }), templates),
    /REVERTING HELP/,
  );
});

Deno.test("renderUserMessage() keeps only the latest research log entries", () => {
  const researchLog = Array.from(
    { length: RESEARCH_LOG_LIMIT + 5 },
    (_, iter) => ({
      iter,
      hypothesis: `idea ${iter}`,
      decision: "regressed" as const,
      reason: null,
      score: iter,
      diff_summary: "",
    }),
  );
  const message = renderUserMessage(
    "implementer",
    context({ researchLog }),
    templates,
  );
  assert.match(message, /\(5 earlier iterations omitted\)/);
  assert.doesNotMatch(message, /idea 4 /);
  assert.match(message, /idea 44/);
});

Deno.test("renderUserMessage() shows the judge both proposals and the implementer the chosen plan", () => {
  const a = {
    title: "Cache",
    hypothesis: "less work",
    plan: "memoize parse()",
  };
  const b = {
    title: "Rewrite",
    hypothesis: "better algorithm",
    plan: "use a heap in queue.py",
  };
  const judge = renderUserMessage("judge", context(), templates, {
    proposals: [a, b],
  });
  assert.match(
    judge,
    /## Proposal A: Cache\n\nHypothesis: less work\n\nPlan:\nmemoize parse\(\)/,
  );
  assert.match(judge, /## Proposal B: Rewrite/);
  assert.match(judge, /Call `choose_proposal`/);
  const implementer = renderUserMessage("implementer", context(), templates, {
    chosen: { choice: "B", proposal: b, rationale: "bigger win" },
  });
  assert.match(implementer, /The judge chose proposal B\. Carry out this plan/);
  assert.match(
    implementer,
    /## Proposal B: Rewrite[\s\S]*## Why the judge chose it\n\nbigger win/,
  );
  assert.match(
    renderUserMessage("proposer-a", context(), templates),
    /call `submit_proposal`/,
  );
  assert.throws(
    () => renderUserMessage("judge", context(), templates),
    /needs both proposals/,
  );
});

Deno.test("renderSystemPrompt() names the guards in the objective, with their tolerance", () => {
  const c = context();
  c.objective = {
    ...c.objective,
    guards: [
      { name: "accuracy", direction: "max", tolerance: 0.01 },
      { name: "peak_mb", direction: "min", tolerance: 0.05 },
    ],
  };
  const system = renderSystemPrompt("implementer", c, templates);
  assert.match(
    system,
    /- Guards: these numbers from the same report must not get worse/,
  );
  assert.match(
    system,
    /`accuracy`: higher is better; at most 1% worse than the incumbent\./,
  );
  assert.match(
    system,
    /`peak_mb`: lower is better; at most 5% worse than the incumbent\./,
  );
  // Without guards the objective says nothing about them.
  assert.doesNotMatch(
    renderSystemPrompt("implementer", context(), templates),
    /Guards/,
  );
});

Deno.test("renderUserMessage() says in the research log which guard stopped a change", () => {
  const c = context();
  c.researchLog = [...c.researchLog, {
    iter: 3,
    hypothesis: "skip every other sample",
    decision: "regressed",
    reason: "guard_regressed",
    score: 1.0,
    diff_summary: "src/a.py +1 -1",
    guard: "guard accuracy −10.0% (tolerance 2.0%): worse",
  }];
  const text = renderUserMessage("implementer", c, templates);
  assert.match(
    text,
    /- iter 3 \| regressed \(guard_regressed\) \| guard accuracy −10\.0% \(tolerance 2\.0%\): worse \| score 1 \| skip every other sample/,
  );
});
