/** What the store's tests (src/infra/store/) share: a store in a fresh repository, sample state, a child process. */
import { join } from "node:path";
import {
  type CurrentIteration,
  type IterationRecord,
  makeRecord,
} from "../../src/core/state.ts";
import { EnvironmentError, ExitCode } from "../../src/errors.ts";
import { type RunFile, Store } from "../../src/infra/store/store.ts";
import type { Confirmation } from "../../src/core/confirm.ts";

export const RUN_ID = "20250109-235907-0a9f";
export const STORE_URL =
  new URL("../../src/infra/store/store.ts", import.meta.url).href;
export const FAULT_URL =
  new URL("../../src/infra/fault.ts", import.meta.url).href;
/** The project's config: the child imports the store, which imports zod by its bare name. */
export const DENO_JSON = new URL("../../deno.json", import.meta.url).pathname;

export async function withStore(
  fn: (store: Store, repo: string) => Promise<void>,
): Promise<void> {
  const repo = await Deno.makeTempDir({ prefix: "ratchet-store-" });
  try {
    await fn(new Store(repo), repo);
  } finally {
    await Deno.remove(repo, { recursive: true });
  }
}

export function record(iter: number, runId = RUN_ID): IterationRecord {
  return makeRecord({
    run_id: runId,
    iter,
    decision: iter === 0 ? "baseline" : "no_change",
    timestamp: `2025-01-10T00:00:0${iter % 10}.000Z`,
    trial_scores: [1.5, null],
    trial_outcomes: ["ok", "crashed"],
  });
}

export function runFile(overrides: Partial<RunFile> = {}): RunFile {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    created_at: "2025-01-09T23:59:07.000Z",
    repo_root: "/repo",
    start_sha: "a".repeat(40),
    branch: `ratchet/${RUN_ID}`,
    config: { "run-command": "echo score: 1", trials: 3, harness: ["t/**"] },
    deterministic: null,
    trial_image: null,
    unit: null,
    state: "running",
    stop_reason: null,
    finished_at: null,
    ...overrides,
  };
}

export function current(
  iter: number,
  phase: CurrentIteration["phase"],
): CurrentIteration {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    iter,
    phase,
    incumbent_sha: "b".repeat(40),
    candidate_tree: null,
    hypothesis: "h",
    description: "d",
    started_at: "2025-01-10T00:00:00.000Z",
    tokens: { input: 1, output: 2, cache_write: 3, cache_read: 4 },
    cost_usd: 0.25,
  };
}

/** Run a TypeScript snippet in a fresh Deno process. */
export async function runChild(
  code: string,
  env: Record<string, string>,
): Promise<
  { code: number; signal: Deno.Signal | null; stdout: string; stderr: string }
> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-store-child-" });
  try {
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(script, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--config", DENO_JSON, "--no-lock", script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const decode = (b: Uint8Array) => new TextDecoder().decode(b);
    return {
      code: out.code,
      signal: out.signal,
      stdout: decode(out.stdout),
      stderr: decode(out.stderr),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

export const damagedError =
  (path: string, ...words: string[]) => (e: unknown) =>
    e instanceof EnvironmentError && e.exitCode === ExitCode.environment &&
    e.message.includes(path) && words.every((w) => e.message.includes(w)) &&
    e.hint !== undefined;

export async function tempNames(dir: string): Promise<string[]> {
  return (await Array.fromAsync(Deno.readDir(dir)))
    .map((e) => e.name)
    .filter((n) => n.endsWith(".tmp"));
}

export function confirmation(): Confirmation {
  return {
    schema_version: 1,
    run_id: RUN_ID,
    baseline_sha: "a".repeat(40),
    incumbent_sha: "b".repeat(40),
    incumbent_iter: 1,
    through_iter: 2,
    per_side: 1,
    trials: [{ side: "baseline", k: 1, score: 1, outcome: "ok", guards: {} }],
    result: null,
    started_at: "2025-01-01T00:00:00.000Z",
    finished_at: null,
  };
}
