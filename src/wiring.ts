/**
 * Real implementations of the loop's ports: git on the run's worktree, the
 * agent (with its sandbox containers), and the run's event sink. `run.ts`
 * builds them once per run; the trial port lives in `trial_port.ts`.
 */
import { join } from "node:path";
import type { Config } from "./config/config.ts";
import type { EventSink } from "./core/events.ts";
import type { PromptContext, ScoreSummary } from "./core/prompt.ts";
import type { ProtectionPolicy } from "./core/protect.ts";
import type { AgentEvent } from "./agent/session.ts";
import { runProposal } from "./agent/session.ts";
import { runCritic } from "./agent/critic.ts";
import type { ModelClient } from "./agent/model.ts";
import type { Workspace } from "./infra/workspace.ts";
import type {
  ContainerRuntime,
  ContainerSpec,
  Mount,
  Sandbox,
} from "./infra/runtime.ts";
import {
  changedFiles,
  commitCandidate,
  diffPatch,
  diffStat,
  exportTree,
  resetWorktree,
  stageCandidate,
  treeOf,
  treeSymlinks,
} from "./infra/git.ts";
import { HOME_DIR, planTrialMounts, WORK_DIR } from "./infra/mounts.ts";
import type { Owner } from "./infra/materialize.ts";
import type {
  GitPort,
  ProposalInput,
  ProposalSummary,
  ProposerPort,
  TrialPort,
} from "./loop_ports.ts";
import { runCheck, runTrial, toTrialSummary } from "./trial.ts";

/** GitPort over the run's worktree. */
export function gitPort(root: string, worktree: string): GitPort {
  return {
    candidateTree: (maxFileBytes) => stageCandidate(worktree, maxFileBytes),
    treeOf: (commit) => treeOf(root, commit),
    commit: (tree, parent, message) =>
      commitCandidate(worktree, { tree, parent, message }),
    reset: (commit) => resetWorktree(worktree, commit),
    async diff(fromCommit, toTree) {
      const [patch, stat, changes, before, after] = await Promise.all([
        diffPatch(root, fromCommit, toTree),
        diffStat(root, fromCommit, toTree),
        changedFiles(root, fromCommit, toTree),
        treeSymlinks(root, fromCommit),
        treeSymlinks(root, toTree),
      ]);
      return { patch, stat, changes, links: { before, after } };
    },
  };
}

/** What a sandbox needs besides the worktree. */
export interface SandboxSettings {
  runtime: ContainerRuntime;
  image: string;
  runId: string;
  config: Config;
  policy: ProtectionPolicy;
  worktree: string;
  harnessDir: string;
  /** Empty file bound over /work/.git so the model never sees git's pointer. */
  emptyFile: string;
  user: string;
  owner: Owner | null;
  extraMounts: Mount[];
  env: Record<string, string>;
}

/**
 * Start the iteration's sandbox: the worktree at /work without .git, the
 * harness read-only (or everything read-only for critic proposers), the run's
 * limits and network.
 */
export async function startSandbox(
  s: SandboxSettings,
  options: { iter: number; readOnly: boolean },
): Promise<Sandbox> {
  const mounts: Mount[] = [
    {
      type: "bind",
      source: s.worktree,
      target: WORK_DIR,
      readOnly: options.readOnly,
    },
  ];
  if (!options.readOnly) {
    const plan = await planTrialMounts({
      treeDir: s.worktree,
      harnessDir: s.harnessDir,
      harness: s.config.harness,
      editable: s.config.editable,
      scratch: s.config.scratch,
      reportPath: s.policy.reportPath,
      owner: s.owner,
    });
    mounts.length = 0;
    if (!plan.mounts.some((m) => m.target === WORK_DIR)) {
      mounts.push({
        type: "bind",
        source: s.worktree,
        target: WORK_DIR,
        readOnly: false,
      });
    }
    mounts.push(...plan.mounts);
  }
  mounts.push(
    {
      type: "bind",
      source: s.emptyFile,
      target: `${WORK_DIR}/.git`,
      readOnly: true,
    },
    { type: "tmpfs", source: "", target: HOME_DIR, readOnly: false },
    ...s.extraMounts,
  );
  const spec: ContainerSpec = {
    image: s.image,
    cmd: [
      "sh",
      "-c",
      "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done",
    ],
    workingDir: WORK_DIR,
    env: { HOME: HOME_DIR, ...s.env },
    user: s.user,
    mounts,
    network: s.config.network,
    limits: {
      cpus: s.config.cpus,
      memoryBytes: s.config.memory,
      pidsLimit: s.config.pidsLimit,
      shmSizeBytes: s.config.shmSize,
      gpus: s.config.gpus,
    },
    labels: {
      "ratchet.run": s.runId,
      "ratchet.iter": String(options.iter),
      "ratchet.role": options.readOnly ? "sandbox-readonly" : "sandbox",
    },
  };
  return await s.runtime.startSandbox(spec);
}

/** Summaries for the prompt from the loop's view of the run. */
function scoreSummary(
  iter: number,
  value: { mean: number; ci: [number, number] | null },
  n: number,
): ScoreSummary {
  return { iter, mean: value.mean, ci: value.ci, n };
}

/** Everything the proposer port needs. */
export interface ProposerSettings {
  model: ModelClient;
  workspace: Workspace;
  sandbox: SandboxSettings;
  config: Config;
  policy: ProtectionPolicy;
  /** Built once per run so the cached prefix stays byte-identical. */
  repoOverview: string;
  events: EventSink;
}

/** The loop's summary of a proposal (or a critic round). */
function summaryOf(
  o: Pick<
    ProposalSummary,
    "kind" | "hypothesis" | "description" | "tokens" | "costUsd" | "detail"
  >,
  critic: ProposalSummary["critic"],
): ProposalSummary {
  return {
    kind: o.kind,
    hypothesis: o.hypothesis,
    description: o.description,
    tokens: o.tokens,
    costUsd: o.costUsd,
    critic,
    detail: o.detail,
  };
}

/** The agent as the loop sees it: one proposal (or one critic round) per call. */
export function proposerPort(p: ProposerSettings): ProposerPort {
  return {
    async propose(
      input: ProposalInput,
      signal: AbortSignal,
    ): Promise<ProposalSummary> {
      const last = input.lastDecision;
      const context: PromptContext = {
        objective: {
          metricName: p.config.metricName,
          direction: p.config.direction,
          runCommand: p.config.runCommand,
          reportSource: p.config.reportSource,
          guards: p.config.guard,
        },
        runInstructions: p.config.instructions,
        repoOverview: p.repoOverview,
        protection: p.policy,
        iteration: input.iter,
        iterations: p.config.iterations,
        baseline: scoreSummary(0, input.baseline, input.baseline.n),
        incumbent: scoreSummary(
          input.incumbent.iter,
          input.incumbent,
          input.incumbent.n,
        ),
        researchLog: input.log.map((e) => ({
          iter: e.iter,
          hypothesis: e.hypothesis,
          decision: e.decision,
          reason: e.reason,
          score: e.score,
          diff_summary: e.diffSummary,
          guard: e.guard ?? null,
        })),
        notes: input.notes,
        crash: input.crashTail !== null && last !== null
          ? { iter: last.iter, output: input.crashTail }
          : null,
        reverted: last !== null && !last.kept,
      };
      const onEvent = (e: AgentEvent) => {
        if (e.type === "tool_call") {
          p.events({
            event: "tool_call",
            iter: input.iter,
            role: e.role,
            tool: e.name,
            summary: e.summary,
          });
        } else if (e.type === "call_end") {
          input.onSpend?.({ tokens: e.tokens, costUsd: e.costUsd });
        } else if (e.type === "retry") {
          p.events({
            event: "warning",
            message: `API call retried (attempt ${e.attempt}): ${e.reason}`,
          });
        }
      };
      const budget = { spentUsd: input.spentUsd, capUsd: p.config.maxCostUsd };
      const session = {
        model: p.config.model,
        maxToolCalls: p.config.maxToolCalls,
        bashTimeoutSeconds: p.config.bashTimeoutSeconds,
      };
      const sandbox = await startSandbox(p.sandbox, {
        iter: input.iter,
        readOnly: false,
      });
      try {
        if (!p.config.critic) {
          const o = await runProposal(
            {
              model: p.model,
              workspace: p.workspace,
              sandbox,
              onEvent,
              budget,
              prices: p.config.prices,
              signal,
            },
            { role: "implementer", context, config: session },
          );
          return summaryOf(o, null);
        }
        const readOnly = await startSandbox(p.sandbox, {
          iter: input.iter,
          readOnly: true,
        });
        try {
          const o = await runCritic(
            {
              model: p.model,
              workspace: p.workspace,
              sandbox,
              readOnlySandbox: readOnly,
              onEvent,
              budget,
              prices: p.config.prices,
              signal,
            },
            { context, config: session },
          );
          return summaryOf(o, o.critic);
        } finally {
          await readOnly.close();
        }
      } finally {
        await sandbox.close();
      }
    },
  };
}

/** Path of the empty file hidden over /work/.git. */
export async function ensureEmptyFile(tmpDir: string): Promise<string> {
  const path = join(tmpDir, "empty-git-file");
  await Deno.mkdir(tmpDir, { recursive: true });
  await Deno.writeTextFile(path, "");
  await Deno.chmod(path, 0o444);
  return path;
}

/** What the trial port needs. */
export interface TrialSettings {
  runtime: ContainerRuntime;
  runId: string;
  root: string;
  harnessDir: string;
  config: Config;
  image: string;
  repoOwner: string;
  env: (name: string) => string | undefined;
  saveReport: (iter: number, trial: number, text: string) => Promise<void>;
  signal: AbortSignal;
}

/** TrialPort over the Docker trial runner, materialising git trees of the repo. */
export function trialPort(s: TrialSettings): TrialPort {
  const deps = {
    runtime: s.runtime,
    env: s.env,
    saveReport: s.saveReport,
    signal: s.signal,
  };
  const base = (tree: string) => ({
    runId: s.runId,
    source: { kind: "git" as const, root: s.root, treeish: tree, exportTree },
    repoRoot: s.root,
    harnessDir: s.harnessDir,
    config: s.config,
    image: s.image,
    repoOwner: s.repoOwner,
  });
  return {
    async trial(input) {
      const result = await runTrial(deps, {
        ...base(input.tree),
        iter: input.iter,
        trial: input.trial,
        side: input.side,
        ...(input.expectedUnit === undefined
          ? {}
          : { expectedUnit: input.expectedUnit }),
        ...(input.expectedGuardUnits === undefined
          ? {}
          : { expectedGuardUnits: input.expectedGuardUnits }),
      });
      return toTrialSummary(result);
    },
    async check(input) {
      if (s.config.checkCommand === null) return null;
      const r = await runCheck(deps, { ...base(input.tree), iter: input.iter });
      return {
        passed: r.passed,
        detail: r.passed
          ? ""
          : `--check-command failed: ${r.detail}\n${r.outputTail}`.trim(),
      };
    },
  };
}
