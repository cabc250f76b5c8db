import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import type Docker from "dockerode";
import { isConnectionError } from "./errors.ts";
import { execExitCode, waitContainer } from "./wait.ts";

/** An engine whose wait response is `stream`, driven by `script`. */
function engine(
  script: (stream: EventEmitter) => void,
  error: Error | null = null,
) {
  const dialed: Record<string, unknown>[] = [];
  const docker = {
    modem: {
      dial(
        options: Record<string, unknown>,
        callback: (error: Error | null, response?: unknown) => void,
      ) {
        dialed.push(options);
        if (error !== null) return callback(error);
        const stream = new EventEmitter();
        callback(null, stream);
        queueMicrotask(() => script(stream));
      },
    },
  } as unknown as Docker;
  return { docker, dialed };
}

Deno.test("waitContainer() gives the exit status from the body sent when the container stops", async () => {
  const { docker, dialed } = engine((s) => {
    s.emit("data", '{"StatusCode"');
    s.emit("data", new TextEncoder().encode(': 3, "Error": null}'));
    s.emit("end");
    s.emit("close");
  });
  assert.equal(await waitContainer(docker, "abc"), 3);
  assert.equal(dialed[0]?.path, "/containers/abc/wait?");
  assert.equal(dialed[0]?.method, "POST");
  assert.deepEqual(dialed[0]?.options, { condition: "not-running" });
  const none = engine((s) => {
    s.emit("data", "{}");
    s.emit("end");
  });
  assert.equal(await waitContainer(none.docker, "abc"), null);
});

Deno.test("waitContainer() fails as a lost connection when the engine hangs up before the body", async () => {
  for (const ending of ["close", "aborted", "error"]) {
    const { docker } = engine((s) => {
      s.emit("data", '{"Stat');
      s.emit(ending, new Error("x"));
    });
    const error = await waitContainer(docker, "abc").catch((e) => e);
    assert.match(String(error), /socket hang up/, ending);
    assert.equal(isConnectionError(error), true, ending);
  }
  // A body cut short and then ended is lost too.
  const cut = engine((s) => {
    s.emit("data", '{"StatusCo');
    s.emit("end");
  });
  assert.equal(
    isConnectionError(await waitContainer(cut.docker, "a").catch((e) => e)),
    true,
  );
});

Deno.test("waitContainer() passes on the engine's refusal", async () => {
  const refusal = Object.assign(new Error("no such container"), {
    statusCode: 404,
  });
  const { docker } = engine(() => {}, refusal);
  assert.equal(await waitContainer(docker, "gone").catch((e) => e), refusal);
});

Deno.test("execExitCode() asks again while the engine has not yet recorded the exec's end", async () => {
  const answers = [
    { Running: true, ExitCode: null },
    { Running: false, ExitCode: null },
    { Running: false, ExitCode: 7 },
  ];
  let asked = 0;
  const exec = { inspect: () => Promise.resolve(answers[asked++]!) };
  assert.equal(await execExitCode(exec, { pollMs: 1, limitMs: 5_000 }), 7);
  assert.equal(asked, 3);
});

Deno.test("execExitCode() gives null when the exec never says it ended within the limit", async () => {
  let asked = 0;
  const exec = {
    inspect: () => {
      asked++;
      return Promise.resolve({ Running: true, ExitCode: null });
    },
  };
  assert.equal(await execExitCode(exec, { pollMs: 1, limitMs: 30 }), null);
  assert.ok(asked > 1, `asked ${asked} times`);
});
