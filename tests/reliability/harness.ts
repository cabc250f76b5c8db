/**
 * The reliability lab: one scenario = one temp repo, the real CLI spawned as
 * a user would (`deno run main.ts`, real git, real Docker, busybox), the
 * stateless fake model, a fault (a fault point, a signal, an upstream
 * failure), the recovery (`resume`, or a new `run`), and the invariants
 * checked after every step. Every check is recorded (what held and what did
 * not) so tools/reliability_report.ts can render docs/reliability.md from
 * what actually ran.
 *
 * All runs share one script shape (`SCORE_FILES`, `runArgs`): value.txt holds
 * the score; odd iterations improve it (kept, committed), even ones regress
 * (reverted); `--decision mean --trials 1` keeps it to one trial per
 * iteration, so `trial.before-start:N` is the N-th trial of the run
 * (1 = baseline, N = iteration N − 1).
 */
import { join } from "node:path";
import {
  containersOfRun,
  dockerApi,
  forceRemoveContainer,
  socketOfHost,
} from "../_helpers/docker.ts";
import { runGit } from "../_helpers/git_repo.ts";
import { repoKeyOf } from "../../src/trial/prepare.ts";
import { spawnCli } from "../_helpers/cli.ts";
import { scoreRunFlags } from "../_helpers/score_flags.ts";

/** A CLI call that takes longer than this is killed and counted as hung. */
const HANG_MS = 120_000;

/** The repository every scenario optimises. */
export const SCORE_FILES: Record<string, string> = {
  "value.txt": "10\n",
  "score.sh": 'echo "score: $(cat value.txt)"\n',
  "README.md": "reliability lab\n",
};

/** Iterations of the standard scenario: 1 improves (kept), 2 regresses (reverted). */
export const ITERATIONS = 2;

/** `ratchet run` flags of the standard scenario. */
export function runArgs(iterations = ITERATIONS, ...extra: string[]): string[] {
  return [
    ...scoreRunFlags(),
    "--iterations",
    String(iterations),
    "--decision",
    "mean",
    "--trials",
    "1",
    "--json",
    ...extra,
  ];
}

/** One CLI invocation of a scenario. */
export interface Step {
  label: string;
  args: string[];
  /** Exit code; 137 when the process died of SIGKILL. */
  code: number;
  seconds: number;
  /** Last lines of stderr, for the report of a failure. */
  stderrTail: string;
}

/** One invariant, checked at one stage. */
export interface Check {
  name: string;
  stage: string;
  ok: boolean;
  detail: string;
}

/** What one scenario did and what held. */
export interface ScenarioResult {
  id: string;
  group: string;
  title: string;
  /** The injected fault, e.g. `SIGKILL at loop.committed:2`. */
  fault: string;
  /** How the run came back: "resume", "run", "none". */
  recovery: string;
  steps: Step[];
  checks: Check[];
  ok: boolean;
  seconds: number;
  error: string | null;
  /**
   * The fault was timed by the clock (`kill -9` after a delay): where it
   * lands, hence the recovery, the steps and which checks apply, varies from
   * run to run. The page marks these values with †.
   */
  timed?: boolean;
}

/** A record as the checks read it. */
export interface Rec {
  iter: number;
  run_id: string;
  decision: string;
  kept: boolean;
  sha: string | null;
  [key: string]: unknown;
}

/** Deterministic PRNG (mulberry32) for the random-kill delays. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Run `tasks` with at most `limit` at a time, results in input order. */
export async function pool<T>(
  limit: number,
  tasks: (() => Promise<T>)[],
): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const i = next++;
      results[i] = await tasks[i]!();
    }
  };
  await Promise.all(
    Array.from({ length: Math.min(limit, tasks.length) }, worker),
  );
  return results;
}

// ---------------------------------------------------------------------------
// Docker, asked directly over its socket (the lab may use a private daemon)

/** Names of every container (running or not) labelled `ratchet.run=<runId>`. */
export async function runContainers(
  runId: string,
  dockerHost?: string,
): Promise<string[]> {
  const list = await containersOfRun(runId, socketOfHost(dockerHost));
  return list.map((c) =>
    `${c.Id.slice(0, 12)}(${c.Labels["ratchet.role"] ?? "trial"})`
  );
}

/** Tree images and volumes labelled `ratchet.run=<runId>`, by name. */
export async function runImagesAndVolumes(
  runId: string,
  dockerHost?: string,
): Promise<string[]> {
  const socket = socketOfHost(dockerHost);
  const filters = encodeURIComponent(
    JSON.stringify({ label: [`ratchet.run=${runId}`] }),
  );
  const images = await dockerApi(
    "GET",
    `/images/json?filters=${filters}`,
    socket,
  ) as { Id: string; RepoTags?: string[] }[];
  const volumes = await dockerApi(
    "GET",
    `/volumes?filters=${filters}`,
    socket,
  ) as { Volumes?: { Name: string }[] } | null;
  return [
    ...images.map((i) => `image ${i.RepoTags?.[0] ?? i.Id.slice(7, 19)}`),
    ...(volumes?.Volumes ?? []).map((v) => `volume ${v.Name}`),
  ];
}

/** Remove the prepared images ratchet keeps as the cache of the repository at `dir`. */
export async function removePreparedImages(
  dir: string,
  dockerHost?: string,
): Promise<void> {
  const socket = socketOfHost(dockerHost);
  const filters = encodeURIComponent(JSON.stringify({
    label: ["ratchet.role=prepared", `ratchet.repo=${repoKeyOf(dir)}`],
  }));
  const images = await dockerApi(
    "GET",
    `/images/json?filters=${filters}`,
    socket,
  ) as { Id: string }[];
  for (const image of images) {
    await dockerApi("DELETE", `/images/${image.Id}?force=true`, socket);
  }
}

/** Force-remove every container labelled with one of `runIds`. */
export async function removeContainers(
  runIds: Iterable<string>,
  dockerHost?: string,
): Promise<void> {
  const socket = socketOfHost(dockerHost);
  for (const id of runIds) {
    const list = await containersOfRun(id, socket).catch(() => []);
    for (const c of list) {
      await forceRemoveContainer(c.Id, socket).catch(() => {});
    }
  }
}

// ---------------------------------------------------------------------------
// Reading the repo

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

async function readText(path: string): Promise<string | null> {
  return await Deno.readTextFile(path).catch(() => null);
}

/** results.jsonl split into parsed records and what did not parse. */
export function parseResults(
  text: string,
): { records: Rec[]; bad: { line: number; text: string; last: boolean }[] } {
  const lines = text.split("\n");
  const records: Rec[] = [];
  const bad: { line: number; text: string; last: boolean }[] = [];
  const complete = text.endsWith("\n") ? lines.length - 1 : lines.length;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const last = i >= complete - 1;
    if (i >= complete) {
      bad.push({ line: i + 1, text: line.slice(0, 80), last: true });
      continue;
    }
    try {
      records.push(JSON.parse(line) as Rec);
    } catch {
      bad.push({ line: i + 1, text: line.slice(0, 80), last });
    }
  }
  return { records, bad };
}

/** How to stop a spawned CLI early. */
export interface KillPlan {
  signal: Deno.Signal;
  /** After this many ms. */
  afterMs?: number;
  /** As soon as stdout+stderr satisfy this. */
  when?: (stdout: string, stderr: string) => boolean;
  /** Called (once) instead of killing the CLI, e.g. to stop dockerd. */
  action?: () => Promise<void> | void;
}

/** A spawned CLI the caller can wait for. */
export interface Spawned {
  pid: number;
  stdout(): string;
  stderr(): string;
  done: Promise<
    { code: number; stdout: string; stderr: string; hung: boolean }
  >;
}

/** Spawn `ratchet <args>` in `cwd`, stopped early as `kill` plans. */
export function spawnRatchet(
  args: string[],
  cwd: string,
  env: Record<string, string>,
  kill?: KillPlan,
  hangMs = HANG_MS,
): Spawned {
  let fired = false;
  const fire = () => {
    if (fired || kill === undefined) return;
    fired = true;
    if (kill.action) {
      void Promise.resolve(kill.action());
      return;
    }
    cli.kill(kill.signal);
  };
  const cli = spawnCli(args, {
    cwd,
    env,
    onOutput: (out, err) => {
      if (kill?.when?.(out, err)) fire();
    },
  });
  const timer = kill?.afterMs !== undefined
    ? setTimeout(fire, kill.afterMs)
    : undefined;
  // A hung CLI must fail the scenario, not the whole suite's time budget.
  let hung = false;
  const watchdog = setTimeout(() => {
    hung = true;
    cli.kill("SIGKILL");
  }, hangMs);
  const done = cli.done.then((r) => {
    clearTimeout(timer);
    clearTimeout(watchdog);
    const stderr = hung
      ? `${r.stderr}\n[reliability lab: killed after hanging ${hangMs / 1000}s]`
      : r.stderr;
    return { ...r, stderr, hung };
  });
  return {
    pid: cli.child.pid,
    stdout: cli.stdout,
    stderr: cli.stderr,
    done,
  };
}

// ---------------------------------------------------------------------------
// A scenario

/** Options of a scenario. */
export interface LabOptions {
  id: string;
  group: string;
  title: string;
  fault: string;
  /** The fake model's URL. */
  modelUrl: string;
  /** Extra environment of every CLI call (DOCKER_HOST of a private daemon, API tuning). */
  env?: Record<string, string>;
  /** Make the repo under this directory (a small filesystem). */
  parentDir?: string;
}

/** One scenario's repo, steps and checks. */
export class Lab {
  readonly dir: string;
  readonly result: ScenarioResult;
  readonly #env: Record<string, string>;
  readonly #runIds = new Set<string>();
  readonly #started = performance.now();
  readonly dockerHost: string | undefined;
  /** Records seen durable after each step, to check that nothing is lost later. */
  #durable: Rec[] = [];

  private constructor(dir: string, options: LabOptions) {
    this.dir = dir;
    this.#env = {
      ANTHROPIC_API_KEY: "test",
      ANTHROPIC_BASE_URL: options.modelUrl,
      ...options.env,
    };
    this.dockerHost = this.#env.DOCKER_HOST ?? Deno.env.get("DOCKER_HOST");
    this.result = {
      id: options.id,
      group: options.group,
      title: options.title,
      fault: options.fault,
      recovery: "none",
      steps: [],
      checks: [],
      ok: false,
      seconds: 0,
      error: null,
    };
  }

  /** Make the repo (value.txt, score.sh) with one commit. */
  static async create(options: LabOptions): Promise<Lab> {
    const dir = await Deno.makeTempDir({
      prefix: "ratchet-rel-",
      ...(options.parentDir ? { dir: options.parentDir } : {}),
    });
    await runGit(dir, ["init", "-q", "-b", "main"]);
    for (const [name, text] of Object.entries(SCORE_FILES)) {
      await Deno.writeTextFile(join(dir, name), text);
    }
    await runGit(dir, ["add", "-A"]);
    await runGit(dir, ["commit", "-q", "-m", "initial"]);
    return new Lab(dir, options);
  }

  /** Commit every change in the repo (before a run). */
  async commitAll(message: string): Promise<void> {
    await runGit(this.dir, ["add", "-A"]);
    await runGit(this.dir, ["commit", "-q", "-m", message]);
  }

  get ratchetDir(): string {
    return join(this.dir, ".ratchet");
  }

  /** Run ratchet to the end (or until `kill` stops it) and record the step. */
  async ratchet(
    label: string,
    args: string[],
    options: { env?: Record<string, string>; kill?: KillPlan } = {},
  ): Promise<Step & { stdout: string; stderr: string }> {
    const t0 = performance.now();
    const p = spawnRatchet(
      args,
      this.dir,
      { ...this.#env, ...options.env },
      options.kill,
    );
    const r = await p.done;
    const step: Step = {
      label,
      args: args.filter((a) => a !== "--json"),
      code: r.code,
      seconds: round((performance.now() - t0) / 1000),
      stderrTail: r.stderr.trim().split("\n").slice(-4).join("\n").slice(-600),
    };
    this.result.steps.push(step);
    if (r.hung) {
      this.check(label, "ratchet did not hang", false, step.stderrTail);
    }
    await this.#noteRunId();
    return { ...step, stdout: r.stdout, stderr: r.stderr };
  }

  /** Spawn ratchet and hand back the process (for concurrency scenarios). */
  spawn(
    args: string[],
    options: { env?: Record<string, string>; kill?: KillPlan } = {},
  ): Spawned {
    return spawnRatchet(
      args,
      this.dir,
      { ...this.#env, ...options.env },
      options.kill,
    );
  }

  /** Record a step run by the caller. */
  note(step: Step): void {
    this.result.steps.push(step);
  }

  /** Record one check. */
  check(stage: string, name: string, ok: boolean, detail = ""): boolean {
    this.result.checks.push({ name, stage, ok, detail: detail.slice(0, 400) });
    return ok;
  }

  async #noteRunId(): Promise<string | null> {
    const cfg = await readText(join(this.ratchetDir, "config.json"));
    if (cfg === null) return null;
    try {
      const id = (JSON.parse(cfg) as { run_id: string }).run_id;
      this.#runIds.add(id);
      return id;
    } catch {
      return null;
    }
  }

  /** config.json, or null. */
  async runFile(): Promise<
    {
      run_id: string;
      branch: string;
      start_sha: string;
      state: string;
      stop_reason: string | null;
    } | null
  > {
    const text = await readText(join(this.ratchetDir, "config.json"));
    return text === null ? null : JSON.parse(text);
  }

  /** The parsed results.jsonl (torn lines reported, not thrown). */
  async results(): Promise<ReturnType<typeof parseResults>> {
    const text = await readText(join(this.ratchetDir, "results.jsonl"));
    return parseResults(text ?? "");
  }

  /**
   * The checks after a stop that was not clean (SIGKILL, or a stop whose
   * process is gone mid-write): results.jsonl parses but for a torn last
   * line, iter is dense, and every record durable before is still there.
   */
  async verifyAfterCrash(stage: string): Promise<void> {
    const { records, bad } = await this.results();
    this.check(
      stage,
      "results.jsonl parses (a torn last line at most)",
      bad.every((b) => b.last) && bad.length <= 1,
      bad.map((b) => `line ${b.line}: ${b.text}`).join("; "),
    );
    this.#checkDense(stage, records);
    this.#checkPreserved(stage, records);
  }

  /**
   * The checks after a clean stop (finished, or stopped resumably with exit
   * 4 / 130 / 143): every line parses, iter dense, nothing lost, the
   * worktree at the incumbent commit (or removed when finished), the run
   * branch holding exactly the kept commits, no container of the run left,
   * the lock released.
   */
  async verifyClean(
    stage: string,
    expect: {
      finished: boolean;
      iterations?: number;
      skipContainers?: boolean;
    },
  ): Promise<void> {
    const text = await readText(join(this.ratchetDir, "results.jsonl")) ?? "";
    const { records, bad } = parseResults(text);
    this.check(
      stage,
      "results.jsonl parses, every line complete",
      bad.length === 0 && (text === "" || text.endsWith("\n")),
      bad.map((b) => `line ${b.line}: ${b.text}`).join("; "),
    );
    this.#checkDense(stage, records);
    this.#checkPreserved(stage, records);
    const run = await this.runFile();
    if (!this.check(stage, "config.json names the run", run !== null)) return;
    this.#runIds.add(run!.run_id);
    const incumbent = records.filter((r) => r.kept).at(-1)?.sha ??
      run!.start_sha;
    const worktree = join(this.ratchetDir, "worktree");
    const registered =
      (await runGit(this.dir, ["worktree", "list", "--porcelain"]))
        .includes(worktree);
    if (expect.finished) {
      this.check(
        stage,
        "run finished",
        run!.state === "finished" &&
          (expect.iterations === undefined ||
            records.length === expect.iterations + 1),
        `state ${run!.state}, stop ${
          run!.stop_reason
        }, ${records.length} records`,
      );
      this.check(
        stage,
        "worktree removed",
        !(await exists(worktree)) && !registered,
        `exists ${await exists(worktree)}, registered ${registered}`,
      );
    } else {
      this.check(
        stage,
        "run left resumable",
        run!.state === "running",
        `state ${run!.state}, stop ${run!.stop_reason}`,
      );
      let head = "";
      let status = "?";
      try {
        head = await runGit(worktree, ["rev-parse", "HEAD"]);
        status = await runGit(worktree, ["status", "--porcelain"]);
      } catch (e) {
        status = String(e);
      }
      this.check(
        stage,
        "worktree = incumbent commit, clean",
        head === incumbent && status === "",
        `HEAD ${head.slice(0, 8)}, incumbent ${incumbent.slice(0, 8)}, status ${
          JSON.stringify(status)
        }`,
      );
    }
    const revs = await runGit(this.dir, [
      "rev-list",
      "--first-parent",
      "--reverse",
      `${run!.start_sha}..${run!.branch}`,
    ]).catch((e) => `error: ${e}`);
    const commits = revs === "" ? [] : revs.split("\n");
    const kept = records.filter((r) => r.iter > 0 && r.kept).map((r) => r.sha);
    this.check(
      stage,
      "kept shas = run branch commits",
      JSON.stringify(commits) === JSON.stringify(kept) &&
        (records.length === 0 || records[0]!.sha === run!.start_sha),
      `branch ${commits.map((c) => c.slice(0, 8))}, kept ${
        kept.map((c) => c?.slice(0, 8))
      }`,
    );
    // Every ratchet/* branch belongs to this run or an archived one: a run
    // killed before its config.json existed leaves none behind.
    const owned = new Set([run!.branch]);
    for (
      const e of await Array.fromAsync(
        Deno.readDir(join(this.ratchetDir, "runs")),
      ).catch(() => [])
    ) {
      const archived = await readText(
        join(this.ratchetDir, "runs", e.name, "config.json"),
      );
      const branch = archived === null
        ? undefined
        : (JSON.parse(archived) as { branch?: string }).branch;
      if (branch !== undefined) owned.add(branch);
    }
    const branches = (await runGit(this.dir, [
      "for-each-ref",
      "--format=%(refname:short)",
      "refs/heads/ratchet/",
    ])).split("\n").filter((b) => b !== "");
    const stray = branches.filter((b) => !owned.has(b));
    this.check(
      stage,
      "no ratchet/ branch without a run",
      stray.length === 0,
      stray.join(", "),
    );
    if (!expect.skipContainers) {
      const left = await runContainers(run!.run_id, this.dockerHost).catch((
        e,
      ) => [`error: ${e}`]);
      this.check(
        stage,
        "no container of the run left",
        left.length === 0,
        left.join(", "),
      );
      const kept = await runImagesAndVolumes(run!.run_id, this.dockerHost)
        .catch((e) => [`error: ${e}`]);
      this.check(
        stage,
        "no tree image or volume of the run left",
        kept.length === 0,
        kept.join(", "),
      );
    }
    // Probe directories of the engine check live here only while it runs.
    const stale = (await Array.fromAsync(
      Deno.readDir(join(this.ratchetDir, "tmp")),
    ).catch(() => [])).map((e) => e.name);
    this.check(
      stage,
      "nothing left in .ratchet/tmp",
      stale.length === 0,
      stale.join(", "),
    );
    this.check(
      stage,
      "lock released",
      !(await exists(join(this.ratchetDir, "lock"))),
      (await readText(join(this.ratchetDir, "lock")))?.trim() ?? "",
    );
  }

  #checkDense(stage: string, records: Rec[]): void {
    const iters = records.map((r) => r.iter);
    const dense = iters.every((it, i) => it === i);
    this.check(
      stage,
      "iter dense from 0, no duplicate",
      dense,
      `iters ${iters.join(",")}`,
    );
    const ids = new Set(records.map((r) => r.run_id));
    this.check(stage, "one run_id", ids.size <= 1, [...ids].join(","));
  }

  #checkPreserved(stage: string, records: Rec[]): void {
    const before = this.#durable;
    const kept = before.every((r, i) =>
      JSON.stringify(records[i]) === JSON.stringify(r)
    );
    this.check(
      stage,
      "records durable before are unchanged",
      kept && records.length >= before.length,
      `before ${before.length}, now ${records.length}`,
    );
    this.#durable = records;
  }

  /** Remove the run's containers and the repo; finish the result. */
  async close(error?: unknown): Promise<ScenarioResult> {
    await this.#noteRunId();
    try {
      for await (const e of Deno.readDir(join(this.ratchetDir, "runs"))) {
        this.#runIds.add(e.name);
      }
    } catch { /* no archive */ }
    await removeContainers(this.#runIds, this.dockerHost);
    // The prepare step's cache is kept for a user's repository; for this
    // throw-away one it is litter (and a later scenario must not reuse it).
    await removePreparedImages(this.dir, this.dockerHost).catch(() => {});
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
    if (error !== undefined) {
      this.result.error = error instanceof Error
        ? error.message
        : String(error);
    }
    this.result.seconds = round((performance.now() - this.#started) / 1000);
    this.result.ok = this.result.error === null &&
      this.result.checks.length > 0 &&
      this.result.checks.every((c) => c.ok);
    return this.result;
  }
}

/** Run one scenario body in a fresh lab; never throws (errors are recorded). */
export async function scenario(
  options: LabOptions,
  body: (lab: Lab) => Promise<void>,
): Promise<ScenarioResult> {
  const started = startedSoFar++;
  const lab = await Lab.create(options);
  let result: ScenarioResult;
  try {
    await body(lab);
    result = await lab.close();
  } catch (error) {
    result = await lab.close(error);
  }
  START_ORDER.set(result, started);
  return result;
}

let startedSoFar = 0;
const START_ORDER = new WeakMap<ScenarioResult, number>();

/**
 * The order in which `scenario()` was called for `result`: scenarios run
 * side by side finish in any order, but start in the order the test lists
 * them, which is the order the page shows.
 */
export function startOrder(result: ScenarioResult): number {
  return START_ORDER.get(result) ?? Number.MAX_SAFE_INTEGER;
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

/** A short failure report of scenarios that did not hold. */
export function describeFailures(results: ScenarioResult[]): string {
  return results.filter((r) => !r.ok).map((r) => {
    const failed = r.checks.filter((c) => !c.ok).map((c) =>
      `    ✗ [${c.stage}] ${c.name}: ${c.detail}`
    );
    const steps = r.steps.map((s) =>
      `    $ ratchet ${s.label} → ${s.code}\n      ${
        s.stderrTail.replaceAll("\n", "\n      ")
      }`
    );
    return `${r.id} (${r.fault})${r.error ? `: ${r.error}` : ""}\n${
      failed.join("\n")
    }\n${steps.join("\n")}`;
  }).join("\n\n");
}
