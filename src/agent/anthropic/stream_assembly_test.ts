import assert from "node:assert/strict";
import type Anthropic from "@anthropic-ai/sdk";
import { BrokenStream, MessageAccumulator } from "./stream_assembly.ts";
import type { StreamEvent } from "../model.ts";

type Event = Anthropic.RawMessageStreamEvent;

/** The events of one message, as the API streams them (fields ratchet reads). */
function start(usage: Record<string, number | null> = {}): Event {
  return {
    type: "message_start",
    message: { id: "msg_1", model: "claude-test", usage },
  } as unknown as Event;
}
function textStart(index: number, text = ""): Event {
  return {
    type: "content_block_start",
    index,
    content_block: { type: "text", text },
  } as unknown as Event;
}
function toolStart(index: number, id: string, name: string): Event {
  return {
    type: "content_block_start",
    index,
    content_block: { type: "tool_use", id, name, input: {} },
  } as unknown as Event;
}
function textDelta(index: number, text: string): Event {
  return {
    type: "content_block_delta",
    index,
    delta: { type: "text_delta", text },
  } as unknown as Event;
}
function jsonDelta(index: number, partial_json: string): Event {
  return {
    type: "content_block_delta",
    index,
    delta: { type: "input_json_delta", partial_json },
  } as unknown as Event;
}
function blockStop(index: number): Event {
  return { type: "content_block_stop", index } as unknown as Event;
}
function messageDelta(
  stop_reason: string | null,
  usage: Record<string, number | null>,
): Event {
  return {
    type: "message_delta",
    delta: { stop_reason },
    usage,
  } as unknown as Event;
}
const stop = { type: "message_stop" } as unknown as Event;

function feed(events: Event[]): {
  acc: MessageAccumulator;
  progress: StreamEvent[];
} {
  const acc = new MessageAccumulator();
  const progress: StreamEvent[] = [];
  for (const e of events) {
    const p = acc.add(e);
    if (p !== null) progress.push(p);
  }
  return { acc, progress };
}

Deno.test("MessageAccumulator assembles text from its deltas, with the usage of start and delta", () => {
  const { acc, progress } = feed([
    start({
      input_tokens: 11,
      output_tokens: 1,
      cache_creation_input_tokens: 300,
      cache_read_input_tokens: 40,
    }),
    textStart(0),
    textDelta(0, "Hello "),
    textDelta(0, "there."),
    blockStop(0),
    // message_delta counts are cumulative; null means unchanged.
    messageDelta("end_turn", {
      output_tokens: 7,
      input_tokens: null,
      cache_read_input_tokens: null,
    }),
    stop,
  ]);
  assert.ok(acc.started && acc.stopped);
  assert.deepEqual(progress, [
    { type: "text_delta", text: "Hello " },
    { type: "text_delta", text: "there." },
  ]);
  assert.deepEqual(acc.result(), {
    id: "msg_1",
    model: "claude-test",
    content: [{ type: "text", text: "Hello there." }],
    stop_reason: "end_turn",
    tokens: { input: 11, output: 7, cache_write: 300, cache_read: 40 },
    truncated_tool_use_ids: [],
  });
});

Deno.test("MessageAccumulator parses tool input streamed as JSON deltas, in block order", () => {
  const input = { command: "str_replace", path: "/work/a.py", new_str: "x" };
  const json = JSON.stringify(input);
  const { acc, progress } = feed([
    start(),
    textStart(0, "Editing."),
    blockStop(0),
    toolStart(1, "toolu_1", "str_replace_based_edit_tool"),
    jsonDelta(1, json.slice(0, 10)),
    jsonDelta(1, json.slice(10)),
    blockStop(1),
    toolStart(2, "toolu_2", "bash"),
    blockStop(2),
    messageDelta("tool_use", {}),
    stop,
  ]);
  assert.deepEqual(progress, [
    {
      type: "tool_use_start",
      id: "toolu_1",
      name: "str_replace_based_edit_tool",
    },
    { type: "tool_use_start", id: "toolu_2", name: "bash" },
  ]);
  const r = acc.result();
  assert.equal(r.stop_reason, "tool_use");
  assert.deepEqual(r.content, [
    { type: "text", text: "Editing." },
    {
      type: "tool_use",
      id: "toolu_1",
      name: "str_replace_based_edit_tool",
      input,
    },
    // No input deltas: an empty object, as the API means it.
    { type: "tool_use", id: "toolu_2", name: "bash", input: {} },
  ]);
  assert.deepEqual(r.truncated_tool_use_ids, []);
});

Deno.test("MessageAccumulator drops empty text blocks, which the API refuses when sent back", () => {
  const { acc } = feed([
    start(),
    textStart(0),
    blockStop(0),
    messageDelta("end_turn", {}),
    stop,
  ]);
  assert.deepEqual(acc.result().content, []);
});

Deno.test("MessageAccumulator flags tool input cut off at max_tokens", () => {
  const { acc } = feed([
    start(),
    toolStart(0, "toolu_0", "bash"),
    jsonDelta(0, '{"command": "echo hel'),
    blockStop(0),
    messageDelta("max_tokens", { output_tokens: 1024 }),
    stop,
  ]);
  const r = acc.result();
  assert.equal(r.stop_reason, "max_tokens");
  assert.deepEqual(r.truncated_tool_use_ids, ["toolu_0"]);
  assert.deepEqual(r.content, [{
    type: "tool_use",
    id: "toolu_0",
    name: "bash",
    input: {},
  }]);
});

Deno.test("MessageAccumulator calls malformed tool input a broken stream, with the tokens so far", () => {
  for (const json of ['{"command": "echo hel', "[1, 2]", '"text"']) {
    const { acc } = feed([
      start({ input_tokens: 50 }),
      toolStart(0, "toolu_0", "bash"),
      jsonDelta(0, json),
      blockStop(0),
      messageDelta("tool_use", { output_tokens: 9 }),
      stop,
    ]);
    assert.throws(() => acc.result(), (e: unknown) => {
      assert.ok(e instanceof BrokenStream);
      assert.match(e.message, /malformed tool input for bash/);
      assert.deepEqual(e.partial, {
        input: 50,
        output: 9,
        cache_write: 0,
        cache_read: 0,
      });
      return true;
    });
  }
});

Deno.test("MessageAccumulator tells a stream that never started or never stopped", () => {
  const none = feed([]).acc;
  assert.equal(none.started, false);
  const cut = feed([start(), textStart(0), textDelta(0, "par")]).acc;
  assert.equal(cut.started, true);
  assert.equal(cut.stopped, false);
});
