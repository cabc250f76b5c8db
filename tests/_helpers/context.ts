/**
 * A CommandContext for tests that call a command in-process: memory output,
 * a fixed clock, and the real composition root over `env` (adapters are
 * built lazily, so a command that needs no engine never connects), with
 * git run by the tests' own context (this process's environment: `env` is
 * only what the command reads, and a git without PATH or HOME is not git).
 */
import { createDeps } from "../../src/app/deps.ts";
import type { CommandContext } from "../../src/cli/context.ts";
import { memoryOutput } from "../../src/ui/output.ts";
import { testGit } from "./git_context.ts";

/** The context, its output kept in memory for assertions. */
export function testContext(
  cwd: string,
  env: Record<string, string> = {},
): CommandContext & { output: ReturnType<typeof memoryOutput> } {
  const now = () => new Date("2026-03-02T12:00:00.000Z");
  return {
    cwd,
    env,
    output: memoryOutput(),
    signal: new AbortController().signal,
    now,
    deps: { ...createDeps({ env, now }), git: testGit },
  };
}
