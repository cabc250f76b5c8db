import assert from "node:assert/strict";
import type { Workspace } from "../../infra/workspace.ts";
import { runTool, type ToolContext, toolsFor } from "./mod.ts";

const context: ToolContext = {
  workspace: {} as Workspace,
  sandbox: { exec: () => Promise.reject(new Error("unused")) },
  bashTimeoutSeconds: 1,
  readOnly: false,
};

Deno.test("toolsFor() gives each role its tools, ending with its submit tool", () => {
  const names = (role: Parameters<typeof toolsFor>[0]) =>
    toolsFor(role).map((t) => t.definition.name);
  assert.deepEqual(names("implementer"), [
    "str_replace_based_edit_tool",
    "bash",
    "submit_change",
  ]);
  assert.deepEqual(names("proposer-a"), [
    "str_replace_based_edit_tool",
    "bash",
    "submit_proposal",
  ]);
  assert.deepEqual(names("proposer-b"), [
    "str_replace_based_edit_tool",
    "bash",
    "submit_proposal",
  ]);
  assert.deepEqual(names("judge"), [
    "str_replace_based_edit_tool",
    "choose_proposal",
  ]);
  const [editor, bash] = toolsFor("implementer");
  assert.deepEqual(editor!.definition, {
    type: "text_editor_20250728",
    name: "str_replace_based_edit_tool",
  });
  assert.deepEqual(bash!.definition, { type: "bash_20250124", name: "bash" });
});

Deno.test("submit_change hands over the hypothesis and description", async () => {
  const outcome = await runTool(toolsFor("implementer"), "submit_change", {
    hypothesis: " caching the parse halves the time ",
    description: "Cache parsed config.",
  }, context);
  assert.deepEqual(outcome.submission, {
    tool: "submit_change",
    hypothesis: "caching the parse halves the time",
    description: "Cache parsed config.",
  });
  assert.equal(outcome.isError, false);
});

Deno.test("submit_change refuses empty or missing fields", async () => {
  const empty = await runTool(toolsFor("implementer"), "submit_change", {
    hypothesis: " ",
    description: "x",
  }, context);
  assert.deepEqual(empty, {
    content: 'Parameter "hypothesis" must not be empty.',
    isError: true,
  });
  const missing = await runTool(toolsFor("implementer"), "submit_change", {
    hypothesis: "h",
  }, context);
  assert.deepEqual(missing, {
    content: 'Missing or non-string parameter "description".',
    isError: true,
  });
});

Deno.test("submit_proposal hands over title, hypothesis and plan", async () => {
  const outcome = await runTool(toolsFor("proposer-b"), "submit_proposal", {
    title: "Use a heap",
    hypothesis: "O(n log n) instead of O(n^2)",
    plan: "Replace the sorted insert in queue.py",
  }, context);
  assert.deepEqual(outcome.submission, {
    tool: "submit_proposal",
    proposal: {
      title: "Use a heap",
      hypothesis: "O(n log n) instead of O(n^2)",
      plan: "Replace the sorted insert in queue.py",
    },
  });
});

Deno.test("choose_proposal accepts A or B only", async () => {
  const chosen = await runTool(toolsFor("judge"), "choose_proposal", {
    choice: "b",
    rationale: "bigger win",
  }, context);
  assert.deepEqual(chosen.submission, {
    tool: "choose_proposal",
    choice: "B",
    rationale: "bigger win",
  });
  const bad = await runTool(toolsFor("judge"), "choose_proposal", {
    choice: "C",
    rationale: "x",
  }, context);
  assert.deepEqual(bad, {
    content: 'choice must be "A" or "B", not "C".',
    isError: true,
  });
});

Deno.test("runTool() answers an unknown or unavailable tool with an error result", async () => {
  const outcome = await runTool(
    toolsFor("judge"),
    "bash",
    { command: "ls" },
    context,
  );
  assert.deepEqual(outcome, {
    content:
      'Unknown tool "bash". Available: str_replace_based_edit_tool, choose_proposal.',
    isError: true,
  });
});
