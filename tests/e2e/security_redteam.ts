/**
 * Shared pieces of the red-team suites (issue 13): a repository whose
 * harness sources the program under optimisation, one `ratchet run` per
 * scenario against the scripted fake model, sentinel files outside the
 * repository, and what a run left behind (records, reports, containers,
 * volumes). Each scenario is recorded on the security page with its kind
 * (attack, control, limit) and the layer that answers it.
 */
import { join } from "node:path";
import { dockerApi } from "../_helpers/docker.ts";
import type { CliResult } from "../_helpers/cli.ts";
import {
  type FakeAnthropic,
  type FakeStep,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import { tempDir, type TempRepo, tempRepo } from "../_helpers/git_repo.ts";
import {
  type Block,
  ratchet,
  readRecords,
  readRun,
  type Rec,
  removeRunContainers,
  runContainers,
} from "./_support.ts";
import { listTree, type Scenario } from "./security_support.ts";

/** The repository under attack: the harness score.sh sources prog.sh. */
export const FILES: Record<string, string> = {
  "value.txt": "10\n",
  "prog.sh": ": the program under optimisation, sourced by the harness\n",
  "score.sh": '. ./prog.sh\necho "score: $(cat value.txt)"\n',
  "README.md": "a repository under attack\n",
};

/** How a scenario's run measures. */
export interface FlagOptions {
  iterations: number;
  /** Default `mean`, with `--trials 1`. */
  decision?: "mean" | "stat";
  trials?: number;
  /** Default busybox (whose PATH is /bin alone). */
  image?: string;
}

/** `ratchet run` flags: score.sh is the harness (plus `extra`). */
export function flags(o: FlagOptions, ...extra: string[]): string[] {
  return [
    "run",
    "--run-command",
    "sh score.sh",
    "--direction",
    "max",
    "--metric-name",
    "score",
    "--report-source",
    "stdout",
    "--image",
    o.image ?? "busybox:latest",
    "--harness",
    "score.sh",
    "--decision",
    o.decision ?? "mean",
    "--trials",
    String(o.trials ?? 1),
    "--max-consecutive-crashes",
    "1000",
    "--iterations",
    String(o.iterations),
    ...extra,
  ];
}

/** {@linkcode flags} for `iterations` proposals, one trial each under `mean`. */
export function runFlags(iterations: number, ...extra: string[]): string[] {
  return flags({ iterations }, ...extra);
}

/**
 * A case as the page records it. `kind` is carried as data (the recorder of
 * the ci branch types it; this one passes it through to the JSON).
 */
export type Case = Scenario & { kind: "attack" | "control" | "limit" };

/** A sentinel file outside any repository, with unique content. */
export interface Sentinel extends AsyncDisposable {
  /** The directory holding it. */
  dir: string;
  /** Absolute path of the file. */
  path: string;
  /** Its content (unique per test). */
  text: string;
  /** The file still holds exactly its content. */
  intact(): Promise<boolean>;
}

/** Make `dir/name` outside the repository holding a unique line. */
export async function sentinel(name: string): Promise<Sentinel> {
  const where = await tempDir("ratchet-sec-host-");
  const path = join(where.dir, name);
  const text = `HOST-SENTINEL-${crypto.randomUUID()}\n`;
  await Deno.writeTextFile(path, text);
  return {
    dir: where.dir,
    path,
    text,
    intact: () => Deno.readTextFile(path).then((t) => t === text, () => false),
    [Symbol.asyncDispose]: () => where[Symbol.asyncDispose](),
  };
}

/** The 12 nested directories of issue 13's chain. */
export const DEEP = Array.from({ length: 12 }, (_, i) => `d${i + 1}`).join(
  "/",
);
/** Twelve `..` steps. */
export const UP12 = Array(12).fill("..").join("/");

/**
 * Shell commands (run in /work) that build issue 13's chain: `DEEP/up`
 * climbs back to the tree's root, so `DEEP/up/UP12/<host path>` reaches the
 * host's `/` and then `hostPath` — though textually it stays inside
 * (`d1/<host path>`). The link `name` gets that target.
 */
export function chainLink(name: string, hostPath: string): string {
  const rel = hostPath.replace(/^\/+/, "");
  return [
    "cd /work",
    `mkdir -p ${DEEP}`,
    `ln -s ${UP12} ${DEEP}/up`,
    `rm -rf ${name}`,
    `ln -s ${DEEP}/up/${UP12}/${rel} ${name}`,
  ].join(" && ");
}

/** What one scenario run left. */
export interface Outcome {
  repo: TempRepo;
  server: FakeAnthropic;
  result: CliResult;
  records: Rec[];
  runId: string | null;
  /** Text of `.ratchet/reports/iter-NNNN-trial-NN.txt` ("" when missing). */
  report(iter: number, trial?: number): Promise<string>;
  /** Every report of an iteration, in trial order. */
  reports(iter: number): Promise<string[]>;
  /** Every file under `.ratchet/` that holds `text`. */
  filesHolding(text: string): Promise<string[]>;
}

/** A repository for a scenario: FILES plus `files`, and committed links. */
export async function scenarioRepo(
  files: Record<string, string> = {},
  links: Record<string, string> = {},
): Promise<TempRepo> {
  const repo = await tempRepo({ ...FILES, ...files });
  if (Object.keys(links).length > 0) {
    for (const [path, target] of Object.entries(links)) {
      await Deno.mkdir(join(repo.dir, path, ".."), { recursive: true });
      await Deno.symlink(target, join(repo.dir, path));
    }
    await repo.commit("links");
  }
  return repo;
}

/** Read what a run left in `repo` (after it ended, however it ended). */
export async function outcomeOf(
  repo: TempRepo,
  server: FakeAnthropic,
  result: CliResult,
): Promise<Outcome> {
  const records = await readRecords(repo.dir).catch(() => [] as Rec[]);
  const run = await readRun(repo.dir).catch(() => null);
  const reportPath = (iter: number, trial: number) =>
    join(
      repo.dir,
      ".ratchet/reports",
      `iter-${String(iter).padStart(4, "0")}-trial-${
        String(trial).padStart(2, "0")
      }.txt`,
    );
  return {
    repo,
    server,
    result,
    records,
    runId: run?.run_id ?? null,
    report: (iter, trial = 1) =>
      Deno.readTextFile(reportPath(iter, trial)).catch(() => ""),
    async reports(iter) {
      const out: string[] = [];
      for (let t = 1;; t++) {
        const text = await Deno.readTextFile(reportPath(iter, t)).catch(
          () => null,
        );
        if (text === null) return out;
        out.push(text);
      }
    },
    async filesHolding(text) {
      const hits: string[] = [];
      for (const path of await listTree(join(repo.dir, ".ratchet"))) {
        if (path.endsWith("/") || path.startsWith("worktree/")) continue;
        const body = await Deno.readTextFile(join(repo.dir, ".ratchet", path))
          .catch(() => "");
        if (body.includes(text)) hits.push(path);
      }
      return hits;
    },
  };
}

/**
 * One `ratchet run` of `steps` on a fresh scenario repository; `use` sees
 * what it left, then the run's containers are removed whatever happened.
 */
export async function runScenario<T>(
  options: {
    files?: Record<string, string>;
    links?: Record<string, string>;
    args: string[];
    steps: FakeStep[];
    env?: Record<string, string>;
  },
  use: (o: Outcome) => Promise<T>,
): Promise<T> {
  await using repo = await scenarioRepo(options.files, options.links);
  await using server = await startFakeAnthropic(options.steps);
  try {
    const result = await ratchet(options.args, repo.dir, server, {
      env: options.env ?? {},
    });
    return await use(await outcomeOf(repo, server, result));
  } finally {
    await removeRunContainers(repo.dir);
  }
}

/** Containers of the run still present (running or not). */
export async function leftovers(runId: string | null): Promise<string[]> {
  return runId === null ? [] : await runContainers(runId);
}

/** Volumes whose name or `ratchet.run` label belongs to the run. */
export async function runVolumes(runId: string): Promise<string[]> {
  const body = await dockerApi("GET", "/volumes") as {
    Volumes: { Name: string; Labels: Record<string, string> | null }[] | null;
  };
  const id = runId.toLowerCase();
  return (body.Volumes ?? []).filter((v) =>
    v.Name.includes(id) || v.Labels?.["ratchet.run"] === runId
  ).map((v) => v.Name);
}

/** Remove volumes by name (test cleanup). */
export async function removeVolumes(names: string[]): Promise<void> {
  for (const name of names) {
    await dockerApi("DELETE", `/volumes/${name}?force=1`).catch(() => {});
  }
}

/** A tool call with a known id, so its result can be found. */
export function tool(id: string, name: string, input: unknown): Block {
  return { type: "tool_use", name, input, id: `toolu_${id}` };
}

/** What the tool call `id` returned to the model, or null. */
export function toolResult(
  server: FakeAnthropic,
  id: string,
): { isError: boolean; text: string } | null {
  for (const request of server.requests) {
    const messages = (request.body?.messages ?? []) as {
      role: string;
      content: unknown;
    }[];
    for (const m of messages) {
      if (m.role !== "user" || !Array.isArray(m.content)) continue;
      for (
        const b of m.content as {
          type: string;
          tool_use_id?: string;
          content?: unknown;
          is_error?: boolean;
        }[]
      ) {
        if (b.type === "tool_result" && b.tool_use_id === `toolu_${id}`) {
          return {
            isError: b.is_error === true,
            text: typeof b.content === "string"
              ? b.content
              : JSON.stringify(b.content),
          };
        }
      }
    }
  }
  return null;
}

/** A record as one line of the page. */
export function recorded(r: Rec | undefined): string {
  if (r === undefined) return "no record";
  return `${r.decision}${r.reason ? ` (${r.reason})` : ""}; trial_scores ${
    JSON.stringify(r.trial_scores)
  }${r.detail ? `; detail: ${r.detail.slice(0, 240)}` : ""}`;
}
