/** How the Anthropic client reaches the API, and its timing overrides from the environment. */
import { UsageError } from "../../errors.ts";

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
