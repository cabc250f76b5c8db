import assert from "node:assert/strict";
import {
  ConfigError,
  EnvironmentError,
  ExitCode,
  UpstreamError,
} from "../../errors.ts";
import {
  fakeClient,
  type FakeStep,
  startFakeAnthropic,
} from "../../../tests/_helpers/fake_anthropic.ts";
import {
  type ModelRequest,
  PromptTooLongError,
  type StreamEvent,
} from "../model.ts";

const request: ModelRequest = {
  model: "claude-sonnet-4-6",
  max_tokens: 1024,
  system: [{
    type: "text",
    text: "ratchet-role: implementer\nbe brief",
    cache_control: { type: "ephemeral" },
  }],
  tools: [
    { type: "text_editor_20250728", name: "str_replace_based_edit_tool" },
    {
      type: "bash_20250124",
      name: "bash",
      cache_control: { type: "ephemeral" },
    },
  ],
  messages: [{ role: "user", content: [{ type: "text", text: "hello" }] }],
};

const hello: FakeStep = {
  content: [{
    type: "text",
    text: "Hello there, this is a longer reply to stream in chunks.",
  }],
  usage: {
    input_tokens: 11,
    output_tokens: 7,
    cache_creation_input_tokens: 300,
    cache_read_input_tokens: 40,
  },
};

Deno.test("AnthropicClient.stream() assembles a streamed text reply with its usage", async () => {
  await using server = await startFakeAnthropic([hello]);
  const events: StreamEvent[] = [];
  const response = await fakeClient(server).stream(request, {
    onEvent: (e) => events.push(e),
  });
  assert.deepEqual(response.content, [{
    type: "text",
    text: "Hello there, this is a longer reply to stream in chunks.",
  }]);
  assert.equal(response.stop_reason, "end_turn");
  assert.deepEqual(response.tokens, {
    input: 11,
    output: 7,
    cache_write: 300,
    cache_read: 40,
  });
  assert.ok(
    events.filter((e) => e.type === "text_delta").length > 1,
    "text arrives in several deltas",
  );
  assert.deepEqual(server.violations, []);
  const body = server.requests[0]!.body!;
  assert.equal(body.stream, true);
  assert.deepEqual(body.system, request.system);
  assert.deepEqual(body.tools, request.tools);
});

Deno.test("AnthropicClient.stream() parses tool_use input streamed as JSON deltas", async () => {
  const input = {
    command: "str_replace",
    path: "/work/a.py",
    old_str: "x = 1\n",
    new_str: "x = 2\n",
  };
  await using server = await startFakeAnthropic([
    {
      content: [{ type: "text", text: "Editing." }, {
        type: "tool_use",
        name: "str_replace_based_edit_tool",
        input,
      }],
    },
  ]);
  const response = await fakeClient(server).stream(request);
  assert.equal(response.stop_reason, "tool_use");
  assert.deepEqual(response.content[1], {
    type: "tool_use",
    id: "toolu_fake_1_1",
    name: "str_replace_based_edit_tool",
    input,
  });
  assert.deepEqual(response.truncated_tool_use_ids, []);
});

Deno.test("AnthropicClient.stream() flags tool input cut off at max_tokens", async () => {
  await using server = await startFakeAnthropic([
    {
      content: [{
        type: "tool_use",
        name: "bash",
        partial_json: '{"command": "echo hel',
      }],
      stop_reason: "max_tokens",
    },
  ]);
  const response = await fakeClient(server).stream(request);
  assert.equal(response.stop_reason, "max_tokens");
  assert.deepEqual(response.truncated_tool_use_ids, ["toolu_fake_1_0"]);
  assert.deepEqual(response.content[0], {
    type: "tool_use",
    id: "toolu_fake_1_0",
    name: "bash",
    input: {},
  });
});

Deno.test("AnthropicClient.stream() retries 429 with retry-after, 529 and 500, then succeeds", async () => {
  await using server = await startFakeAnthropic([
    {
      type: "error",
      status: 429,
      error_type: "rate_limit_error",
      headers: { "retry-after-ms": "1", "retry-after": "0" },
    },
    {
      type: "error",
      status: 529,
      error_type: "overloaded_error",
      headers: { "retry-after-ms": "1" },
    },
    {
      type: "error",
      status: 500,
      error_type: "api_error",
      headers: { "retry-after-ms": "1" },
    },
    hello,
  ]);
  const events: StreamEvent[] = [];
  const response = await fakeClient(server, { maxRetries: 3 }).stream(request, {
    onEvent: (e) => events.push(e),
  });
  assert.equal(response.content.length, 1);
  assert.equal(server.requests.length, 4);
  assert.deepEqual(
    events.filter((e) => e.type === "retry").map((e) =>
      e.type === "retry" && [e.attempt, e.reason]
    ),
    [[2, "HTTP 429"], [3, "HTTP 529"], [4, "HTTP 500"]],
  );
  // Each retry is the same request, byte for byte.
  assert.equal(new Set(server.requests.map((r) => r.raw)).size, 1);
});

Deno.test("AnthropicClient.stream() turns a persistent outage into UpstreamError (exit 4)", async () => {
  const overloaded: FakeStep = {
    type: "error",
    status: 529,
    error_type: "overloaded_error",
    headers: { "retry-after-ms": "1" },
  };
  await using server = await startFakeAnthropic([
    overloaded,
    overloaded,
    overloaded,
  ]);
  const error = await fakeClient(server, { maxRetries: 2 }).stream(request)
    .catch((e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.equal(error.exitCode, ExitCode.upstream);
  assert.match(
    error.message,
    /unavailable after 2 retries \(HTTP 529 overloaded_error/,
  );
  assert.match(error.hint ?? "", /ratchet resume/);
  assert.equal(server.requests.length, 3);
});

Deno.test("AnthropicClient.stream() maps 401 and 403 to EnvironmentError (exit 3) without retrying", async () => {
  for (const status of [401, 403]) {
    await using server = await startFakeAnthropic([
      {
        type: "error",
        status,
        error_type: status === 401
          ? "authentication_error"
          : "permission_error",
        message: "invalid x-api-key",
      },
    ]);
    const error = await fakeClient(server, { maxRetries: 3 }).stream(request)
      .catch((e) => e);
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.exitCode, ExitCode.environment);
    assert.match(error.message, /^API key rejected/);
    assert.match(error.message, /invalid x-api-key/);
    assert.equal(server.requests.length, 1);
  }
});

Deno.test("AnthropicClient.stream() maps 404 to a ConfigError naming the model", async () => {
  await using server = await startFakeAnthropic([
    {
      type: "error",
      status: 404,
      error_type: "not_found_error",
      message: "model: claude-nope",
    },
  ]);
  const error = await fakeClient(server).stream({
    ...request,
    model: "claude-nope",
  }).catch((e) => e);
  assert.ok(error instanceof ConfigError, String(error));
  assert.match(error.message, /model "claude-nope"/);
});

Deno.test("AnthropicClient.stream() reports a conversation that outgrew the context as PromptTooLongError", async () => {
  await using server = await startFakeAnthropic([
    {
      type: "error",
      status: 400,
      error_type: "invalid_request_error",
      message: "prompt is too long: 210000 tokens > 200000 maximum",
    },
  ]);
  const error = await fakeClient(server).stream(request).catch((e) => e);
  assert.ok(error instanceof PromptTooLongError, String(error));
});

Deno.test("AnthropicClient.stream() retries a stream dropped midway and counts the broken attempt's tokens", async () => {
  await using server = await startFakeAnthropic([
    { type: "drop", usage: { input_tokens: 500 }, after_events: 4 },
    hello,
  ]);
  const events: StreamEvent[] = [];
  const response = await fakeClient(server, { maxRetries: 1 }).stream(request, {
    onEvent: (e) => events.push(e),
  });
  assert.equal(response.content.length, 1);
  assert.equal(response.tokens.input, 11 + 500);
  assert.ok(
    events.some((e) =>
      e.type === "retry" && /broke off|before message_stop/.test(e.reason)
    ),
  );
});

Deno.test("AnthropicClient.stream() retries an overloaded_error event inside the stream", async () => {
  await using server = await startFakeAnthropic([
    {
      type: "stream_error",
      error_type: "overloaded_error",
      message: "Overloaded",
    },
    hello,
  ]);
  const response = await fakeClient(server, { maxRetries: 1 }).stream(request);
  assert.equal(response.stop_reason, "end_turn");
  assert.equal(server.requests.length, 2);
});

Deno.test("AnthropicClient.stream() gives up on streams that keep breaking with UpstreamError", async () => {
  await using server = await startFakeAnthropic([
    { type: "drop" },
    { type: "raw", body: "this is not an event stream" },
    { type: "stream_error", error_type: "api_error" },
  ]);
  const error = await fakeClient(server, { maxRetries: 2 }).stream(request)
    .catch((e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.match(
    error.message,
    /kept breaking off \(after 2 retries\): stream error event api_error/,
  );
});

Deno.test("AnthropicClient.stream() treats a slow response as a timeout (UpstreamError)", async () => {
  await using server = await startFakeAnthropic([{ ...hello, delay_ms: 2000 }]);
  const error = await fakeClient(server, { timeoutMs: 100 }).stream(request)
    .catch((e) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.match(error.message, /timed out/);
});

Deno.test("AnthropicClient.stream() abandons a stream that goes silent and retries it", async () => {
  await using server = await startFakeAnthropic([
    { ...hello, stall_ms: 5000 },
    hello,
  ]);
  const response = await fakeClient(server, {
    idleTimeoutMs: 100,
    maxRetries: 1,
  }).stream(request);
  assert.equal(response.stop_reason, "end_turn");
  assert.equal(server.requests.length, 2);
});

Deno.test("fake server answers a request that breaks the API's rules with a loud 500", async () => {
  await using server = await startFakeAnthropic([hello]);
  const bad: ModelRequest = {
    ...request,
    messages: [
      { role: "user", content: [{ type: "text", text: "hi" }] },
      {
        role: "assistant",
        content: [{ type: "tool_use", id: "t1", name: "bash", input: {} }],
      },
      { role: "user", content: [{ type: "text", text: "no tool_result" }] },
    ],
  };
  const error = await fakeClient(server, { maxRetries: 2 }).stream(bad).catch((
    e,
  ) => e);
  assert.ok(error instanceof UpstreamError, String(error));
  assert.match(
    error.message,
    /tool_use t1 of the previous assistant turn not answered/,
  );
  assert.equal(
    server.requests.length,
    1,
    "x-should-retry: false stops the SDK's retries",
  );
  assert.equal(server.violations.length, 1);
});

Deno.test("fake server fails loudly when the script runs out", async () => {
  await using server = await startFakeAnthropic([]);
  const error = await fakeClient(server).stream(request).catch((e) => e);
  assert.match(String(error.message), /after the script ran out/);
  assert.match(
    String(error.message),
    /"role":"user"/,
    "the message carries the unexpected request",
  );
});
