/**
 * Shared pieces of the end-to-end tests: the CLI spawned as a user would
 * (real SDK against the scripted fake Anthropic server, real Docker), a
 * scoring repo, readers of `.ratchet/`, the Docker daemon queried directly
 * for a run's containers, and builders of scripted model turns.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import type { CliResult, Spawned } from "../_helpers/cli.ts";
import { runCli, spawnCli } from "../_helpers/cli.ts";
import { containersOfRun, forceRemoveContainer } from "../_helpers/docker.ts";
import type { FakeAnthropic, FakeStep } from "../_helpers/fake_anthropic.ts";
import { type TempRepo, tempRepo } from "../_helpers/git_repo.ts";
import { scoreRunFlags } from "../_helpers/score_flags.ts";

export const IMAGE = "busybox:latest";

/** The keys of a `results.jsonl` record, as spec section 8 lists them. */
export const SPEC_RECORD_KEYS = [
  "schema_version",
  "run_id",
  "iter",
  "decision",
  "kept",
  "hypothesis",
  "description",
  "trial_scores",
  "trial_outcomes",
  "baseline_scores",
  "avg",
  "p_value",
  "effect",
  "ci",
  "sha",
  "reason",
  "detail",
  "guards",
  "tokens",
  "cost_usd",
  "duration_s",
  "diff_stat",
  "critic",
  "timestamp",
].sort();

/** A record as the tests read it. */
export interface Rec {
  schema_version: number;
  run_id: string;
  iter: number;
  decision: string;
  kept: boolean;
  hypothesis: string;
  description: string;
  trial_scores: (number | null)[];
  trial_outcomes: string[];
  baseline_scores: number[];
  avg: number | null;
  p_value: number | null;
  effect: number | null;
  ci: [number, number] | null;
  sha: string | null;
  reason: string | null;
  detail: string;
  guards:
    | Record<string, {
      scores: (number | null)[];
      baseline_scores: number[];
      avg: number | null;
      effect: number | null;
      ci: [number, number] | null;
      p_value: number | null;
    }>
    | null;
  tokens: {
    input: number;
    output: number;
    cache_write: number;
    cache_read: number;
  };
  cost_usd: number;
  duration_s: number;
  diff_stat: { files: number; insertions: number; deletions: number };
  critic: {
    proposals: { title: string; hypothesis: string; plan: string }[];
    choice: string;
    rationale: string;
  } | null;
  timestamp: string;
}

// ---------------------------------------------------------------------------
// The repository under optimisation

/**
 * A repo whose score is the number in value.txt, printed by the harness
 * score.sh through the "program" prog.sh (so a candidate can make the command
 * crash by breaking prog.sh). `extra` adds or overrides files.
 */
export function scoringRepo(
  extra: Record<string, string> = {},
): Promise<TempRepo> {
  return tempRepo({
    "value.txt": "10\n",
    "prog.sh": "cat value.txt\n",
    "score.sh": 'out=$(sh prog.sh) || exit $?\necho "score: $out"\n',
    "README.md": "a repo to optimise\n",
    ...extra,
  });
}

/** The flags of a `ratchet run` on {@linkcode scoringRepo}. */
export function runArgs(iterations: number, ...extra: string[]): string[] {
  return [
    ...scoreRunFlags({ harness: ["score*.sh"], image: IMAGE }),
    "--iterations",
    String(iterations),
    ...extra,
  ];
}

/** Environment for the CLI: a test key and the fake server. */
export function apiEnv(
  server: FakeAnthropic | null,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ANTHROPIC_API_KEY: "test",
    ...(server === null ? {} : { ANTHROPIC_BASE_URL: server.url }),
    ...extra,
  };
}

/** `ratchet <args>` in `cwd` against `server`. */
export function ratchet(
  args: string[],
  cwd: string,
  server: FakeAnthropic | null,
  options: { env?: Record<string, string>; entry?: string } = {},
): Promise<CliResult> {
  return runCli(args, {
    cwd,
    env: apiEnv(server, options.env),
    ...(options.entry === undefined ? {} : { entry: options.entry }),
  });
}

/** Spawn `ratchet <args>` like {@linkcode ratchet}, but hand back the process. */
export function spawnRatchet(
  args: string[],
  cwd: string,
  server: FakeAnthropic | null,
): Spawned {
  return spawnCli(args, { cwd, env: apiEnv(server) });
}

/** Poll `predicate` every 50 ms until true; fail after `timeoutMs`. */
export async function waitFor(
  what: string,
  predicate: () => boolean | Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------
// Reading .ratchet/

/** Every record of results.jsonl; every line must parse. */
export async function readRecords(dir: string): Promise<Rec[]> {
  const text = await Deno.readTextFile(join(dir, ".ratchet/results.jsonl"));
  return text.split("\n").filter((l) => l !== "").map((l) =>
    JSON.parse(l) as Rec
  );
}

/** `.ratchet/config.json`. */
export async function readRun(dir: string): Promise<{
  run_id: string;
  branch: string;
  start_sha: string;
  state: string;
  stop_reason: string | null;
  [key: string]: unknown;
}> {
  return JSON.parse(await Deno.readTextFile(join(dir, ".ratchet/config.json")));
}

/** `.ratchet/current.json`, or null. */
export async function readCurrent(
  dir: string,
): Promise<
  { run_id: string; iter: number; phase: string; cost_usd: number } | null
> {
  try {
    return JSON.parse(
      await Deno.readTextFile(join(dir, ".ratchet/current.json")),
    );
  } catch {
    return null;
  }
}

/** Whether `path` exists. */
export async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** Names of the report files of iteration `iter`, sorted. */
export async function reportsOf(dir: string, iter: number): Promise<string[]> {
  const prefix = `iter-${String(iter).padStart(4, "0")}-trial-`;
  const names: string[] = [];
  for await (const e of Deno.readDir(join(dir, ".ratchet/reports"))) {
    if (e.name.startsWith(prefix)) names.push(e.name);
  }
  return names.sort();
}

/** The side a trial report says it measured ("incumbent" / "candidate"). */
export async function reportSide(dir: string, name: string): Promise<string> {
  const text = await Deno.readTextFile(join(dir, ".ratchet/reports", name));
  const m = /trial \d+ \((incumbent|candidate)\)/.exec(text.split("\n")[0]!);
  assert.ok(m, `no side in the first line of ${name}: ${text.slice(0, 200)}`);
  return m[1]!;
}

/**
 * The invariants every results.jsonl keeps: every key of spec section 8 on
 * every record, schema_version 1, iters dense from 0 without duplicates, one
 * run_id, outcomes as long as scores.
 */
export function assertRecordsWellFormed(records: Rec[], runId: string): void {
  assert.ok(records.length > 0, "no records");
  records.forEach((r, i) => {
    assert.deepEqual(
      Object.keys(r).sort(),
      SPEC_RECORD_KEYS,
      `record ${i} keys`,
    );
    assert.equal(r.schema_version, 1);
    assert.equal(
      r.iter,
      i,
      `iters must be dense from 0: ${records.map((x) => x.iter)}`,
    );
    assert.equal(r.run_id, runId);
    assert.equal(r.trial_outcomes.length, r.trial_scores.length);
    assert.match(r.timestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(
      Object.keys(r.tokens).sort(),
      ["cache_read", "cache_write", "input", "output"],
    );
    assert.deepEqual(
      Object.keys(r.diff_stat).sort(),
      ["deletions", "files", "insertions"],
    );
  });
  assert.equal(records[0]!.decision, "baseline");
  assert.equal(records[0]!.kept, true);
}

// ---------------------------------------------------------------------------
// Git of the temp repo

/** Commits of `ref` not on `base`, oldest first. */
export async function commitsOn(
  repo: TempRepo,
  ref: string,
  base: string,
): Promise<string[]> {
  const out = await repo.git("rev-list", "--reverse", `${base}..${ref}`);
  return out === "" ? [] : out.split("\n");
}

/** The kept records' shas equal the run branch's commits, in order. */
export async function assertBranchMatchesKept(
  repo: TempRepo,
  records: Rec[],
  branch: string,
): Promise<void> {
  const kept = records.filter((r) => r.iter > 0 && r.kept).map((r) => r.sha);
  assert.deepEqual(
    await commitsOn(repo, branch, records[0]!.sha!),
    kept,
    "the run branch holds exactly the kept commits",
  );
  const tip = await repo.git("rev-parse", branch);
  assert.equal(tip, kept.at(-1) ?? records[0]!.sha);
}

// ---------------------------------------------------------------------------
// Docker, asked directly

/** Ids of every container (running or not) labelled `ratchet.run=<runId>`. */
export async function runContainers(runId: string): Promise<string[]> {
  return (await containersOfRun(runId)).map((c) => c.Id);
}

/** Remove every container of the runs recorded in `dir` (current and archived). */
export async function removeRunContainers(dir: string): Promise<void> {
  const ids = new Set<string>();
  const run = await readRun(dir).catch(() => null);
  if (run) ids.add(run.run_id);
  try {
    for await (const e of Deno.readDir(join(dir, ".ratchet/runs"))) {
      ids.add(e.name);
    }
  } catch { /* no archive */ }
  for (const id of ids) {
    for (const c of await runContainers(id).catch(() => [])) {
      await forceRemoveContainer(c).catch(() => {});
    }
  }
}

// ---------------------------------------------------------------------------
// Scripted model turns

/** One content block of a scripted model turn. */
export type Block = Extract<FakeStep, { content: unknown }>["content"] extends
  (infer B)[] | undefined ? B : never;

/** One model turn made of `blocks`. */
export function turn(...blocks: Block[]): FakeStep {
  return { content: blocks };
}

/** A turn that takes `delayMs` to start answering. */
export function slowTurn(delayMs: number, ...blocks: Block[]): FakeStep {
  return { content: blocks, delay_ms: delayMs };
}

export const say = (text: string): Block => ({ type: "text", text });

export const replace = (
  path: string,
  oldStr: string,
  newStr: string,
): Block => ({
  type: "tool_use",
  name: "str_replace_based_edit_tool",
  input: { command: "str_replace", path, old_str: oldStr, new_str: newStr },
});

export const create = (path: string, text: string): Block => ({
  type: "tool_use",
  name: "str_replace_based_edit_tool",
  input: { command: "create", path, file_text: text },
});

export const bash = (command: string): Block => ({
  type: "tool_use",
  name: "bash",
  input: { command },
});

export const submit = (hypothesis: string, description: string): Block => ({
  type: "tool_use",
  name: "submit_change",
  input: { hypothesis, description },
});

/** An iteration that sets value.txt from `from` to `to` and submits, in one turn. */
export function setValue(
  from: number,
  to: number,
  why = `value ${to}`,
): FakeStep {
  return turn(
    replace("/work/value.txt", String(from), String(to)),
    submit(`Setting the value to ${to} raises the score.`, why),
  );
}

/** An iteration that ends without submitting (the model is reminded once). */
export function giveUp(): FakeStep[] {
  return [turn(say("I see nothing to change.")), turn(say("Still nothing."))];
}

/** The text of a recorded request's first user message (what the iteration was told). */
export function firstUserText(server: FakeAnthropic, index: number): string {
  const body = server.requests[index]!.body!;
  const messages = body.messages as { role: string; content: unknown }[];
  const content = messages[0]!.content;
  if (typeof content === "string") return content;
  return (content as { type: string; text?: string }[])
    .map((b) => b.text ?? "").join("\n");
}

/** Indexes of the requests that open a proposal (a single user message). */
export function proposalStarts(server: FakeAnthropic): number[] {
  return server.requests.flatMap((r, i) =>
    (r.body?.messages as unknown[] | undefined)?.length === 1 ? [i] : []
  );
}
