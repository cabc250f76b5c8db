/**
 * The model's tools: their definitions as sent to the API, what each does,
 * and which roles get which.
 *
 * A tool never throws at the model: a failure (missing file, not unique,
 * protected path, timeout, bad input) becomes a result with `isError: true`
 * and a message saying what to do, and the conversation goes on. Only a
 * RatchetError (the sandbox's engine died, say) escapes, because then the run
 * itself must stop.
 */
import { WorkspaceError } from "../../infra/workspace.ts";
import type { AgentRole } from "../../core/prompt.ts";
import { RatchetError } from "../../errors.ts";
import {
  type AgentTool,
  fail,
  type ToolContext,
  ToolInputError,
  type ToolOutcome,
} from "./_common.ts";
import { editorTool } from "./str_replace_based_edit_tool.ts";
import { bashTool } from "./bash.ts";
import { submitChangeTool } from "./submit_change.ts";
import { submitProposalTool } from "./submit_proposal.ts";
import { chooseProposalTool } from "./choose_proposal.ts";

export type {
  AgentTool,
  Submission,
  ToolContext,
  ToolOutcome,
} from "./_common.ts";

/** The tools of each role, in the order they are sent (the order is part of the cached prefix). */
export function toolsFor(role: AgentRole): AgentTool[] {
  switch (role) {
    case "implementer":
      return [editorTool, bashTool, submitChangeTool];
    case "proposer-a":
    case "proposer-b":
      return [editorTool, bashTool, submitProposalTool];
    case "judge":
      return [editorTool, chooseProposalTool];
  }
}

/** Whether the role's editor is limited to `view` and its sandbox read-only. */
export function isReadOnlyRole(role: AgentRole): boolean {
  return role !== "implementer";
}

/**
 * Run the tool named `name`. Every failure short of a RatchetError becomes an
 * is_error result.
 */
export async function runTool(
  tools: readonly AgentTool[],
  name: string,
  input: Record<string, unknown>,
  context: ToolContext,
): Promise<ToolOutcome> {
  const tool = tools.find((t) => t.definition.name === name);
  if (tool === undefined) {
    return fail(
      `Unknown tool "${name}". Available: ${
        tools.map((t) => t.definition.name).join(", ")
      }.`,
    );
  }
  try {
    return await tool.run(input, context);
  } catch (error) {
    if (error instanceof RatchetError) throw error;
    if (error instanceof WorkspaceError || error instanceof ToolInputError) {
      return fail(error.message);
    }
    return fail(
      `${name} failed: ${
        error instanceof Error ? error.message : String(error)
      }`,
    );
  }
}

/** One short line saying what a tool call does, for progress displays. */
export function summarizeToolCall(
  name: string,
  input: Record<string, unknown>,
): string {
  const text = (value: unknown, max = 120): string => {
    const flat = typeof value === "string"
      ? value.replace(/\s+/g, " ").trim()
      : "";
    return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
  };
  switch (name) {
    case "str_replace_based_edit_tool":
      return `${text(input.command, 20)} ${text(input.path)}`.trim();
    case "bash":
      return input.restart === true && input.command === undefined
        ? "restart"
        : text(input.command);
    case "submit_change":
      return text(input.hypothesis);
    case "submit_proposal":
      return text(input.title);
    case "choose_proposal":
      return `${text(input.choice, 1)}: ${text(input.rationale, 100)}`;
    default:
      return name;
  }
}
