/**
 * What model calls cost. Prices are USD per million tokens; cache writes are
 * priced at the 5-minute TTL rate (1.25x input), the only cache ratchet asks
 * for. `prices` in the configuration overrides or extends the table.
 */
import type { ModelPrice } from "../config/config.ts";
import type { Tokens } from "../core/state.ts";
import { ConfigError } from "../errors.ts";

/** Built-in prices by model family (dated snapshots share their family's price). */
export const PRICE_TABLE: Readonly<Record<string, ModelPrice>> = {
  "claude-opus-4-6": {
    input: 5,
    output: 25,
    cache_write: 6.25,
    cache_read: 0.5,
  },
  "claude-opus-4-5": {
    input: 5,
    output: 25,
    cache_write: 6.25,
    cache_read: 0.5,
  },
  "claude-opus-4-1": {
    input: 15,
    output: 75,
    cache_write: 18.75,
    cache_read: 1.5,
  },
  "claude-opus-4": {
    input: 15,
    output: 75,
    cache_write: 18.75,
    cache_read: 1.5,
  },
  "claude-sonnet-4-6": {
    input: 3,
    output: 15,
    cache_write: 3.75,
    cache_read: 0.3,
  },
  "claude-sonnet-4-5": {
    input: 3,
    output: 15,
    cache_write: 3.75,
    cache_read: 0.3,
  },
  "claude-sonnet-4": {
    input: 3,
    output: 15,
    cache_write: 3.75,
    cache_read: 0.3,
  },
  "claude-3-7-sonnet": {
    input: 3,
    output: 15,
    cache_write: 3.75,
    cache_read: 0.3,
  },
  "claude-haiku-4-5": {
    input: 1,
    output: 5,
    cache_write: 1.25,
    cache_read: 0.1,
  },
  "claude-3-5-haiku": {
    input: 0.8,
    output: 4,
    cache_write: 1,
    cache_read: 0.08,
  },
  "claude-3-haiku": {
    input: 0.25,
    output: 1.25,
    cache_write: 0.3,
    cache_read: 0.03,
  },
};

/** `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`; aliases stay as they are. */
function withoutDate(model: string): string {
  return model.replace(/-\d{8}$/, "").replace(/@\d{8}$/, "");
}

/**
 * The price of `model`: the configured override by exact name, else the
 * built-in table by exact name or family. An unknown model is a ConfigError
 * (exit 2) before any call, because without a price the cost cap cannot hold.
 */
export function priceFor(
  model: string,
  overrides: Readonly<Record<string, ModelPrice>> = {},
): ModelPrice {
  const found = overrides[model] ?? overrides[withoutDate(model)] ??
    PRICE_TABLE[model] ?? PRICE_TABLE[withoutDate(model)];
  if (found !== undefined) return found;
  throw new ConfigError(
    `No price is known for model "${model}"`,
    {
      key: "prices",
      hint:
        `add it to "prices" in ratchet.jsonc, e.g. "prices": {"${model}": {"input": 3, "output": 15, "cache_write": 3.75, "cache_read": 0.3}} (USD per million tokens)`,
    },
  );
}

/** Cost in USD of `tokens` at `price`. */
export function costUsd(tokens: Tokens, price: ModelPrice): number {
  return (tokens.input * price.input + tokens.output * price.output +
    tokens.cache_write * price.cache_write +
    tokens.cache_read * price.cache_read) / 1_000_000;
}

/**
 * Bytes per token assumed when estimating a prompt. Claude's tokenizer gives
 * about 3.5 to 4 bytes per token on English and code; 3 errs high.
 */
const BYTES_PER_TOKEN = 3;
/**
 * Tokens the API adds for Anthropic-defined tools (the text editor and bash
 * tools each carry a built-in system prompt of a few hundred tokens).
 */
const TOOL_OVERHEAD_TOKENS = 1500;

/**
 * Worst-case cost of a call whose request body is `requestBytes` long and
 * which may write up to `maxTokens`: every input token billed at the dearer
 * of the input and cache-write rates (a cold cache), and the full output
 * allowance billed. The cost cap compares this with what is left, so a run
 * never starts a call that could take it over `--max-cost-usd`.
 */
export function worstCaseCallUsd(
  requestBytes: number,
  maxTokens: number,
  price: ModelPrice,
): number {
  const inputTokens = Math.ceil(requestBytes / BYTES_PER_TOKEN) +
    TOOL_OVERHEAD_TOKENS;
  const inputRate = Math.max(price.input, price.cache_write);
  return (inputTokens * inputRate + maxTokens * price.output) / 1_000_000;
}
