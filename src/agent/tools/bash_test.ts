import assert from "node:assert/strict";
import type { ExecResult } from "../../infra/runtime.ts";
import type { Workspace } from "../../infra/workspace.ts";
import { UpstreamError } from "../../errors.ts";
import {
  clipOutput,
  MAX_BASH_OUTPUT_CHARS,
  SANDBOX_OUTPUT_CAP_BYTES,
} from "./bash.ts";
import { runTool, type ToolOutcome, toolsFor } from "./mod.ts";

const done: ExecResult = {
  exitCode: 0,
  stdout: "",
  stderr: "",
  timedOut: false,
  truncated: false,
};

/** Run the bash tool against a sandbox that answers with `result` and records the calls. */
async function bash(
  input: Record<string, unknown>,
  result: Partial<ExecResult> | Error = {},
): Promise<
  {
    outcome: ToolOutcome;
    calls: [string, { timeoutMs: number; outputCapBytes?: number }][];
  }
> {
  const calls: [string, { timeoutMs: number; outputCapBytes?: number }][] = [];
  const outcome = await runTool(toolsFor("implementer"), "bash", input, {
    workspace: {} as Workspace,
    sandbox: {
      exec(command, options) {
        calls.push([command, options]);
        return result instanceof Error
          ? Promise.reject(result)
          : Promise.resolve({ ...done, ...result });
      },
    },
    bashTimeoutSeconds: 7,
    readOnly: false,
  });
  return { outcome, calls };
}

Deno.test("bash runs one command in the sandbox with the configured timeout and output cap", async () => {
  const { outcome, calls } = await bash({ command: "ls /work" }, {
    stdout: "a.py\nb.py\n",
  });
  assert.deepEqual(outcome, { content: "a.py\nb.py", isError: false });
  assert.deepEqual(calls, [["ls /work", {
    timeoutMs: 7000,
    outputCapBytes: SANDBOX_OUTPUT_CAP_BYTES,
  }]]);
});

Deno.test("bash shows stderr and marks a non-zero exit as an error", async () => {
  const { outcome } = await bash({ command: "make" }, {
    exitCode: 2,
    stdout: "building\n",
    stderr: "error: x\n",
  });
  assert.deepEqual(outcome, {
    content: "building\n[stderr]\nerror: x\n[exit code 2]",
    isError: true,
  });
});

Deno.test("bash reports a timeout as an error naming --bash-timeout-seconds", async () => {
  const { outcome } = await bash({ command: "sleep 100" }, {
    exitCode: null,
    timedOut: true,
    stdout: "started\n",
  });
  assert.equal(outcome.isError, true);
  assert.equal(
    outcome.content,
    "started\n[the command timed out after 7 s (--bash-timeout-seconds) and was killed]",
  );
});

Deno.test("bash truncates long output with a note", async () => {
  const long = "x".repeat(MAX_BASH_OUTPUT_CHARS * 2);
  const { outcome } = await bash({ command: "yes" }, {
    stdout: long,
    truncated: true,
  });
  assert.ok(outcome.content.length < MAX_BASH_OUTPUT_CHARS + 300);
  assert.match(outcome.content, /\[… 30000 characters omitted …\]/);
  assert.match(outcome.content, /output exceeded 1048576 bytes and was cut/);
});

Deno.test("clipOutput() keeps the head and the longer tail", () => {
  const text = `${"a".repeat(50)}${"b".repeat(100)}`;
  const clipped = clipOutput(text, 60);
  assert.equal(
    clipped,
    `${"a".repeat(20)}\n[… 90 characters omitted …]\n${"b".repeat(40)}`,
  );
  assert.equal(clipOutput("short", 60), "short");
});

Deno.test("bash accepts restart, which does nothing, and requires a command otherwise", async () => {
  const restart = await bash({ restart: true });
  assert.equal(restart.outcome.isError, false);
  assert.equal(restart.calls.length, 0);
  const missing = await bash({});
  assert.deepEqual(missing.outcome, {
    content: 'Missing parameter "command".',
    isError: true,
  });
});

Deno.test("bash turns a sandbox failure into an error result but lets a RatchetError stop the run", async () => {
  const { outcome } = await bash(
    { command: "ls" },
    new Error("exec create failed"),
  );
  assert.deepEqual(outcome, {
    content: "The sandbox could not run the command: exec create failed",
    isError: true,
  });
  await assert.rejects(
    bash({ command: "ls" }, new UpstreamError("Docker daemon died")),
    UpstreamError,
  );
});

Deno.test("bash says (no output) for a silent success", async () => {
  const { outcome } = await bash({ command: "true" });
  assert.deepEqual(outcome, { content: "(no output)", isError: false });
});
