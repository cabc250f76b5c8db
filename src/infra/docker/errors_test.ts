import assert from "node:assert/strict";
import { EnvironmentError, ExitCode, UpstreamError } from "../../errors.ts";
import {
  isConnectionError,
  messageOf,
  startError,
  statusOf,
  upstreamError,
} from "./errors.ts";

Deno.test("isConnectionError() tells an engine that did not answer from one that answered with an error", () => {
  for (
    const error of [
      { code: "ECONNREFUSED" },
      { code: "ENOENT", message: "connect ENOENT /var/run/docker.sock" },
      { message: "socket hang up" },
      { code: "ETIMEDOUT", message: "no answer within 60 s (Timeout)" },
      { message: "The operation was aborted" },
    ]
  ) {
    assert.equal(isConnectionError(error), true, JSON.stringify(error));
  }
  for (
    const error of [
      { statusCode: 500, message: "socket hang up" },
      { statusCode: 404, json: { message: "No such image" } },
      { message: "No such container" },
      "ECONNREFUSED",
      null,
    ]
  ) {
    assert.equal(isConnectionError(error), false, JSON.stringify(error));
  }
});

Deno.test("statusOf() and messageOf() read dockerode's errors", () => {
  assert.equal(statusOf({ statusCode: 409 }), 409);
  assert.equal(statusOf({ statusCode: "409" }), undefined);
  assert.equal(statusOf(new Error("x")), undefined);
  assert.equal(
    messageOf({
      json: { message: " No such image: x \n" },
      message: "HTTP 404",
    }),
    "No such image: x",
  );
  assert.equal(messageOf({ json: null, message: " boom " }), "boom");
  assert.equal(messageOf("plain"), "plain");
});

Deno.test("upstreamError() and startError() say whether the engine answered, and pass ratchet's own errors on", () => {
  const down = upstreamError("unix:///s", "starting a trial", {
    code: "ECONNRESET",
    message: "read ECONNRESET",
  });
  assert.ok(down instanceof UpstreamError);
  assert.equal(down.exitCode, ExitCode.upstream);
  assert.equal(
    down.message,
    "Docker stopped answering at unix:///s while starting a trial: read ECONNRESET",
  );
  assert.match(down.hint ?? "", /ratchet resume/);
  const failed = upstreamError("unix:///s", "committing", {
    statusCode: 500,
    json: { message: "disk full" },
  });
  assert.equal(failed.message, "Docker failed while committing: disk full");
  const own = new EnvironmentError("mine");
  assert.equal(upstreamError("u", "x", own), own);
  const start = startError("tcp://h:2376", "Check DOCKER_HOST.", "pulling x", {
    statusCode: 500,
    message: "denied",
  });
  assert.ok(start instanceof EnvironmentError);
  assert.equal(start.exitCode, ExitCode.environment);
  assert.equal(
    start.message,
    "Docker failed while pulling x (tcp://h:2376): denied",
  );
  assert.equal(start.hint, "Check DOCKER_HOST.");
  assert.equal(startError("u", "h", "x", own), own);
});
