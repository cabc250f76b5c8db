/**
 * Types and input helpers shared by the tools (private to `tools/`; import
 * the tools through `mod.ts`).
 */
import type { Sandbox } from "../../infra/runtime.ts";
import type { Workspace } from "../../infra/workspace.ts";
import type { Proposal } from "../../core/state.ts";
import type { ToolDefinition } from "../model.ts";

/** What the model handed over when it ended its part. */
export type Submission =
  | { tool: "submit_change"; hypothesis: string; description: string }
  | { tool: "submit_proposal"; proposal: Proposal }
  | { tool: "choose_proposal"; choice: "A" | "B"; rationale: string };

/** What a tool call produced. */
export interface ToolOutcome {
  /** Text for the tool_result block. */
  content: string;
  isError: boolean;
  /** Set by the submit tools: the proposal ends here. */
  submission?: Submission;
}

/** Where the tools act. */
export interface ToolContext {
  workspace: Workspace;
  /** The sandbox `bash` runs in (read-only for proposers). */
  sandbox: Pick<Sandbox, "exec">;
  bashTimeoutSeconds: number;
  /** The editor may only `view`. */
  readOnly: boolean;
}

/** One tool. */
export interface AgentTool {
  readonly definition: ToolDefinition;
  run(
    input: Record<string, unknown>,
    context: ToolContext,
  ): Promise<ToolOutcome>;
}

/** Thrown by input checks; becomes an is_error result. */
export class ToolInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ToolInputError";
  }
}

/** A required string field. */
export function requireString(
  input: Record<string, unknown>,
  key: string,
  options: { nonEmpty?: boolean } = {},
): string {
  const value = input[key];
  if (typeof value !== "string") {
    throw new ToolInputError(`Missing or non-string parameter "${key}".`);
  }
  if (options.nonEmpty && value.trim() === "") {
    throw new ToolInputError(`Parameter "${key}" must not be empty.`);
  }
  return value;
}

/** An optional string field. */
export function optionalString(
  input: Record<string, unknown>,
  key: string,
): string | undefined {
  const value = input[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "string") {
    throw new ToolInputError(`Parameter "${key}" must be a string.`);
  }
  return value;
}

/** A successful result. */
export function ok(content: string): ToolOutcome {
  return { content, isError: false };
}

/** A failed result. */
export function fail(content: string): ToolOutcome {
  return { content, isError: true };
}
