/**
 * A stateless fake of the Anthropic Messages API for the reliability tests.
 *
 * The scripted fake in tests/_helpers/fake_anthropic.ts consumes one step
 * per request, so a run that is killed and resumed (and so repeats requests)
 * would drift out of its script. This one answers from the request alone,
 * which makes any number of kills and resumes safe:
 *
 * - turn 1 of a proposal: `view /work/value.txt`;
 * - turn 2: `create /work/value.txt` with the viewed number + 1 on odd
 *   iterations (improved, kept), − 1 on even ones (regressed, reverted);
 * - turn 3: `submit_change`.
 *
 * Faults are injected on top: `inject()` queues responses served before the
 * normal answers (429 with retry-after, 500, 529, malformed JSON, a dropped
 * stream, a slow response), `outage()` fails every request until cleared.
 * Every response is a real SSE message stream, as the API sends it.
 */

import {
  messageEvents,
  modelLookup,
  SSE_HEADERS,
} from "../_helpers/fake_anthropic.ts";

/** A response that is not the normal answer. */
export type Fault =
  | {
    kind: "status";
    status: number;
    errorType: string;
    headers?: Record<string, string>;
  }
  | { kind: "malformed" }
  | { kind: "drop"; afterEvents: number }
  | { kind: "slow"; delayMs: number }
  | { kind: "stall"; stallMs: number };

/** What the server saw and did, for assertions. */
export interface FakeModelStats {
  requests: number;
  faultsServed: number;
  answers: number;
  /** Timestamps (ms) of every request, to check backoff. */
  times: number[];
  /** The first user message of every proposal's first request. */
  prompts: string[];
}

/** A running fake model. */
export interface FakeModel extends AsyncDisposable {
  readonly url: string;
  readonly stats: FakeModelStats;
  /** Serve these faults, in order, before the next normal answers. */
  inject(...faults: Fault[]): void;
  /** Fail every request with this fault until `outage(null)`. */
  outage(fault: Fault | null): void;
  /** Faults still queued. */
  pending(): number;
  close(): Promise<void>;
}

type Json = Record<string, unknown>;
const enc = new TextEncoder();

function isObject(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((b) => {
    if (!isObject(b)) return "";
    if (typeof b.text === "string") return b.text;
    if (b.type === "tool_result") return textOf(b.content);
    return "";
  }).join("\n");
}

type Block =
  | { type: "text"; text: string }
  | { type: "tool_use"; name: string; input: Json };

/** The next assistant turn for this request (pure; exported for unit tests). */
export function answerFor(body: Json): Block[] {
  const messages = Array.isArray(body.messages) ? body.messages : [];
  const turns = messages.filter((m) => isObject(m) && m.role === "assistant")
    .length;
  const first = textOf(isObject(messages[0]) ? messages[0].content : "");
  const iter = Number(/# Iteration (\d+) of/.exec(first)?.[1] ?? "1");
  if (turns === 0) {
    return [{
      type: "tool_use",
      name: "str_replace_based_edit_tool",
      input: { command: "view", path: "/work/value.txt" },
    }];
  }
  if (turns === 1) {
    const last = messages.at(-1);
    const seen = textOf(isObject(last) ? last.content : "");
    const value = Number(/\t(-?\d+)/.exec(seen)?.[1] ?? "10");
    const next = iter % 2 === 0 ? value - 1 : value + 1;
    return [{
      type: "tool_use",
      name: "str_replace_based_edit_tool",
      input: {
        command: "create",
        path: "/work/value.txt",
        file_text: `${next}\n`,
      },
    }];
  }
  return [
    { type: "text", text: "Submitting." },
    {
      type: "tool_use",
      name: "submit_change",
      input: {
        hypothesis: `iteration ${iter}: a different value moves the score`,
        description: `set value.txt (iteration ${iter})`,
      },
    },
  ];
}

/** Start the fake on an ephemeral port of 127.0.0.1. */
export function startFakeModel(): Promise<FakeModel> {
  const queue: Fault[] = [];
  let always: Fault | null = null;
  const stats: FakeModelStats = {
    requests: 0,
    faultsServed: 0,
    answers: 0,
    times: [],
    prompts: [],
  };
  const timers = new Set<ReturnType<typeof setTimeout>>();
  const wakers = new Set<() => void>();
  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(t);
        timers.delete(t);
        wakers.delete(wake);
        resolve();
      };
      const t = setTimeout(wake, ms);
      timers.add(t);
      wakers.add(wake);
    });

  const stream = (
    events: string[],
    opts: { dropAfter?: number; stallMs?: number } = {},
  ) => {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (opts.dropAfter !== undefined && i >= opts.dropAfter) {
          controller.error(new Error("fake model dropped the connection"));
          return;
        }
        if (i >= events.length) return controller.close();
        if (i === 1 && opts.stallMs !== undefined) await sleep(opts.stallMs);
        controller.enqueue(enc.encode(events[i++]!));
      },
    });
  };

  const handler = async (req: Request): Promise<Response> => {
    // ratchet asks for the model before a run starts; every model is known,
    // and the lookup is neither a request of the stats nor served a fault.
    const lookup = req.method === "GET"
      ? modelLookup(new URL(req.url), () => true)
      : null;
    if (lookup !== null) return lookup;
    const raw = await req.text();
    stats.requests++;
    stats.times.push(Date.now());
    const n = stats.requests;
    let body: Json = {};
    try {
      const parsed: unknown = JSON.parse(raw);
      if (isObject(parsed)) body = parsed;
    } catch { /* answered as if empty */ }
    const model = typeof body.model === "string" ? body.model : "claude-test";
    const messages = Array.isArray(body.messages) ? body.messages : [];
    if (messages.length === 1 && isObject(messages[0])) {
      stats.prompts.push(textOf(messages[0].content));
    }
    const fault = always ?? queue.shift() ?? null;
    if (fault !== null) {
      stats.faultsServed++;
      switch (fault.kind) {
        case "status":
          return new Response(
            JSON.stringify({
              type: "error",
              error: {
                type: fault.errorType,
                message: `injected HTTP ${fault.status}`,
              },
            }),
            {
              status: fault.status,
              headers: { "content-type": "application/json", ...fault.headers },
            },
          );
        case "malformed":
          return new Response(
            "event: message_start\ndata: {not json at all\n\n",
            {
              headers: SSE_HEADERS,
            },
          );
        case "drop":
          return new Response(
            stream(messageEvents(n, model, answerFor(body), undefined), {
              dropAfter: fault.afterEvents,
            }),
            { headers: SSE_HEADERS },
          );
        case "slow":
          await sleep(fault.delayMs);
          return new Response(
            stream(messageEvents(n, model, answerFor(body), undefined)),
            {
              headers: SSE_HEADERS,
            },
          );
        case "stall":
          return new Response(
            stream(messageEvents(n, model, answerFor(body), undefined), {
              stallMs: fault.stallMs,
            }),
            { headers: SSE_HEADERS },
          );
      }
    }
    stats.answers++;
    return new Response(
      stream(messageEvents(n, model, answerFor(body), undefined)),
      {
        headers: SSE_HEADERS,
      },
    );
  };

  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: () => {},
      onError: () => new Response("fake model error", { status: 500 }),
    }, handler);
    let closed = false;
    const close = async () => {
      if (closed) return;
      closed = true;
      for (const wake of [...wakers]) wake();
      await server.shutdown();
    };
    resolve({
      url: `http://127.0.0.1:${server.addr.port}`,
      stats,
      inject: (...faults) => queue.push(...faults),
      outage: (fault) => {
        always = fault;
      },
      pending: () => queue.length,
      close,
      [Symbol.asyncDispose]: close,
    });
  });
}
