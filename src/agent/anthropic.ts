/**
 * ModelClient over the Anthropic TypeScript SDK: the only module that imports
 * it. Every call streams (`messages.create` with `stream: true`), and the raw
 * events are assembled here into ratchet's own types.
 *
 * Retries, in two places:
 * - before the response starts, the SDK retries 408/409/429/5xx/529 and
 *   connection failures with exponential backoff, honouring `retry-after-ms`,
 *   `retry-after` and `x-should-retry`;
 * - once a stream has started, the SDK no longer retries, so a stream that
 *   breaks off (dropped connection, an `error` event such as
 *   `overloaded_error`, malformed data, silence longer than the idle timeout)
 *   is retried here, up to the same `maxRetries`, with the same backoff.
 *
 * Errors leave as ratchet errors: a rejected key is EnvironmentError (exit 3);
 * an API that stays unavailable is UpstreamError (exit 4, resumable); a
 * conversation too long for the model is PromptTooLongError.
 */
import Anthropic, {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
  APIUserAbortError,
} from "@anthropic-ai/sdk";
import { addTokens, emptyTokens, type Tokens } from "../core/state.ts";
import {
  ConfigError,
  EnvironmentError,
  ExitCode,
  RatchetError,
  UpstreamError,
  UsageError,
} from "../errors.ts";
import {
  type AssistantBlock,
  type ModelClient,
  type ModelRequest,
  type ModelResponse,
  PromptTooLongError,
  type StreamEvent,
  type StreamOptions,
} from "./model.ts";

/** How to reach the API. */
export interface AnthropicClientOptions {
  apiKey: string;
  /** `ANTHROPIC_BASE_URL`; null or absent for the public API. */
  baseURL?: string | null;
  /** Retries of a failed call (default 6: about half a minute of outage). */
  maxRetries?: number;
  /** The fetch to use (tests, proxies). */
  fetch?: typeof globalThis.fetch;
  /** Wait for the response to start (default 10 minutes). */
  timeoutMs?: number;
  /** Longest silence inside a stream before it counts as broken (default 5 minutes; the API pings). */
  idleTimeoutMs?: number;
  /** Delay before retry `n` (1-based) of a broken stream; default 0.5 s doubling to 8 s, with jitter. */
  retryDelayMs?: (retry: number) => number;
}

/**
 * Overrides of the client's timing from the environment, for tests and for
 * operators behind slow proxies (not in --help; docs/reliability.md):
 * `RATCHET_API_TIMEOUT_MS` (wait for a response to start),
 * `RATCHET_API_IDLE_TIMEOUT_MS` (silence inside a stream),
 * `RATCHET_API_MAX_RETRIES` (retries of a failed call). A value that is not a
 * whole number in range is a UsageError naming the variable and the value.
 */
export function clientTuningFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): Pick<AnthropicClientOptions, "timeoutMs" | "idleTimeoutMs" | "maxRetries"> {
  const read = (name: string, min: number, max: number): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === "") return undefined;
    const value = Number(raw);
    if (!/^\s*\d+\s*$/.test(raw) || value < min || value > max) {
      throw new UsageError(
        `${name}="${raw}" is not a whole number between ${min} and ${max}`,
        {
          hint: `Unset ${name} to use the default, or give a number in range.`,
        },
      );
    }
    return value;
  };
  const out: Pick<
    AnthropicClientOptions,
    "timeoutMs" | "idleTimeoutMs" | "maxRetries"
  > = {};
  const timeoutMs = read("RATCHET_API_TIMEOUT_MS", 1, 3_600_000);
  const idleTimeoutMs = read("RATCHET_API_IDLE_TIMEOUT_MS", 1, 3_600_000);
  const maxRetries = read("RATCHET_API_MAX_RETRIES", 0, 100);
  if (timeoutMs !== undefined) out.timeoutMs = timeoutMs;
  if (idleTimeoutMs !== undefined) out.idleTimeoutMs = idleTimeoutMs;
  if (maxRetries !== undefined) out.maxRetries = maxRetries;
  return out;
}

/** Default retries: the SDK's backoff doubles from 0.5 s to 8 s, so 6 retries span about 30 s. */
export const DEFAULT_MAX_RETRIES = 6;
/** Retries and wait of the model check at start: an outage must not hold the start for long. */
const MODEL_CHECK_RETRIES = 2;
const MODEL_CHECK_TIMEOUT_MS = 15_000;
const PUBLIC_BASE_URL = "https://api.anthropic.com";

function defaultRetryDelayMs(retry: number): number {
  return Math.min(500 * 2 ** (retry - 1), 8000) * (1 - Math.random() * 0.25);
}

/** A stream that started and broke off; retried by `stream()`. */
class BrokenStream extends Error {
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
class MessageAccumulator {
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

function apiMessage(error: APIError): string {
  const inner = (error.error as { error?: { message?: unknown } } | undefined)
    ?.error?.message;
  if (typeof inner === "string" && inner !== "") return inner;
  return error.apiMessage ?? error.message;
}

function describe(error: APIError): string {
  const type = error.type === null ? "" : ` ${error.type}`;
  return `HTTP ${error.status ?? "stream error"}${type}: ${apiMessage(error)}`;
}

/** The SDK's error as a ratchet error (called once the SDK has retried). */
function mapError(error: unknown, retries: number, model: string): unknown {
  if (error instanceof RatchetError || error instanceof PromptTooLongError) {
    return error;
  }
  const resume = {
    hint:
      "the run is saved; continue it with `ratchet resume` once the API answers again",
  };
  if (error instanceof APIConnectionTimeoutError) {
    return new UpstreamError(
      `The Anthropic API timed out (after ${retries} retries)`,
      { ...resume, cause: error },
    );
  }
  if (error instanceof APIConnectionError) {
    return new UpstreamError(
      `Cannot reach the Anthropic API (after ${retries} retries): ${
        error.cause instanceof Error ? error.cause.message : error.message
      }`,
      { ...resume, cause: error },
    );
  }
  if (!(error instanceof APIError) || error.status === undefined) return error;
  const status = error.status;
  if (status === 401 || status === 403) {
    return new EnvironmentError(`API key rejected (${describe(error)})`, {
      hint: "check ANTHROPIC_API_KEY (and ANTHROPIC_BASE_URL if you set it)",
      cause: error,
    });
  }
  if (status === 402) {
    return new EnvironmentError(
      `The Anthropic API refused to bill the call (${describe(error)})`,
      {
        hint: "check the account's billing and credit balance",
        cause: error,
      },
    );
  }
  if (status === 404) {
    return new ConfigError(
      `The Anthropic API does not know model "${model}" (${describe(error)})`,
      {
        key: "model",
        hint: "check --model (or RATCHET_MODEL) and ANTHROPIC_BASE_URL",
        cause: error,
      },
    );
  }
  if (status === 413) {
    return new PromptTooLongError(
      `The conversation is too long for the model (${describe(error)})`,
      { cause: error },
    );
  }
  if (status === 408 || status === 409 || status === 429 || status >= 500) {
    return new UpstreamError(
      `The Anthropic API is unavailable after ${retries} retries (${
        describe(error)
      })`,
      {
        ...resume,
        cause: error,
      },
    );
  }
  return invalidRequest(error);
}

/** A 400-class refusal: too long a conversation, or a request ratchet got wrong. */
function invalidRequest(error: APIError): Error {
  if (
    /prompt is too long|too many tokens|context (window|length)/i.test(
      apiMessage(error),
    )
  ) {
    return new PromptTooLongError(
      `The conversation is too long for the model (${describe(error)})`,
      { cause: error },
    );
  }
  return new RatchetError(
    `The Anthropic API rejected ratchet's request (${describe(error)})`,
    ExitCode.internal,
    {
      hint: "this is a bug in ratchet; please report it with the message above",
      cause: error,
    },
  );
}

/** The Anthropic Messages API as a ModelClient. */
export class AnthropicClient implements ModelClient {
  readonly #client: Anthropic;
  readonly #maxRetries: number;
  readonly #idleTimeoutMs: number;
  readonly #retryDelayMs: (retry: number) => number;
  /** Progress sink of the call in flight (calls are one at a time). */
  #onEvent: ((event: StreamEvent) => void) | undefined;
  #attempt = 0;
  #lastFailure = "";

  constructor(options: AnthropicClientOptions) {
    this.#maxRetries = options.maxRetries ?? DEFAULT_MAX_RETRIES;
    this.#idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
    this.#retryDelayMs = options.retryDelayMs ?? defaultRetryDelayMs;
    const baseFetch = options.fetch ?? globalThis.fetch;
    // Wrapping fetch is how the SDK's own retries become visible as events.
    const observedFetch = async (
      input: string | URL | Request,
      init?: RequestInit,
    ) => {
      this.#attempt++;
      if (this.#attempt > 1) {
        this.#onEvent?.({
          type: "retry",
          attempt: this.#attempt,
          reason: this.#lastFailure,
        });
      }
      try {
        const response = await baseFetch(input, init);
        if (!response.ok) this.#lastFailure = `HTTP ${response.status}`;
        return response;
      } catch (error) {
        this.#lastFailure = error instanceof Error
          ? error.message
          : String(error);
        throw error;
      }
    };
    this.#client = new Anthropic({
      apiKey: options.apiKey,
      authToken: null,
      baseURL: options.baseURL ?? PUBLIC_BASE_URL,
      maxRetries: this.#maxRetries,
      timeout: options.timeoutMs ?? 10 * 60_000,
      fetch: observedFetch as typeof globalThis.fetch,
      // Progress and problems reach the user as events and errors, never as SDK log lines.
      logLevel: "off",
    });
  }

  /**
   * Whether the API knows `model` (`GET /v1/models/{id}`), asked before a
   * run starts so a wrong name is found before the baseline. `unknown` for a
   * 404; a rejected key throws EnvironmentError (exit 3) as every call does;
   * anything else (an outage, a gateway that does not offer the endpoint)
   * leaves the model unverified, with the reason.
   */
  async checkModel(
    model: string,
    options: { signal?: AbortSignal } = {},
  ): Promise<
    | { status: "known" }
    | { status: "unknown"; detail: string }
    | { status: "unverified"; detail: string }
  > {
    try {
      await this.#client.models.retrieve(model, {}, {
        maxRetries: Math.min(this.#maxRetries, MODEL_CHECK_RETRIES),
        timeout: MODEL_CHECK_TIMEOUT_MS,
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      return { status: "known" };
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason ?? error;
      if (error instanceof APIError && error.status === 404) {
        return { status: "unknown", detail: describe(error) };
      }
      const mapped = mapError(error, 0, model);
      if (mapped instanceof EnvironmentError) throw mapped;
      return {
        status: "unverified",
        detail: mapped instanceof Error ? mapped.message : String(mapped),
      };
    }
  }

  async stream(
    request: ModelRequest,
    options: StreamOptions = {},
  ): Promise<ModelResponse> {
    let carried = emptyTokens();
    for (let retry = 0;; retry++) {
      this.#onEvent = options.onEvent;
      this.#attempt = 0;
      try {
        const response = await this.#streamOnce(request, options);
        response.tokens = addTokens(response.tokens, carried);
        return response;
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason ?? error;
        if (!(error instanceof BrokenStream)) {
          throw mapError(error, Math.max(0, this.#attempt - 1), request.model);
        }
        // What a broken attempt consumed was billed too.
        carried = addTokens(carried, error.partial);
        if (retry >= this.#maxRetries) {
          throw new UpstreamError(
            `The Anthropic API stream kept breaking off (after ${this.#maxRetries} retries): ${error.message}`,
            {
              hint:
                "the run is saved; continue it with `ratchet resume` once the API answers again",
              cause: error,
            },
          );
        }
        options.onEvent?.({
          type: "retry",
          attempt: retry + 2,
          reason: error.message,
        });
        await new Promise((resolve) =>
          setTimeout(resolve, this.#retryDelayMs(retry + 1))
        );
      } finally {
        this.#onEvent = undefined;
      }
    }
  }

  async #streamOnce(
    request: ModelRequest,
    options: StreamOptions,
  ): Promise<ModelResponse> {
    const stream = await this.#client.messages.create(
      { ...request, stream: true } as Anthropic.MessageCreateParamsStreaming,
      options.signal === undefined ? {} : { signal: options.signal },
    );
    const accumulator = new MessageAccumulator();
    let idle = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        idle = true;
        stream.controller.abort();
      }, this.#idleTimeoutMs);
    };
    arm();
    try {
      for await (const event of stream) {
        arm();
        const progress = accumulator.add(event);
        if (progress !== null) options.onEvent?.(progress);
      }
    } catch (error) {
      if (options.signal?.aborted || error instanceof APIUserAbortError) {
        throw error;
      }
      if (error instanceof APIError && error.status === undefined) {
        // An `event: error` inside the stream: overloaded, api_error, and so on.
        const type = error.type ?? "error";
        if (type === "invalid_request_error") throw invalidRequest(error);
        throw new BrokenStream(
          `stream error event ${type}: ${apiMessage(error)}`,
          accumulator.tokens,
          error,
        );
      }
      throw new BrokenStream(
        `stream broke off: ${
          error instanceof Error ? error.message : String(error)
        }`,
        accumulator.tokens,
        error,
      );
    } finally {
      clearTimeout(timer);
    }
    if (idle) {
      throw new BrokenStream(
        `no data for ${this.#idleTimeoutMs} ms`,
        accumulator.tokens,
      );
    }
    if (!accumulator.started || !accumulator.stopped) {
      throw new BrokenStream(
        accumulator.started
          ? "stream ended before message_stop"
          : "response was not a message stream",
        accumulator.tokens,
      );
    }
    return accumulator.result();
  }
}
