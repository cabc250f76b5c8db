/**
 * Assembly of one streamed message (pure: no I/O, no SDK client). The raw
 * events of `messages.create({ stream: true })` become ratchet's
 * ModelResponse, with the usage counted as the events report it, and the
 * progress events the caller shows. A stream that turns out damaged is a
 * BrokenStream, which the transport (client.ts) retries.
 */
import type Anthropic from "@anthropic-ai/sdk";
import { emptyTokens, type Tokens } from "../../core/state.ts";
import type { AssistantBlock, ModelResponse, StreamEvent } from "../model.ts";

/** A stream that started and broke off; retried by `stream()`. */
export class BrokenStream extends Error {
  readonly partial: Tokens;
  constructor(message: string, partial: Tokens, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.partial = partial;
  }
}

/** The usage block of message_start / message_delta, as far as ratchet reads it. */
interface WireUsage {
  input_tokens?: number | null;
  output_tokens?: number | null;
  cache_creation_input_tokens?: number | null;
  cache_read_input_tokens?: number | null;
}

/** Assembles one streamed message from its raw events. */
export class MessageAccumulator {
  id = "";
  model = "";
  stopReason: string | null = null;
  tokens: Tokens = emptyTokens();
  started = false;
  stopped = false;
  readonly #blocks = new Map<
    number,
    | { type: "text"; text: string }
    | {
      type: "tool_use";
      id: string;
      name: string;
      json: string;
      input: Record<string, unknown> | null;
    }
  >();

  #usage(usage: WireUsage | null | undefined): void {
    if (usage === null || usage === undefined) return;
    // message_delta carries cumulative counts; a null means "unchanged".
    if (typeof usage.input_tokens === "number") {
      this.tokens.input = usage.input_tokens;
    }
    if (typeof usage.output_tokens === "number") {
      this.tokens.output = usage.output_tokens;
    }
    if (typeof usage.cache_creation_input_tokens === "number") {
      this.tokens.cache_write = usage.cache_creation_input_tokens;
    }
    if (typeof usage.cache_read_input_tokens === "number") {
      this.tokens.cache_read = usage.cache_read_input_tokens;
    }
  }

  /** Take one raw event; returns a progress event to report, if any. */
  add(event: Anthropic.RawMessageStreamEvent): StreamEvent | null {
    switch (event.type) {
      case "message_start":
        this.started = true;
        this.id = event.message.id;
        this.model = event.message.model;
        this.#usage(event.message.usage);
        return null;
      case "content_block_start": {
        const block = event.content_block;
        if (block.type === "text") {
          this.#blocks.set(event.index, {
            type: "text",
            text: block.text ?? "",
          });
        } else if (block.type === "tool_use") {
          this.#blocks.set(event.index, {
            type: "tool_use",
            id: block.id,
            name: block.name,
            json: "",
            input: null,
          });
          return { type: "tool_use_start", id: block.id, name: block.name };
        }
        // Other block types (thinking, server tools) are not requested by ratchet.
        return null;
      }
      case "content_block_delta": {
        const block = this.#blocks.get(event.index);
        const delta = event.delta;
        if (block?.type === "text" && delta.type === "text_delta") {
          block.text += delta.text;
          return { type: "text_delta", text: delta.text };
        }
        if (block?.type === "tool_use" && delta.type === "input_json_delta") {
          block.json += delta.partial_json;
        }
        return null;
      }
      case "content_block_stop": {
        const block = this.#blocks.get(event.index);
        if (block?.type === "tool_use") block.input = parseInput(block.json);
        return null;
      }
      case "message_delta":
        this.stopReason = event.delta.stop_reason ?? this.stopReason;
        this.#usage(event.usage as WireUsage);
        return null;
      case "message_stop":
        this.stopped = true;
        return null;
      default:
        return null;
    }
  }

  result(): ModelResponse {
    const content: AssistantBlock[] = [];
    const truncated: string[] = [];
    for (const index of [...this.#blocks.keys()].sort((a, b) => a - b)) {
      const block = this.#blocks.get(index)!;
      if (block.type === "text") {
        // The API refuses empty text blocks when the turn is sent back.
        if (block.text !== "") content.push({ type: "text", text: block.text });
        continue;
      }
      let input = block.input ?? parseInput(block.json);
      if (input === null) {
        // Input cut off by max_tokens is the model's problem to redo; any
        // other unparsable input means the stream itself was damaged.
        if (this.stopReason !== "max_tokens") {
          throw new BrokenStream(
            `malformed tool input for ${block.name}`,
            this.tokens,
          );
        }
        truncated.push(block.id);
        input = {};
      }
      content.push({ type: "tool_use", id: block.id, name: block.name, input });
    }
    return {
      id: this.id,
      model: this.model,
      content,
      stop_reason: this.stopReason,
      tokens: { ...this.tokens },
      truncated_tool_use_ids: truncated,
    };
  }
}

/** A tool's JSON input, or null when it is not a complete JSON object. */
function parseInput(json: string): Record<string, unknown> | null {
  if (json.trim() === "") return {};
  try {
    const value: unknown = JSON.parse(json);
    return typeof value === "object" && value !== null && !Array.isArray(value)
      ? value as Record<string, unknown>
      : null;
  } catch {
    return null;
  }
}
