/**
 * The SDK's errors as ratchet errors: a rejected key is EnvironmentError
 * (exit 3); an API that stays unavailable is UpstreamError (exit 4,
 * resumable); a conversation too long for the model is PromptTooLongError.
 */
import {
  APIConnectionError,
  APIConnectionTimeoutError,
  APIError,
} from "@anthropic-ai/sdk";
import {
  ConfigError,
  EnvironmentError,
  ExitCode,
  RatchetError,
  UpstreamError,
} from "../../errors.ts";
import { PromptTooLongError } from "../model.ts";

/** The API's own words for an error, when it gave any. */
export function apiMessage(error: APIError): string {
  const inner = (error.error as { error?: { message?: unknown } } | undefined)
    ?.error?.message;
  if (typeof inner === "string" && inner !== "") return inner;
  return error.apiMessage ?? error.message;
}

/** An error in one line for messages: status, type and the API's words. */
export function describe(error: APIError): string {
  const type = error.type === null ? "" : ` ${error.type}`;
  return `HTTP ${error.status ?? "stream error"}${type}: ${apiMessage(error)}`;
}

/** The SDK's error as a ratchet error (called once the SDK has retried). */
export function mapError(
  error: unknown,
  retries: number,
  model: string,
): unknown {
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
export function invalidRequest(error: APIError): Error {
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
