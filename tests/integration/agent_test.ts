/**
 * The agent end to end: runProposal and runCritic with the real Anthropic SDK
 * against the fake Messages API server, the real Workspace over an in-memory
 * sandbox (tests/_fakes/sandbox.ts) and a recording fake for bash (plus,
 * where Docker answers, real sandbox containers of a tree image).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCritic } from "../../src/agent/critic.ts";
import { costUsd, priceFor } from "../../src/agent/pricing.ts";
import {
  type AgentEvent,
  type ProposalDeps,
  runProposal,
  type SessionConfig,
} from "../../src/agent/session.ts";
import type { PromptContext } from "../../src/core/prompt.ts";
import { addTokens, emptyTokens } from "../../src/core/state.ts";
import { EnvironmentError, ExitCode } from "../../src/errors.ts";
import type { ExecResult, Sandbox } from "../../src/infra/runtime.ts";
import {
  openWorkspace,
  repoOverview,
  type Workspace,
} from "../../src/infra/workspace.ts";
import {
  type FakeAnthropic,
  fakeClient,
  type FakeStep,
  loadScript,
  roleOf,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { FakeSandbox } from "../_fakes/sandbox.ts";
import { dockerTest, testDockerSocket } from "../_helpers/docker.ts";
import { DockerRuntime } from "../../src/infra/docker/runtime.ts";
import { syncBack } from "../../src/infra/sync_back.ts";
import { TreeImages } from "../../src/trial/tree_images.ts";
import { startSandbox } from "../../src/app/run_ports.ts";
import { testConfig } from "../_helpers/config.ts";
import { resolveEngine } from "../../src/infra/engine.ts";
import { testGit } from "../_helpers/git_context.ts";

const SCORE_PY =
  "def score():\n    total = 0\n    for i in range(1000):\n        total += i\n    return total\n";
const TEST_PY =
  "from src.score import score\n\n\ndef test_score():\n    assert score() == 499500\n";
const MODEL = "claude-sonnet-4-6";
const config: SessionConfig = {
  model: MODEL,
  maxToolCalls: 60,
  bashTimeoutSeconds: 30,
};

/** A sandbox that records commands and answers from `respond`. */
function recordingSandbox(
  respond: (command: string) => Partial<ExecResult> = () => ({
    stdout: "ok\n",
  }),
): Pick<Sandbox, "exec"> & { commands: string[] } {
  const commands: string[] = [];
  return {
    commands,
    exec(command) {
      commands.push(command);
      return Promise.resolve({
        exitCode: 0,
        stdout: "",
        stderr: "",
        timedOut: false,
        truncated: false,
        ...respond(command),
      });
    },
  };
}

const FILES = {
  "src/score.py": SCORE_PY,
  "tests/test_score.py": TEST_PY,
  "out/.keep": "",
};

async function setup() {
  const repo = await tempRepo(FILES);
  const box = new FakeSandbox(FILES);
  const policy = {
    editable: [],
    harness: ["tests/**"],
    scratch: [],
    reportPath: "out/report.txt",
    configPath: "ratchet.jsonc",
  };
  const workspace = openWorkspace(box, policy, { uid: 1000, gid: 1000 });
  const overview = repoOverview(
    [
      { path: "out", kind: "dir" as const },
      { path: "out/.keep", kind: "file" as const },
      { path: "src", kind: "dir" as const },
      { path: "src/score.py", kind: "file" as const },
      { path: "tests", kind: "dir" as const },
      { path: "tests/test_score.py", kind: "file" as const },
    ],
    policy,
  );
  const context = (overrides: Partial<PromptContext> = {}): PromptContext => ({
    objective: {
      metricName: "score_time",
      direction: "min",
      runCommand: "python3 bench.py",
      reportSource: "stdout",
    },
    runInstructions: "Do not weaken any assertion.",
    repoOverview: overview,
    protection: workspace.policy,
    iteration: 1,
    iterations: 10,
    baseline: { iter: 0, mean: 1.5, ci: [1.4, 1.6], n: 5 },
    incumbent: { iter: 0, mean: 1.5, ci: [1.4, 1.6], n: 5 },
    researchLog: [{
      iter: 0,
      hypothesis: "",
      decision: "baseline",
      reason: null,
      score: 1.5,
      diff_summary: "",
    }],
    notes: [],
    crash: null,
    reverted: false,
    ...overrides,
  });
  return {
    repo,
    box,
    workspace,
    context,
    [Symbol.asyncDispose]: () => repo[Symbol.asyncDispose](),
  };
}

function deps(
  server: FakeAnthropic,
  workspace: Workspace,
  extra: Partial<ProposalDeps> = {},
): ProposalDeps & { events: AgentEvent[] } {
  const events: AgentEvent[] = [];
  return {
    model: fakeClient(server),
    workspace,
    sandbox: recordingSandbox(),
    budget: { spentUsd: 0, capUsd: 0 },
    onEvent: (e) => events.push(e),
    events,
    ...extra,
  };
}

/** The tool_result blocks the server received in request `n` (0-based). */
function toolResults(
  server: FakeAnthropic,
  n: number,
): { tool_use_id: string; content: string; is_error: boolean }[] {
  const messages = server.requests[n]!.body!.messages as {
    role: string;
    content: { type: string }[];
  }[];
  return messages.at(-1)!.content.filter((b) =>
    b.type === "tool_result"
  ) as never;
}

Deno.test("runProposal() edits, runs a check and submits through the real SDK", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic(
    await loadScript("edit_and_submit"),
  );
  const sandbox = recordingSandbox(() => ({ stdout: "499500\n" }));
  const d = deps(server, t.workspace, { sandbox });
  const outcome = await runProposal(d, {
    role: "implementer",
    context: t.context(),
    config,
  });

  assert.equal(outcome.kind, "submitted");
  assert.match(outcome.hypothesis, /builtin sum over a range/);
  assert.equal(
    outcome.description,
    "Replace the accumulation loop in score() with sum(range(1000)).",
  );
  assert.equal(outcome.toolCalls, 4);
  assert.equal(outcome.calls.length, 4);
  assert.equal(
    t.box.text("src/score.py"),
    "def score():\n    return sum(range(1000))\n",
  );
  assert.deepEqual(sandbox.commands, [
    "python3 -c 'import src.score as s; print(s.score())'",
  ]);
  assert.deepEqual(server.violations, []);
  assert.equal(server.remaining(), 0);

  // The first request is one user message; the system prompt names the role.
  const first = server.requests[0]!.body!;
  assert.equal((first.messages as unknown[]).length, 1);
  assert.equal(roleOf(first), "implementer");
  // Each tool result went back to the model, none of them errors.
  assert.match(
    toolResults(server, 1)[0]!.content,
    /^ {5}1\tdef score\(\):\n {5}2\t {4}total = 0/,
  );
  assert.equal(toolResults(server, 2)[0]!.is_error, false);
  assert.deepEqual(toolResults(server, 3)[0], {
    type: "tool_result",
    tool_use_id: "toolu_fake_3_0",
    content: "499500",
    is_error: false,
    cache_control: { type: "ephemeral" },
  });
  // Progress went to the event sink, in order.
  assert.deepEqual(
    d.events.filter((e) => e.type === "tool_call").map((e) =>
      e.type === "tool_call" && e.name
    ),
    [
      "str_replace_based_edit_tool",
      "str_replace_based_edit_tool",
      "bash",
      "submit_change",
    ],
  );
  assert.deepEqual(
    d.events.filter((e) => e.type === "tool_call").map((e) =>
      e.type === "tool_call" && e.summary
    ).slice(0, 3),
    [
      "view /work/src/score.py",
      "str_replace /work/src/score.py",
      "python3 -c 'import src.score as s; print(s.score())'",
    ],
  );
  assert.ok(d.events.some((e) => e.type === "text" && e.text.length > 0));
  assert.deepEqual(d.events.at(-1), {
    type: "proposal_end",
    role: "implementer",
    kind: "submitted",
    detail: "submit_change called",
  });
});

Deno.test("runProposal() records tokens and cost per call from the usage fields, cache tokens included", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic(
    await loadScript("edit_and_submit"),
  );
  const outcome = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  });
  const price = priceFor(MODEL);
  assert.deepEqual(outcome.calls[0], {
    role: "implementer",
    tokens: { input: 1200, output: 40, cache_write: 3000, cache_read: 0 },
    costUsd: costUsd({
      input: 1200,
      output: 40,
      cache_write: 3000,
      cache_read: 0,
    }, price),
    stopReason: "tool_use",
  });
  assert.deepEqual(outcome.tokens, {
    input: 1570,
    output: 220,
    cache_write: 3900,
    cache_read: 10_100,
  });
  assert.deepEqual(
    outcome.tokens,
    outcome.calls.reduce((sum, c) => addTokens(sum, c.tokens), emptyTokens()),
  );
  // 1570*3 + 220*15 + 3900*3.75 + 10100*0.3 per million.
  assert.ok(
    Math.abs(outcome.costUsd - 0.025665) < 1e-12,
    String(outcome.costUsd),
  );
});

Deno.test("runProposal() sends a byte-identical cached prefix in two iterations", async () => {
  await using t = await setup();
  const submit: FakeStep = {
    content: [{
      type: "tool_use",
      name: "submit_change",
      input: { hypothesis: "h", description: "d" },
    }],
  };
  await using server = await startFakeAnthropic([submit, submit]);
  await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  });
  await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context({
      iteration: 2,
      incumbent: { iter: 1, mean: 1.2, ci: [1.1, 1.3], n: 5 },
      researchLog: [
        {
          iter: 0,
          hypothesis: "",
          decision: "baseline",
          reason: null,
          score: 1.5,
          diff_summary: "",
        },
        {
          iter: 1,
          hypothesis: "h",
          decision: "improved",
          reason: null,
          score: 1.2,
          diff_summary: "src/score.py +1 -4",
        },
      ],
      notes: ["try the closed form"],
      reverted: true,
    }),
    config,
  });
  const [one, two] = server.requests.map((r) => r.raw);
  const prefix = (raw: string) => raw.slice(0, raw.indexOf('"messages":'));
  assert.ok(
    prefix(one!).includes('"system":') && prefix(one!).includes('"tools":'),
  );
  assert.equal(prefix(one!), prefix(two!));
  assert.notEqual(one, two, "the iteration's state follows the prefix");
  // The breakpoints: the system block and the last tool.
  const body = server.requests[0]!.body!;
  assert.deepEqual(
    (body.system as { cache_control?: unknown }[])[0]!.cache_control,
    { type: "ephemeral" },
  );
  const tools = body.tools as { name: string; cache_control?: unknown }[];
  assert.deepEqual(tools.map((x) => x.name), [
    "str_replace_based_edit_tool",
    "bash",
    "submit_change",
  ]);
  assert.deepEqual(tools.map((x) => x.cache_control), [undefined, undefined, {
    type: "ephemeral",
  }]);
  assert.match(
    JSON.stringify(server.requests[1]!.body!.messages),
    /try the closed form/,
  );
  assert.match(
    JSON.stringify(server.requests[1]!.body!.messages),
    /The last change was not kept/,
  );
});

Deno.test("runProposal() refuses every forbidden move at the tool layer and carries on", async () => {
  await using t = await setup();
  // Made in the sandbox as a bash call would: a link to a file outside /work.
  t.box.put("/", [
    { path: "outside", kind: "dir", mode: 0o755, uid: 0, gid: 0 },
    {
      path: "outside/secret.txt",
      kind: "file",
      mode: 0o644,
      uid: 0,
      gid: 0,
      data: new TextEncoder().encode("secret\n"),
    },
  ]);
  t.box.set("src/escape", { symlink: "/outside/secret.txt" });
  await using server = await startFakeAnthropic(
    await loadScript("forbidden_moves"),
  );
  const outcome = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  });

  const results = toolResults(server, 1);
  assert.equal(results.length, 9);
  assert.ok(results.every((r) => r.is_error), JSON.stringify(results, null, 2));
  const messages = results.map((r) => r.content);
  assert.match(
    messages[0]!,
    /tests\/test_score\.py is part of the evaluation harness/,
  );
  assert.match(
    messages[1]!,
    /tests\/conftest\.py is part of the evaluation harness/,
  );
  assert.match(
    messages[2]!,
    /resolves outside \/work \(through the symlink \/work\/src\/escape ->/,
  );
  assert.match(messages[3]!, /resolves outside \/work/);
  assert.match(messages[4]!, /climbs out of \/work/);
  assert.match(messages[5]!, /\/etc\/passwd is outside \/work/);
  assert.match(messages[6]!, /inside \.git/);
  assert.match(messages[7]!, /inside \.ratchet/);
  assert.match(messages[8]!, /out\/report\.txt is the report file/);

  assert.equal(
    new TextDecoder().decode(
      (t.box.nodes.get("/outside/secret.txt") as { data: Uint8Array }).data,
    ),
    "secret\n",
  );
  assert.equal(
    t.box.text("tests/test_score.py"),
    TEST_PY,
  );
  // Nothing but the link the test made changed in the working copy.
  assert.deepEqual(
    (await t.box.changes()).filter((c) => c.path.startsWith("/work/"))
      .map((c) => c.path),
    ["/work/src", "/work/src/escape"],
  );
  // The model gave up; after one reminder the proposal ends without a submission.
  assert.equal(outcome.kind, "no_submit");
  assert.equal(outcome.toolCalls, 9);
  assert.match(
    JSON.stringify(server.requests[2]!.body!.messages),
    /without calling submit_change/,
  );
});

Deno.test("runProposal() ends as no_submit when the model stops without submitting", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic([
    {
      content: [{ type: "text", text: "I think the code is already optimal." }],
    },
    { content: [{ type: "text", text: "Nothing to change." }] },
  ]);
  const outcome = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  });
  assert.equal(outcome.kind, "no_submit");
  assert.equal(outcome.hypothesis, "");
  assert.equal(outcome.submission, null);
  assert.equal(outcome.detail, "ended without calling submit_change");
  assert.equal(outcome.calls.length, 2);
  assert.deepEqual(server.violations, []);
});

Deno.test("runProposal() stops at --max-tool-calls with tool_cap, but lets a submit through", async () => {
  await using t = await setup();
  const view: FakeStep = {
    content: [{
      type: "tool_use",
      name: "str_replace_based_edit_tool",
      input: { command: "view", path: "/work" },
    }],
  };
  await using server = await startFakeAnthropic([view, view, view]);
  const outcome = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config: { ...config, maxToolCalls: 2 },
  });
  assert.equal(outcome.kind, "tool_cap");
  assert.equal(outcome.toolCalls, 2);
  assert.equal(server.requests.length, 3);
  assert.match(outcome.detail, /reached 2 tool calls \(--max-tool-calls\)/);

  await using server2 = await startFakeAnthropic([
    view,
    {
      content: [{
        type: "tool_use",
        name: "submit_change",
        input: { hypothesis: "h", description: "d" },
      }],
    },
  ]);
  const submitted = await runProposal(deps(server2, t.workspace), {
    role: "implementer",
    context: t.context(),
    config: { ...config, maxToolCalls: 1 },
  });
  assert.equal(submitted.kind, "submitted");
});

Deno.test("runProposal() stops before a call that could exceed --max-cost-usd", async () => {
  await using t = await setup();
  // Nothing left for even one call: no request is made at all.
  await using idle = await startFakeAnthropic([]);
  const none = await runProposal(
    deps(idle, t.workspace, { budget: { spentUsd: 9.9, capUsd: 10 } }),
    {
      role: "implementer",
      context: t.context(),
      config,
    },
  );
  assert.equal(none.kind, "cost_cap");
  assert.equal(idle.requests.length, 0);
  assert.match(
    none.detail,
    /\$9\.9000 of the \$10 budget \(--max-cost-usd\) is spent/,
  );

  // One expensive call (20,000 output tokens = $0.30) leaves too little for the next one.
  await using server = await startFakeAnthropic([
    {
      content: [{
        type: "tool_use",
        name: "str_replace_based_edit_tool",
        input: { command: "view", path: "/work" },
      }],
      usage: { input_tokens: 1000, output_tokens: 20_000 },
    },
  ]);
  const d = deps(server, t.workspace, { budget: { spentUsd: 0.5, capUsd: 1 } });
  const outcome = await runProposal(d, {
    role: "implementer",
    context: t.context(),
    config,
  });
  assert.equal(outcome.kind, "cost_cap");
  assert.equal(server.requests.length, 1);
  assert.ok(Math.abs(outcome.costUsd - 0.303) < 1e-9);
  const starts = d.events.filter((e) => e.type === "call_start");
  assert.equal(starts.length, 1);
  assert.ok(
    starts[0]!.type === "call_start" && 0.5 + starts[0]!.worstCaseUsd <= 1,
  );
});

Deno.test("runProposal() answers a tool call cut off at max_tokens with an error and goes on", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic([
    {
      content: [{
        type: "tool_use",
        name: "str_replace_based_edit_tool",
        partial_json: '{"command": "create", "path": "/work/big.py", "file_te',
      }],
      stop_reason: "max_tokens",
    },
    {
      content: [{
        type: "tool_use",
        name: "submit_change",
        input: { hypothesis: "h", description: "d" },
      }],
    },
  ]);
  const outcome = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  });
  assert.equal(outcome.kind, "submitted");
  const [result] = toolResults(server, 1);
  assert.equal(result!.is_error, true);
  assert.match(result!.content, /cut off at the output limit/);
  assert.equal(t.box.text("big.py"), null);
});

Deno.test("runProposal() rides out 429 and 529 and reports the retries", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic([
    {
      type: "error",
      status: 429,
      error_type: "rate_limit_error",
      headers: { "retry-after-ms": "1" },
    },
    {
      type: "error",
      status: 529,
      error_type: "overloaded_error",
      headers: { "retry-after-ms": "1" },
    },
    {
      content: [{
        type: "tool_use",
        name: "submit_change",
        input: { hypothesis: "h", description: "d" },
      }],
    },
  ]);
  const d = deps(server, t.workspace, {
    model: fakeClient(server, { maxRetries: 2 }),
  });
  const outcome = await runProposal(d, {
    role: "implementer",
    context: t.context(),
    config,
  });
  assert.equal(outcome.kind, "submitted");
  assert.deepEqual(
    d.events.filter((e) => e.type === "retry").map((e) =>
      e.type === "retry" && e.reason
    ),
    ["HTTP 429", "HTTP 529"],
  );
});

Deno.test("runProposal() lets a rejected API key stop the run with exit 3", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic([
    {
      type: "error",
      status: 401,
      error_type: "authentication_error",
      message: "invalid x-api-key",
    },
  ]);
  const error = await runProposal(deps(server, t.workspace), {
    role: "implementer",
    context: t.context(),
    config,
  })
    .catch((e) => e);
  assert.ok(error instanceof EnvironmentError);
  assert.equal(error.exitCode, ExitCode.environment);
});

Deno.test("runCritic() runs proposer A, proposer B, the judge and the implementer in order", async () => {
  await using t = await setup();
  await using server = await startFakeAnthropic(await loadScript("critic"));
  const readOnly = recordingSandbox(() => ({
    exitCode: 1,
    stderr: "touch: /work/src/probe: Read-only file system\n",
  }));
  const readWrite = recordingSandbox();
  const d = deps(server, t.workspace, { sandbox: readWrite });
  const outcome = await runCritic({ ...d, readOnlySandbox: readOnly }, {
    context: t.context(),
    config,
  });

  assert.deepEqual(server.violations, []);
  assert.deepEqual(server.requests.map((r) => roleOf(r.body)), [
    "proposer-a",
    "proposer-a",
    "proposer-b",
    "proposer-b",
    "judge",
    "implementer",
    "implementer",
  ]);
  // Every conversation starts with a single user message.
  for (const n of [0, 2, 4, 5]) {
    assert.equal((server.requests[n]!.body!.messages as unknown[]).length, 1);
  }
  // Proposers have read-only tools: the editor refused the create, bash ran in the read-only sandbox.
  const [viewResult, createResult] = toolResults(server, 1);
  assert.equal(viewResult!.is_error, false);
  assert.equal(createResult!.is_error, true);
  assert.match(createResult!.content, /read-only \(view only\)/);
  assert.deepEqual(readOnly.commands, ["touch /work/src/probe && echo ok"]);
  assert.deepEqual(readWrite.commands, []);
  assert.equal(toolResults(server, 3)[0]!.is_error, true);
  // The judge saw both plans; the implementer got the chosen one.
  const judgeMessage = JSON.stringify(server.requests[4]!.body!.messages);
  assert.match(judgeMessage, /Proposal A: Hoist the range/);
  assert.match(judgeMessage, /Proposal B: Closed form/);
  assert.deepEqual(
    (server.requests[4]!.body!.tools as { name: string }[]).map((x) => x.name),
    [
      "str_replace_based_edit_tool",
      "choose_proposal",
    ],
  );
  assert.match(
    JSON.stringify(server.requests[5]!.body!.messages),
    /The judge chose proposal B/,
  );

  assert.equal(outcome.kind, "submitted");
  assert.deepEqual(outcome.critic, {
    proposals: [
      {
        title: "Hoist the range",
        hypothesis: "Slightly less loop overhead.",
        plan: "In src/score.py, bind range(1000) to a local before the loop.",
      },
      {
        title: "Closed form",
        hypothesis: "The loop computes n(n-1)/2; a formula is O(1).",
        plan:
          "In src/score.py, replace the loop in score() with 1000 * 999 // 2.",
      },
    ],
    choice: "B",
    rationale: "B removes the loop entirely; A's gain is within noise.",
  });
  assert.equal(outcome.hypothesis, "The closed form removes the O(n) loop.");
  assert.equal(
    t.box.text("src/score.py"),
    "def score():\n    return 1000 * 999 // 2\n",
  );
  assert.deepEqual(outcome.phases.map((p) => p.role), [
    "proposer-a",
    "proposer-b",
    "judge",
    "implementer",
  ]);
  assert.deepEqual(
    outcome.calls.map((c) => c.role),
    server.requests.map((r) => roleOf(r.body)),
  );
  assert.deepEqual(
    outcome.tokens,
    outcome.phases.reduce((sum, p) => addTokens(sum, p.tokens), emptyTokens()),
  );
  assert.equal(outcome.tokens.input, 500 + 6 * 100);
  assert.equal(outcome.toolCalls, 8);
});

Deno.test("runCritic() takes the only plan when one proposer submits nothing", async () => {
  await using t = await setup();
  const text: FakeStep = { content: [{ type: "text", text: "No idea." }] };
  await using server = await startFakeAnthropic([
    text,
    text,
    {
      expect_role: "proposer-b",
      content: [{
        type: "tool_use",
        name: "submit_proposal",
        input: { title: "T", hypothesis: "H", plan: "P" },
      }],
    },
    {
      expect_role: "implementer",
      content: [{
        type: "tool_use",
        name: "submit_change",
        input: { hypothesis: "h", description: "d" },
      }],
    },
  ]);
  const d = deps(server, t.workspace);
  const outcome = await runCritic(
    { ...d, readOnlySandbox: recordingSandbox() },
    { context: t.context(), config },
  );
  assert.deepEqual(server.violations, []);
  assert.equal(outcome.kind, "submitted");
  assert.equal(outcome.critic?.choice, "B");
  assert.deepEqual(outcome.critic?.proposals[0], {
    title: "(no proposal)",
    hypothesis: "",
    plan: "",
  });
  assert.match(outcome.critic!.rationale, /Proposer A submitted no plan/);
});

dockerTest(
  "runProposal() in real sandbox containers of the incumbent's tree image: read-write for the implementer, read-only for proposers, brought back into the worktree",
  async () => {
    const id = crypto.randomUUID();
    const runtime = new DockerRuntime(
      resolveEngine({ DOCKER_HOST: `unix://${testDockerSocket()}` }),
    );
    await using t = await setup();
    const policy = t.workspace.policy;
    const trialUser = { uid: 1000, gid: 1000 };
    const labels = { "ratchet.test": id };
    const images = new TreeImages({
      runtime,
      git: testGit,
      runId: `agent-${id.slice(0, 8)}`,
      baseImage: "busybox:latest",
      snapshotDir: null,
      policy: { ...policy, configPath: null },
      trialUser,
      labels,
    });
    const settings = {
      runtime,
      images,
      spec: {
        runId: `agent-${id.slice(0, 8)}`,
        config: testConfig({ cpus: 1, memory: 256 * 1024 * 1024 }),
        user: "1000:1000",
        env: () => undefined,
        extraMounts: [],
        labels,
      },
      root: t.repo.dir,
      worktree: t.repo.dir,
      policy,
      trialUser,
      preparedRoots: [],
      maxFileBytes: 1024 * 1024,
    };
    const tree = await t.repo.git("rev-parse", "HEAD^{tree}");
    try {
      await using readWrite = await startSandbox(settings, {
        iter: 1,
        tree,
        readOnly: false,
      });
      await using readOnly = await startSandbox(settings, {
        iter: 1,
        tree,
        readOnly: true,
      });
      const workspace = openWorkspace(readWrite, policy, trialUser);
      await using server = await startFakeAnthropic([
        {
          expect_role: "proposer-a",
          content: [
            {
              type: "tool_use",
              name: "bash",
              input: { command: "head -1 /work/src/score.py" },
            },
            {
              type: "tool_use",
              name: "bash",
              input: { command: "touch /work/src/probe" },
            },
          ],
        },
        {
          expect_role: "proposer-a",
          content: [{
            type: "tool_use",
            name: "submit_proposal",
            input: { title: "T", hypothesis: "H", plan: "P" },
          }],
        },
        {
          expect_role: "implementer",
          content: [
            // A symlink out of the tree, made in the sandbox, then used through the editor.
            {
              type: "tool_use",
              name: "bash",
              input: {
                command:
                  "ln -s /etc/passwd /work/src/pw && echo 'x = 1' > /work/src/made.py",
              },
            },
            {
              type: "tool_use",
              name: "str_replace_based_edit_tool",
              input: { command: "view", path: "/work/src/pw" },
            },
            {
              type: "tool_use",
              name: "str_replace_based_edit_tool",
              input: {
                command: "create",
                path: "/work/src/pw",
                file_text: "pwned\n",
              },
            },
            {
              type: "tool_use",
              name: "bash",
              input: { command: "sleep 30", restart: false },
            },
          ],
        },
        {
          expect_role: "implementer",
          content: [{
            type: "tool_use",
            name: "submit_change",
            input: { hypothesis: "h", description: "d" },
          }],
        },
      ]);
      const proposer = await runProposal(
        deps(server, workspace, { sandbox: readOnly }),
        {
          role: "proposer-a",
          context: t.context(),
          config,
        },
      );
      assert.equal(proposer.kind, "submitted");
      const [head, touch] = toolResults(server, 1);
      assert.deepEqual([head!.is_error, head!.content], [
        false,
        "def score():",
      ]);
      assert.equal(touch!.is_error, true);
      assert.match(touch!.content, /Read-only file system/);

      const implementer = await runProposal(
        deps(server, workspace, { sandbox: readWrite }),
        {
          role: "implementer",
          context: t.context(),
          config: { ...config, bashTimeoutSeconds: 1 },
        },
      );
      assert.equal(implementer.kind, "submitted");
      const [ln, view, create, sleep] = toolResults(server, 3);
      assert.equal(ln!.is_error, false, ln!.content);
      assert.equal(view!.is_error, true);
      assert.match(
        view!.content,
        /resolves outside \/work \(through the symlink \/work\/src\/pw -> \/etc\/passwd\)/,
      );
      assert.equal(create!.is_error, true);
      assert.doesNotMatch(await Deno.readTextFile("/etc/passwd"), /pwned/);
      assert.equal(sleep!.is_error, true);
      assert.match(
        sleep!.content,
        /timed out after 1 s \(--bash-timeout-seconds\)/,
      );
      assert.deepEqual(server.violations, []);
      // The working copy comes back into the worktree: the new file as a
      // file, the link as a link (never followed on the host).
      const synced = await syncBack(readWrite, t.repo.dir, {
        preparedRoots: [],
        maxFileBytes: 1024 * 1024,
      });
      assert.deepEqual(synced.oversized, []);
      assert.equal(
        await Deno.readTextFile(join(t.repo.dir, "src/made.py")),
        "x = 1\n",
      );
      assert.equal(
        await Deno.readLink(join(t.repo.dir, "src/pw")),
        "/etc/passwd",
      );
      assert.equal(
        await t.repo.git("status", "--porcelain"),
        "?? src/made.py\n?? src/pw",
      );
    } finally {
      await runtime.removeContainers({ "ratchet.test": id });
      await images.removeAll();
      await runtime.removeImages({ "ratchet.test": id });
    }
  },
);
