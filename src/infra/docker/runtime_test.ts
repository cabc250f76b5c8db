/**
 * `DockerRuntime` against an engine that does not answer (a socket that does
 * not exist): no daemon needed. Everything else it does is tested against a
 * real engine in tests/integration/container_test.ts.
 */
import assert from "node:assert/strict";
import { containerSpec } from "../../../tests/_helpers/container_spec.ts";
import { EnvironmentError, ExitCode, UpstreamError } from "../../errors.ts";
import { resolveEngine } from "../engine.ts";
import { DockerRuntime } from "./runtime.ts";

const MiB = 1024 * 1024;

Deno.test("info() on an engine that does not answer is EnvironmentError with a hint", async () => {
  const dead = new DockerRuntime(
    resolveEngine({ DOCKER_HOST: "unix:///nonexistent/ratchet-docker.sock" }),
  );
  await assert.rejects(dead.info(), (error: unknown) => {
    assert.ok(error instanceof EnvironmentError);
    assert.equal(error.exitCode, ExitCode.environment);
    assert.match(error.message, /nonexistent\/ratchet-docker\.sock/);
    assert.match(error.hint ?? "", /DOCKER_HOST/);
    return true;
  });
});

Deno.test("run() on an engine that does not answer is UpstreamError (exit 4)", async () => {
  const dead = new DockerRuntime(
    resolveEngine({ DOCKER_HOST: "unix:///nonexistent/ratchet-docker.sock" }),
  );
  await assert.rejects(
    dead.run(containerSpec("unused", "true"), {
      timeoutMs: null,
      outputCapBytes: MiB,
    }),
    (error: unknown) =>
      error instanceof UpstreamError && error.exitCode === ExitCode.upstream,
  );
});
