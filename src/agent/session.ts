/**
 * One proposal: one streamed conversation in which the model uses ratchet's
 * tools until it submits, gives up, or runs into a cap.
 *
 * The request is built so the prompt cache can serve everything stable: the
 * tools (cache breakpoint on the last one) and the system prompt (one block,
 * with a breakpoint) are byte-identical for a role across all iterations of a
 * run. A third breakpoint moves to the end of the conversation on each call,
 * so the turns of this proposal are read from the cache by the next call.
 *
 * The loop itself decides nothing about the candidate: whether anything
 * changed (empty diff), and whether a change is allowed (the diff check), are
 * the caller's, from git.
 */
import type { ModelPrice } from "../config/config.ts";
import {
  type AgentRole,
  type CriticBrief,
  type PromptContext,
  renderSystemPrompt,
  renderUserMessage,
} from "../core/prompt.ts";
import { addTokens, emptyTokens, type Tokens } from "../core/state.ts";
import type { Sandbox } from "../infra/runtime.ts";
import type { Workspace } from "../infra/workspace.ts";
import { INSTRUCTIONS } from "./instructions.ts";
import {
  type Message,
  type ModelClient,
  type ModelRequest,
  PromptTooLongError,
  type ToolDefinition,
  type ToolResultBlock,
} from "./model.ts";
import { costUsd, priceFor, worstCaseCallUsd } from "./pricing.ts";
import {
  isReadOnlyRole,
  runTool,
  type Submission,
  summarizeToolCall,
  toolsFor,
} from "./tools/mod.ts";

/** Output tokens allowed per call: room for a large `create`, and the cost estimate's output term. */
export const DEFAULT_MAX_TOKENS = 16_384;

/** How a proposal ended. */
export type ProposalKind = "submitted" | "no_submit" | "tool_cap" | "cost_cap";

/** Tokens and cost of one model call. */
export interface CallRecord {
  role: AgentRole;
  tokens: Tokens;
  costUsd: number;
  stopReason: string | null;
}

/** Progress of a proposal, for the live view and `--json`. */
export type AgentEvent =
  | { type: "call_start"; role: AgentRole; call: number; worstCaseUsd: number }
  | { type: "text"; role: AgentRole; text: string }
  | { type: "retry"; role: AgentRole; attempt: number; reason: string }
  | {
    type: "call_end";
    role: AgentRole;
    call: number;
    tokens: Tokens;
    costUsd: number;
    stopReason: string | null;
  }
  | {
    type: "tool_call";
    role: AgentRole;
    id: string;
    name: string;
    input: Record<string, unknown>;
    /** One line for progress displays, e.g. `str_replace /work/src/a.py`. */
    summary: string;
  }
  | {
    type: "tool_result";
    role: AgentRole;
    id: string;
    name: string;
    isError: boolean;
    content: string;
  }
  | {
    type: "proposal_end";
    role: AgentRole;
    kind: ProposalKind;
    detail: string;
  };

/** Money: what the run had spent before this proposal, and its cap (0 = none). */
export interface Budget {
  spentUsd: number;
  capUsd: number;
}

/** What a proposal runs against. */
export interface ProposalDeps {
  model: ModelClient;
  workspace: Workspace;
  /** Where `bash` runs; pass the read-only sandbox for proposers. */
  sandbox: Pick<Sandbox, "exec">;
  onEvent?: (event: AgentEvent) => void;
  budget: Budget;
  /** `config.prices`: overrides of the built-in price table. */
  prices?: Readonly<Record<string, ModelPrice>>;
  signal?: AbortSignal;
}

/** The knobs of a proposal (a subset of Config). */
export interface SessionConfig {
  model: string;
  maxToolCalls: number;
  bashTimeoutSeconds: number;
  /** Default DEFAULT_MAX_TOKENS. */
  maxTokens?: number;
}

/** What to ask of the model. */
export interface ProposalInput {
  role: AgentRole;
  context: PromptContext;
  config: SessionConfig;
  /** Proposals for the judge, the chosen plan for a critic-mode implementer. */
  brief?: CriticBrief;
}

/** How a proposal went. */
export interface ProposalOutcome {
  role: AgentRole;
  kind: ProposalKind;
  /** From `submit_change`; "" otherwise. */
  hypothesis: string;
  description: string;
  /** What the submit tool carried, when the proposal was submitted. */
  submission: Submission | null;
  /** Why it ended, in words (for the record's `detail`). */
  detail: string;
  tokens: Tokens;
  costUsd: number;
  toolCalls: number;
  calls: CallRecord[];
}

/** The tool a role ends with. */
const SUBMIT_TOOL: Record<AgentRole, string> = {
  implementer: "submit_change",
  "proposer-a": "submit_proposal",
  "proposer-b": "submit_proposal",
  judge: "choose_proposal",
};

/**
 * The stable part of a request for `role`: tools and system prompt, with the
 * cache breakpoints. It depends only on the role and the run's stable
 * context, so it is byte-identical across iterations.
 */
function stablePrefix(
  role: AgentRole,
  context: PromptContext,
): Pick<ModelRequest, "system" | "tools"> {
  const definitions = toolsFor(role).map((t) =>
    ({ ...t.definition }) as ToolDefinition
  );
  const last = definitions.at(-1);
  if (last !== undefined) last.cache_control = { type: "ephemeral" };
  return {
    system: [{
      type: "text",
      text: renderSystemPrompt(role, context, INSTRUCTIONS),
      cache_control: { type: "ephemeral" },
    }],
    tools: definitions,
  };
}

/**
 * The conversation with a cache breakpoint on its last block. The stored
 * history stays unmarked, so only one moving breakpoint is ever sent (the API
 * allows four).
 */
function withMovingBreakpoint(messages: readonly Message[]): Message[] {
  const copy = messages.slice();
  const last = copy.at(-1);
  if (last !== undefined && last.content.length > 0) {
    const content = last.content.slice();
    const index = content.length - 1;
    content[index] = {
      ...content[index]!,
      cache_control: { type: "ephemeral" },
    };
    copy[copy.length - 1] = { ...last, content } as Message;
  }
  return copy;
}

function reminder(role: AgentRole): string {
  const tool = SUBMIT_TOOL[role];
  if (role === "implementer") {
    return `You ended your turn without calling ${tool}. If you changed something, call ${tool} now with your hypothesis and description. If you decided to change nothing, reply briefly without a tool call.`;
  }
  return `You ended your turn without calling ${tool}. Call ${tool} now; it is the only way your work reaches the next step.`;
}

/**
 * Run one proposal for `input.role`. Throws only ratchet errors from the
 * model client or the sandbox (a rejected key, an outage, a dead engine) and
 * a ConfigError for a model without a price; everything else ends as an
 * outcome.
 */
export async function runProposal(
  deps: ProposalDeps,
  input: ProposalInput,
): Promise<ProposalOutcome> {
  const { role, config } = input;
  const price = priceFor(config.model, deps.prices);
  const maxTokens = config.maxTokens ?? DEFAULT_MAX_TOKENS;
  const tools = toolsFor(role);
  const prefix = stablePrefix(role, input.context);
  const messages: Message[] = [{
    role: "user",
    content: [{
      type: "text",
      text: renderUserMessage(
        role,
        input.context,
        INSTRUCTIONS,
        input.brief ?? {},
      ),
    }],
  }];
  const emit = deps.onEvent ?? (() => {});
  const toolContext = {
    workspace: deps.workspace,
    sandbox: deps.sandbox,
    bashTimeoutSeconds: config.bashTimeoutSeconds,
    readOnly: isReadOnlyRole(role),
  };

  let tokens = emptyTokens();
  let spent = 0;
  let toolCalls = 0;
  let reminded = false;
  const calls: CallRecord[] = [];
  const end = (
    kind: ProposalKind,
    detail: string,
    submission: Submission | null = null,
  ): ProposalOutcome => {
    emit({ type: "proposal_end", role, kind, detail });
    return {
      role,
      kind,
      hypothesis: submission?.tool === "submit_change"
        ? submission.hypothesis
        : "",
      description: submission?.tool === "submit_change"
        ? submission.description
        : "",
      submission,
      detail,
      tokens,
      costUsd: spent,
      toolCalls,
      calls,
    };
  };

  while (true) {
    const request: ModelRequest = {
      model: config.model,
      max_tokens: maxTokens,
      system: prefix.system,
      tools: prefix.tools,
      messages: withMovingBreakpoint(messages),
    };
    const worstCase = worstCaseCallUsd(
      new TextEncoder().encode(JSON.stringify(request)).length,
      maxTokens,
      price,
    );
    const { spentUsd, capUsd } = deps.budget;
    if (capUsd > 0 && spentUsd + spent + worstCase > capUsd) {
      return end(
        "cost_cap",
        `stopped before a call that could cost up to $${
          worstCase.toFixed(4)
        }: $${
          (spentUsd + spent).toFixed(4)
        } of the $${capUsd} budget (--max-cost-usd) is spent`,
      );
    }
    const call = calls.length + 1;
    emit({ type: "call_start", role, call, worstCaseUsd: worstCase });
    let response;
    try {
      response = await deps.model.stream(request, {
        onEvent(event) {
          if (event.type === "text_delta") {
            emit({ type: "text", role, text: event.text });
          } else if (event.type === "retry") {
            emit({
              type: "retry",
              role,
              attempt: event.attempt,
              reason: event.reason,
            });
          }
        },
        ...(deps.signal === undefined ? {} : { signal: deps.signal }),
      });
    } catch (error) {
      if (error instanceof PromptTooLongError) {
        return end(
          "no_submit",
          `the conversation outgrew the model's context: ${error.message}`,
        );
      }
      throw error;
    }
    const callCost = costUsd(response.tokens, price);
    tokens = addTokens(tokens, response.tokens);
    spent += callCost;
    calls.push({
      role,
      tokens: response.tokens,
      costUsd: callCost,
      stopReason: response.stop_reason,
    });
    emit({
      type: "call_end",
      role,
      call,
      tokens: response.tokens,
      costUsd: callCost,
      stopReason: response.stop_reason,
    });

    const toolUses = response.content.filter((b) => b.type === "tool_use");
    if (toolUses.length === 0) {
      if (response.stop_reason === "refusal") {
        return end("no_submit", "the model refused to continue");
      }
      if (reminded) {
        return end("no_submit", `ended without calling ${SUBMIT_TOOL[role]}`);
      }
      reminded = true;
      // An empty turn cannot be sent back; a placeholder keeps roles alternating.
      messages.push({
        role: "assistant",
        content: response.content.length > 0
          ? response.content
          : [{ type: "text", text: "(no reply)" }],
      });
      messages.push({
        role: "user",
        content: [{ type: "text", text: reminder(role) }],
      });
      continue;
    }
    messages.push({ role: "assistant", content: response.content });

    const results: ToolResultBlock[] = [];
    for (const use of toolUses) {
      // The cap stops wandering, not handing over: a submit is always let through.
      if (toolCalls >= config.maxToolCalls && use.name !== SUBMIT_TOOL[role]) {
        return end(
          "tool_cap",
          `reached ${config.maxToolCalls} tool calls (--max-tool-calls) without ${
            SUBMIT_TOOL[role]
          }`,
        );
      }
      toolCalls++;
      emit({
        type: "tool_call",
        role,
        id: use.id,
        name: use.name,
        input: use.input,
        summary: summarizeToolCall(use.name, use.input),
      });
      const outcome = response.truncated_tool_use_ids.includes(use.id)
        ? {
          content:
            "This tool call was cut off at the output limit, so its input is incomplete and nothing was done. Make smaller edits (several str_replace calls instead of one large create).",
          isError: true,
        }
        : await runTool(tools, use.name, use.input, toolContext);
      emit({
        type: "tool_result",
        role,
        id: use.id,
        name: use.name,
        isError: outcome.isError,
        content: outcome.content,
      });
      if (
        !outcome.isError && "submission" in outcome &&
        outcome.submission !== undefined
      ) {
        return end("submitted", `${use.name} called`, outcome.submission);
      }
      results.push({
        type: "tool_result",
        tool_use_id: use.id,
        content: outcome.content,
        is_error: outcome.isError,
      });
    }
    messages.push({ role: "user", content: results });
  }
}
