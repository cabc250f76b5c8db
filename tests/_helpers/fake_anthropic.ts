/**
 * A fake Anthropic Messages API for tests: a local `Deno.serve` that answers
 * `POST /v1/messages` from a script, streaming each message as the real API
 * does (SSE: message_start, content_block_start/delta/stop, message_delta
 * with usage, message_stop).
 *
 * It fails loudly. Every request is recorded and checked against the
 * Messages API's rules (roles alternate and start with the user; every
 * tool_use is answered by a tool_result in the next user turn and nothing
 * else is; tool definitions are well formed; `stream: true`; at most four
 * cache breakpoints). A request that breaks a rule, or arrives after the
 * script has run out, gets a 500 with `x-should-retry: false` whose message
 * names the problem and carries the request, so the client under test stops
 * at once with that text in its error.
 *
 * Use with `await using server = await startFakeAnthropic(steps)` and build
 * the client under test with `fakeClient(server)`.
 */
import { join } from "node:path";
import { AnthropicClient } from "../../src/agent/anthropic/client.ts";
import type { AnthropicClientOptions } from "../../src/agent/anthropic/options.ts";

/** A content block the fake model answers with. */
export type FakeBlock =
  | { type: "text"; text: string }
  | {
    type: "tool_use";
    name: string;
    /** The tool input; streamed as input_json_delta chunks. */
    input?: unknown;
    /** Raw JSON to stream instead of `input` (to send broken or cut-off input). */
    partial_json?: string;
    id?: string;
  };

/** Usage numbers reported for a message (defaults: 100 in, 20 out, no cache). */
export interface FakeUsage {
  input_tokens?: number;
  output_tokens?: number;
  cache_creation_input_tokens?: number;
  cache_read_input_tokens?: number;
}

/** One scripted answer, consumed by one request. */
export type FakeStep =
  | {
    type?: "message";
    content: FakeBlock[];
    /** Default: "tool_use" when a block is a tool_use, else "end_turn". */
    stop_reason?: string;
    usage?: FakeUsage;
    /** Wait before the response starts (tests the client's timeout). */
    delay_ms?: number;
    /** Go silent after message_start (tests the idle timeout). */
    stall_ms?: number;
    /** The request must come from this role (`ratchet-role: …` in the system prompt). */
    expect_role?: string;
  }
  | {
    type: "error";
    status: number;
    /** Anthropic error type, e.g. "rate_limit_error", "overloaded_error". */
    error_type?: string;
    message?: string;
    headers?: Record<string, string>;
    expect_role?: string;
  }
  | {
    /** Stream part of a message, then cut the connection. */
    type: "drop";
    content?: FakeBlock[];
    usage?: FakeUsage;
    /** SSE events sent before the cut (default 3). */
    after_events?: number;
    expect_role?: string;
  }
  | {
    /** message_start, then an `event: error` inside the stream. */
    type: "stream_error";
    error_type: string;
    message?: string;
    usage?: FakeUsage;
    expect_role?: string;
  }
  | {
    /** Any response body, for malformed answers. */
    type: "raw";
    status?: number;
    headers?: Record<string, string>;
    body: string;
    expect_role?: string;
  };

/** A script as stored in tests/fixtures/anthropic/*.json. */
export interface FakeScript {
  description?: string;
  steps: FakeStep[];
}

/** One request as the server saw it. */
export interface RecordedRequest {
  /** The parsed JSON body (null when it did not parse). */
  body: Record<string, unknown> | null;
  /** The body exactly as sent. */
  raw: string;
  headers: Record<string, string>;
  /** Rules it broke (empty when valid). */
  violations: string[];
}

/** A running fake server. */
export interface FakeAnthropic extends AsyncDisposable {
  /** Base URL for the client (`http://127.0.0.1:<port>`). */
  readonly url: string;
  /** Every Messages API request, in order (model lookups are apart). */
  readonly requests: RecordedRequest[];
  /** The model ids asked for with `GET /v1/models/{id}`, in order. */
  readonly modelLookups: string[];
  /** Every broken rule and unexpected request, in order. */
  readonly violations: string[];
  /** Steps not yet consumed. */
  remaining(): number;
  close(): Promise<void>;
}

const FIXTURES = new URL("../fixtures/anthropic/", import.meta.url);

/** Load `tests/fixtures/anthropic/<name>.json`. */
export async function loadScript(name: string): Promise<FakeScript> {
  const path = join(
    FIXTURES.pathname,
    name.endsWith(".json") ? name : `${name}.json`,
  );
  return JSON.parse(await Deno.readTextFile(path)) as FakeScript;
}

/** The real client pointed at `server`: apiKey "test", no retries unless asked. */
export function fakeClient(
  server: FakeAnthropic,
  options: Partial<AnthropicClientOptions> = {},
): AnthropicClient {
  return new AnthropicClient({
    apiKey: "test",
    baseURL: server.url,
    maxRetries: 0,
    retryDelayMs: () => 1,
    ...options,
  });
}

/** `ratchet-role: X` from a request body's system prompt, or null. */
export function roleOf(body: Record<string, unknown> | null): string | null {
  const system = body?.system;
  const text = typeof system === "string"
    ? system
    : Array.isArray(system)
    ? String((system[0] as { text?: unknown } | undefined)?.text ?? "")
    : "";
  const match = /^ratchet-role: (\S+)/.exec(text);
  return match?.[1] ?? null;
}

// ---------------------------------------------------------------------------
// Request rules

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function countCacheControl(value: unknown): number {
  if (Array.isArray(value)) {
    return value.reduce((n: number, v) => n + countCacheControl(v), 0);
  }
  if (!isObject(value)) return 0;
  let n = value.cache_control !== undefined && value.cache_control !== null
    ? 1
    : 0;
  for (const [key, v] of Object.entries(value)) {
    if (key !== "cache_control") n += countCacheControl(v);
  }
  return n;
}

function checkTools(tools: unknown, problems: string[]): Set<string> {
  const names = new Set<string>();
  if (tools === undefined) return names;
  if (!Array.isArray(tools)) {
    problems.push("tools must be an array");
    return names;
  }
  tools.forEach((tool, i) => {
    if (!isObject(tool)) return problems.push(`tools[${i}] is not an object`);
    const name = tool.name;
    if (typeof name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(name)) {
      return problems.push(
        `tools[${i}].name ${JSON.stringify(name)} is not a valid tool name`,
      );
    }
    if (names.has(name)) {
      problems.push(`tools[${i}]: duplicate tool name ${name}`);
    }
    names.add(name);
    const type = tool.type;
    if (type === "text_editor_20250728") {
      if (name !== "str_replace_based_edit_tool") {
        problems.push(
          `tools[${i}]: text_editor_20250728 must be named str_replace_based_edit_tool`,
        );
      }
    } else if (type === "bash_20250124") {
      if (name !== "bash") {
        problems.push(`tools[${i}]: bash_20250124 must be named bash`);
      }
    } else if (type === undefined || type === "custom") {
      const schema = tool.input_schema;
      if (!isObject(schema) || schema.type !== "object") {
        problems.push(
          `tools[${i}] (${name}): input_schema must be a JSON schema of type "object"`,
        );
      }
      if (
        tool.description !== undefined && typeof tool.description !== "string"
      ) {
        problems.push(`tools[${i}] (${name}): description must be a string`);
      }
    } else {
      problems.push(
        `tools[${i}] (${name}): unknown tool type ${JSON.stringify(type)}`,
      );
    }
  });
  return names;
}

function blocksOf(content: unknown, where: string, problems: string[]): Json[] {
  if (typeof content === "string") {
    if (content === "") problems.push(`${where}: empty content`);
    return [{ type: "text", text: content }];
  }
  if (!Array.isArray(content) || content.length === 0) {
    problems.push(`${where}: content must be a non-empty string or array`);
    return [];
  }
  return content.filter((block, i) => {
    if (isObject(block)) return true;
    problems.push(`${where}.content[${i}] is not an object`);
    return false;
  }) as Json[];
}

/** The rules of the Messages API this fake enforces; returns what is broken. */
export function checkRequest(body: unknown): string[] {
  const problems: string[] = [];
  if (!isObject(body)) return ["the body is not a JSON object"];
  if (body.stream !== true) {
    problems.push("stream must be true (ratchet streams every call)");
  }
  if (typeof body.model !== "string" || body.model === "") {
    problems.push("model must be a non-empty string");
  }
  if (!Number.isInteger(body.max_tokens) || (body.max_tokens as number) < 1) {
    problems.push("max_tokens must be a positive integer");
  }
  if (body.system !== undefined && typeof body.system !== "string") {
    if (!Array.isArray(body.system)) {
      problems.push("system must be a string or an array of text blocks");
    } else {
      body.system.forEach((b, i) => {
        if (
          !isObject(b) || b.type !== "text" || typeof b.text !== "string" ||
          b.text === ""
        ) {
          problems.push(`system[${i}] must be a non-empty text block`);
        }
      });
    }
  }
  const toolNames = checkTools(body.tools, problems);
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) {
    problems.push("messages must be a non-empty array");
    return problems;
  }
  const seenIds = new Set<string>();
  let pendingToolUses: string[] = [];
  messages.forEach((message, i) => {
    const where = `messages[${i}]`;
    if (!isObject(message)) return problems.push(`${where} is not an object`);
    const expected = i % 2 === 0 ? "user" : "assistant";
    if (message.role !== expected) {
      problems.push(
        `${where}.role is ${
          JSON.stringify(message.role)
        }; roles must alternate starting with user`,
      );
    }
    const blocks = blocksOf(message.content, where, problems);
    if (message.role === "assistant") {
      pendingToolUses = [];
      blocks.forEach((block, j) => {
        if (block.type === "text") {
          if (typeof block.text !== "string" || block.text === "") {
            problems.push(
              `${where}.content[${j}]: text blocks must be non-empty`,
            );
          }
        } else if (block.type === "tool_use") {
          const id = block.id;
          if (typeof id !== "string" || seenIds.has(id)) {
            problems.push(
              `${where}.content[${j}]: tool_use id ${
                JSON.stringify(id)
              } missing or repeated`,
            );
          } else {
            seenIds.add(id);
            pendingToolUses.push(id);
          }
          if (!isObject(block.input)) {
            problems.push(
              `${where}.content[${j}]: tool_use input must be an object`,
            );
          }
          if (typeof block.name !== "string" || !toolNames.has(block.name)) {
            problems.push(
              `${where}.content[${j}]: tool_use names ${
                JSON.stringify(block.name)
              }, not a defined tool`,
            );
          }
        } else {
          problems.push(
            `${where}.content[${j}]: unexpected assistant block type ${
              JSON.stringify(block.type)
            }`,
          );
        }
      });
      return;
    }
    // A user turn: first the tool_results answering the previous assistant turn.
    const answered: string[] = [];
    let sawOther = false;
    blocks.forEach((block, j) => {
      if (block.type === "tool_result") {
        if (sawOther) {
          problems.push(
            `${where}.content[${j}]: tool_result blocks must come first`,
          );
        }
        const id = block.tool_use_id;
        if (typeof id !== "string" || !pendingToolUses.includes(id)) {
          problems.push(
            `${where}.content[${j}]: tool_result for ${
              JSON.stringify(id)
            } answers no tool_use of the previous assistant turn`,
          );
        } else if (answered.includes(id)) {
          problems.push(
            `${where}.content[${j}]: tool_use ${id} answered twice`,
          );
        } else {
          answered.push(id);
        }
        if (
          block.is_error !== undefined && typeof block.is_error !== "boolean"
        ) {
          problems.push(`${where}.content[${j}]: is_error must be a boolean`);
        }
        if (
          typeof block.content !== "string" && !Array.isArray(block.content)
        ) {
          problems.push(
            `${where}.content[${j}]: tool_result content must be a string or blocks`,
          );
        }
      } else if (block.type === "text") {
        sawOther = true;
        if (typeof block.text !== "string" || block.text === "") {
          problems.push(
            `${where}.content[${j}]: text blocks must be non-empty`,
          );
        }
      } else {
        sawOther = true;
        problems.push(
          `${where}.content[${j}]: unexpected user block type ${
            JSON.stringify(block.type)
          }`,
        );
      }
    });
    const unanswered = pendingToolUses.filter((id) => !answered.includes(id));
    if (unanswered.length > 0) {
      problems.push(
        `${where}: tool_use ${
          unanswered.join(", ")
        } of the previous assistant turn not answered`,
      );
    }
    pendingToolUses = [];
  });
  const last = messages.at(-1);
  if (isObject(last) && last.role !== "user") {
    problems.push("the last message must be from the user");
  }
  const breakpoints = countCacheControl({
    tools: body.tools,
    system: body.system,
    messages,
  });
  if (breakpoints > 4) {
    problems.push(`${breakpoints} cache_control breakpoints; the API allows 4`);
  }
  return problems;
}

// ---------------------------------------------------------------------------
// Responses

const encoder = new TextEncoder();

function sse(type: string, data: unknown): string {
  return `event: ${type}\ndata: ${
    JSON.stringify({ type, ...(data as object) })
  }\n\n`;
}

function chunks(text: string, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i < text.length; i += size) out.push(text.slice(i, i + size));
  return out.length === 0 ? [""] : out;
}

/** The SSE events of a streamed message. */
export function messageEvents(
  n: number,
  model: string,
  content: FakeBlock[],
  stopReason: string | undefined,
  usage: FakeUsage = {},
): string[] {
  const events = [
    sse("message_start", {
      message: {
        id: `msg_fake_${n}`,
        type: "message",
        role: "assistant",
        model,
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: {
          input_tokens: usage.input_tokens ?? 100,
          cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
          cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
          output_tokens: 1,
        },
      },
    }),
    sse("ping", {}),
  ];
  content.forEach((block, index) => {
    if (block.type === "text") {
      events.push(
        sse("content_block_start", {
          index,
          content_block: { type: "text", text: "" },
        }),
      );
      for (const text of chunks(block.text, 20)) {
        events.push(
          sse("content_block_delta", {
            index,
            delta: { type: "text_delta", text },
          }),
        );
      }
    } else {
      const id = block.id ?? `toolu_fake_${n}_${index}`;
      events.push(
        sse("content_block_start", {
          index,
          content_block: { type: "tool_use", id, name: block.name, input: {} },
        }),
      );
      const json = block.partial_json ?? JSON.stringify(block.input ?? {});
      for (const partial of chunks(json, 15)) {
        events.push(
          sse("content_block_delta", {
            index,
            delta: { type: "input_json_delta", partial_json: partial },
          }),
        );
      }
    }
    events.push(sse("content_block_stop", { index }));
  });
  const stop = stopReason ??
    (content.some((b) => b.type === "tool_use") ? "tool_use" : "end_turn");
  events.push(
    sse("message_delta", {
      delta: { stop_reason: stop, stop_sequence: null },
      usage: { output_tokens: usage.output_tokens ?? 20 },
    }),
  );
  events.push(sse("message_stop", {}));
  return events;
}

/** Headers of a streamed Messages API response. */
export const SSE_HEADERS = {
  "content-type": "text/event-stream",
  "cache-control": "no-cache",
};

function errorResponse(
  status: number,
  type: string,
  message: string,
  headers: Record<string, string> = {},
): Response {
  return new Response(
    JSON.stringify({ type: "error", error: { type, message } }),
    {
      status,
      headers: { "content-type": "application/json", ...headers },
    },
  );
}

/** Fail loudly: no retry, and the problem and the request in the message. */
function violation(problems: string[], raw: string): Response {
  return errorResponse(
    500,
    "fake_server_violation",
    `fake Anthropic server: ${problems.join("; ")}\nrequest: ${
      raw.slice(0, 20_000)
    }`,
    { "x-should-retry": "false" },
  );
}

function streamOf(
  events: string[],
  options: {
    stallMs?: number;
    dropAfter?: number;
    sleep: (ms: number) => Promise<void>;
  },
): ReadableStream<Uint8Array> {
  let i = 0;
  return new ReadableStream({
    async pull(controller) {
      if (options.dropAfter !== undefined && i >= options.dropAfter) {
        controller.error(new Error("fake server dropped the connection"));
        return;
      }
      if (i >= events.length) {
        controller.close();
        return;
      }
      if (i === 1 && options.stallMs !== undefined) {
        await options.sleep(options.stallMs);
      }
      controller.enqueue(encoder.encode(events[i++]!));
    },
  });
}

/** Options of {@linkcode startFakeAnthropic}. */
export interface FakeAnthropicOptions {
  /**
   * The models `GET /v1/models/{id}` knows (404 `not_found_error` for any
   * other, as the API answers). Default: every model is known.
   */
  knownModels?: readonly string[];
}

/**
 * `GET /v1/models/{id}` as the API answers it: the model's info, or 404
 * not_found_error. Not part of the script: ratchet asks it before a run.
 */
export function modelLookup(
  url: URL,
  known: (id: string) => boolean,
): Response | null {
  const match = /^\/v1\/models\/([^/]+)$/.exec(url.pathname);
  if (match === null) return null;
  const id = decodeURIComponent(match[1]!);
  if (!known(id)) {
    return errorResponse(404, "not_found_error", `model: ${id}`);
  }
  return new Response(
    JSON.stringify({
      type: "model",
      id,
      display_name: id,
      created_at: "2025-01-01T00:00:00Z",
    }),
    { headers: { "content-type": "application/json" } },
  );
}

/** Start the fake on an ephemeral port of 127.0.0.1. */
export function startFakeAnthropic(
  script: FakeStep[] | FakeScript,
  options: FakeAnthropicOptions = {},
): Promise<FakeAnthropic> {
  const steps = Array.isArray(script) ? [...script] : [...script.steps];
  const requests: RecordedRequest[] = [];
  const modelLookups: string[] = [];
  const knownModels = options.knownModels;
  const known = (id: string) =>
    knownModels === undefined || knownModels.includes(id);
  const violations: string[] = [];
  // Pending delays, woken early when the server closes so shutdown never hangs.
  const sleepers = new Map<ReturnType<typeof setTimeout>, () => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        sleepers.delete(t);
        resolve();
      }, ms);
      sleepers.set(t, resolve);
    });

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    if (req.method === "GET") {
      const lookup = modelLookup(url, known);
      if (lookup !== null) {
        modelLookups.push(decodeURIComponent(url.pathname.split("/").at(-1)!));
        return lookup;
      }
    }
    const raw = await req.text();
    let body: Record<string, unknown> | null = null;
    try {
      const parsed: unknown = JSON.parse(raw);
      body = isObject(parsed) ? parsed : null;
    } catch {
      // Reported below as a violation.
    }
    const problems = req.method !== "POST" || url.pathname !== "/v1/messages"
      ? [`unexpected ${req.method} ${url.pathname}`]
      : checkRequest(body);
    const record: RecordedRequest = {
      body,
      raw,
      headers: Object.fromEntries(req.headers),
      violations: problems,
    };
    requests.push(record);
    const n = requests.length;
    const step = steps.shift();
    if (step === undefined) {
      problems.push(`request ${n} arrived after the script ran out`);
    } else if (
      step.expect_role !== undefined && roleOf(body) !== step.expect_role
    ) {
      problems.push(
        `request ${n} should come from ratchet-role: ${step.expect_role}, not ${
          roleOf(body)
        }`,
      );
    }
    if (problems.length > 0 || step === undefined) {
      violations.push(...problems.map((p) => `request ${n}: ${p}`));
      return violation(problems, raw);
    }
    const model = typeof body?.model === "string" ? body.model : "claude-test";
    if (!known(model)) {
      // As the API answers a model it does not know; the step is consumed.
      return errorResponse(404, "not_found_error", `model: ${model}`);
    }
    switch (step.type) {
      case "error":
        return errorResponse(
          step.status,
          step.error_type ?? "api_error",
          step.message ?? `scripted HTTP ${step.status}`,
          step.headers,
        );
      case "raw":
        return new Response(step.body, {
          status: step.status ?? 200,
          headers: step.headers ?? SSE_HEADERS,
        });
      case "drop": {
        const events = messageEvents(
          n,
          model,
          step.content ??
            [{ type: "text", text: "partial answer that never ends" }],
          undefined,
          step.usage,
        );
        return new Response(
          streamOf(events, { dropAfter: step.after_events ?? 3, sleep }),
          { headers: SSE_HEADERS },
        );
      }
      case "stream_error": {
        const [start] = messageEvents(n, model, [], undefined, step.usage);
        const error = sse("error", {
          error: {
            type: step.error_type,
            message: step.message ?? step.error_type,
          },
        });
        return new Response(streamOf([start!, error], { sleep }), {
          headers: SSE_HEADERS,
        });
      }
      default: {
        if (step.delay_ms !== undefined) await sleep(step.delay_ms);
        const events = messageEvents(
          n,
          model,
          step.content,
          step.stop_reason,
          step.usage,
        );
        return new Response(
          streamOf(
            events,
            step.stall_ms === undefined
              ? { sleep }
              : { stallMs: step.stall_ms, sleep },
          ),
          { headers: SSE_HEADERS },
        );
      }
    }
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      // Aborted and dropped streams are part of the script, not server errors.
      onError: () => new Response("fake server error", { status: 500 }),
    }, handler);
    const { port } = server.addr;
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      for (const [t, wake] of sleepers) {
        clearTimeout(t);
        wake();
      }
      sleepers.clear();
      await server.shutdown();
    };
    resolve({
      url: `http://127.0.0.1:${port}`,
      requests,
      modelLookups,
      violations,
      remaining: () => steps.length,
      close,
      [Symbol.asyncDispose]: close,
    });
  });
}
