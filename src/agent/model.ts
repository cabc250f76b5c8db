/**
 * The model as ratchet sees it: one streamed Messages API call at a time.
 *
 * These types are ratchet's own. They keep the wire field names of the
 * Anthropic Messages API (`tool_use_id`, `cache_control`, `input_schema`) so
 * the adapter in `anthropic.ts` passes them through without translation and
 * the fake server in the tests can check them against the API's rules; but
 * nothing outside `anthropic.ts` imports the SDK.
 */
import type { Tokens } from "../core/state.ts";

/** Marks the end of a cached prefix. */
export interface CacheControl {
  type: "ephemeral";
}

/** Plain text from the user or the model. */
export interface TextBlock {
  type: "text";
  text: string;
  cache_control?: CacheControl;
}

/** The model asks for a tool. `input` is the parsed JSON object. */
export interface ToolUseBlock {
  type: "tool_use";
  id: string;
  name: string;
  input: Record<string, unknown>;
  cache_control?: CacheControl;
}

/** ratchet's answer to one tool_use block. */
export interface ToolResultBlock {
  type: "tool_result";
  tool_use_id: string;
  content: string;
  is_error: boolean;
  cache_control?: CacheControl;
}

/** What a user turn may hold. */
export type UserBlock = TextBlock | ToolResultBlock;
/** What an assistant turn may hold. */
export type AssistantBlock = TextBlock | ToolUseBlock;

/** One turn of the conversation. */
export type Message =
  | { role: "user"; content: UserBlock[] }
  | { role: "assistant"; content: AssistantBlock[] };

/** A tool ratchet implements itself, with a JSON schema. */
export interface CustomToolDefinition {
  name: string;
  description: string;
  input_schema: {
    type: "object";
    properties: Record<string, unknown>;
    required: string[];
    additionalProperties?: boolean;
  };
  cache_control?: CacheControl;
}

/** Anthropic's text editor tool: the schema is built into the model. */
export interface TextEditorToolDefinition {
  type: "text_editor_20250728";
  name: "str_replace_based_edit_tool";
  cache_control?: CacheControl;
}

/** Anthropic's bash tool: the schema is built into the model. */
export interface BashToolDefinition {
  type: "bash_20250124";
  name: "bash";
  cache_control?: CacheControl;
}

/** Any tool definition sent with a request. */
export type ToolDefinition =
  | CustomToolDefinition
  | TextEditorToolDefinition
  | BashToolDefinition;

/** One system prompt block. */
export interface SystemBlock {
  type: "text";
  text: string;
  cache_control?: CacheControl;
}

/** Everything one call sends. Always streamed. */
export interface ModelRequest {
  model: string;
  max_tokens: number;
  system: SystemBlock[];
  tools: ToolDefinition[];
  messages: Message[];
}

/** Why the model stopped, as the API reports it. */
export type StopReason =
  | "end_turn"
  | "tool_use"
  | "max_tokens"
  | "stop_sequence"
  | "refusal"
  | "pause_turn"
  | (string & Record<never, never>);

/** The complete assistant turn of one call, with what it cost in tokens. */
export interface ModelResponse {
  id: string;
  model: string;
  content: AssistantBlock[];
  stop_reason: StopReason | null;
  /**
   * Tokens of this call, including the partial usage of attempts whose stream
   * broke off and were retried (those were billed too).
   */
  tokens: Tokens;
  /**
   * Ids of tool_use blocks whose input JSON never completed (the stream hit
   * `max_tokens`); their `input` is `{}` and the caller should say so.
   */
  truncated_tool_use_ids: string[];
}

/** Progress while a call streams. */
export type StreamEvent =
  | { type: "text_delta"; text: string }
  | { type: "tool_use_start"; id: string; name: string }
  | {
    type: "retry";
    /** The attempt about to start, 2 for the first retry. */
    attempt: number;
    /** What went wrong with the previous attempt. */
    reason: string;
  };

/** Options of one call. */
export interface StreamOptions {
  onEvent?: (event: StreamEvent) => void;
  signal?: AbortSignal;
}

/**
 * The model. Implementations stream every call, retry transient failures
 * themselves and throw only ratchet errors: `EnvironmentError` (exit 3) for a
 * rejected key, `UpstreamError` (exit 4) when the API stays unavailable,
 * `PromptTooLongError` when the conversation no longer fits.
 *
 * Calls are made one at a time; an implementation may rely on that.
 */
export interface ModelClient {
  stream(
    request: ModelRequest,
    options?: StreamOptions,
  ): Promise<ModelResponse>;
  /**
   * Whether the API knows `model`, asked before a run starts. `unknown` when
   * it answers that it does not; `unverified` when it cannot tell now.
   */
  checkModel(
    model: string,
    options?: { signal?: AbortSignal },
  ): Promise<
    | { status: "known" }
    | { status: "unknown"; detail: string }
    | { status: "unverified"; detail: string }
  >;
}

/**
 * The conversation no longer fits the model's context window. The session
 * ends the proposal instead of stopping the run: a shorter conversation next
 * iteration may fit.
 */
export class PromptTooLongError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : options);
    this.name = "PromptTooLongError";
  }
}
