/**
 * ModelClient over the Anthropic TypeScript SDK (this folder is the only
 * place that imports it): the transport. Every call streams
 * (`messages.create` with `stream: true`); stream_assembly.ts turns the raw
 * events into ratchet's own types.
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
 * Errors leave as ratchet errors (error_map.ts).
 */
import Anthropic, { APIError, APIUserAbortError } from "@anthropic-ai/sdk";
import { addTokens, emptyTokens } from "../../core/state.ts";
import { EnvironmentError, UpstreamError } from "../../errors.ts";
import type {
  ModelClient,
  ModelRequest,
  ModelResponse,
  StreamEvent,
  StreamOptions,
} from "../model.ts";
import { type AnthropicClientOptions, DEFAULT_MAX_RETRIES } from "./options.ts";
import { BrokenStream, MessageAccumulator } from "./stream_assembly.ts";
import { apiMessage, describe, invalidRequest, mapError } from "./error_map.ts";

/** Retries and wait of the model check at start: an outage must not hold the start for long. */
const MODEL_CHECK_RETRIES = 2;
const MODEL_CHECK_TIMEOUT_MS = 15_000;
const PUBLIC_BASE_URL = "https://api.anthropic.com";

function defaultRetryDelayMs(retry: number): number {
  return Math.min(500 * 2 ** (retry - 1), 8000) * (1 - Math.random() * 0.25);
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
