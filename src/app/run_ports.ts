/**
 * Real implementations of the loop's ports: git on the run's worktree, the
 * agent (with its sandbox containers), and the Docker trials of tree images.
 * `cli/commands/run.ts` builds them once per run.
 */
import type { Config } from "../config/config.ts";
import type { EventSink } from "../core/events.ts";
import type { PromptContext, ScoreSummary } from "../core/prompt.ts";
import type { ProtectionPolicy } from "../core/protect.ts";
import type { Ident } from "../core/tree_layout.ts";
import { outputTail, type TrialResult } from "../core/trial_report.ts";
import type { AgentEvent } from "../agent/session.ts";
import { runProposal } from "../agent/session.ts";
import { runCritic } from "../agent/critic.ts";
import type { ModelClient } from "../agent/model.ts";
import { openWorkspace } from "../infra/workspace.ts";
import type { ContainerRuntime, Sandbox } from "../infra/runtime.ts";
import { syncBack } from "../infra/sync_back.ts";
import { commitCandidate, stageCandidate } from "../infra/git/candidate.ts";
import {
  changedFiles,
  diffPatch,
  diffStat,
  treeSymlinks,
} from "../infra/git/diff.ts";
import { treeOf } from "../infra/git/repo.ts";
import { resetWorktree } from "../infra/git/worktree.ts";
import type {
  GitPort,
  ProposalInput,
  ProposalSummary,
  ProposerPort,
  TrialPort,
  TrialSummary,
} from "./ports.ts";
import { sandboxSpec, type SpecContext } from "../trial/container_spec.ts";
import { runCheck, runTrial, type TrialDeps } from "../trial/runner.ts";
import type { TreeImages, TreeRef } from "../trial/tree_images.ts";

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

/** A git tree of the repository as a tree image reference. */
export function gitTree(root: string, tree: string): TreeRef {
  return { key: tree, source: { kind: "git", root, treeish: tree } };
}

/** What the model's sandboxes need. */
export interface SandboxSettings {
  runtime: ContainerRuntime;
  images: TreeImages;
  spec: SpecContext;
  /** The repository (git trees are read from it). */
  root: string;
  /** The run's worktree: the model's working copy is brought back here. */
  worktree: string;
  policy: ProtectionPolicy;
  trialUser: Ident;
  /** What the prepare step installed under /work: never part of a candidate. */
  preparedRoots: readonly string[];
  /** Largest file brought back from the sandbox. */
  maxFileBytes: number;
}

/**
 * Start a sandbox of the incumbent's tree image: the harness read-only by
 * the image's layout, or everything read-only for critic proposers.
 */
export async function startSandbox(
  s: SandboxSettings,
  options: { iter: number; tree: string; readOnly: boolean },
): Promise<Sandbox> {
  const image = await s.images.imageOf(gitTree(s.root, options.tree));
  return await s.runtime.startSandbox(
    sandboxSpec(s.spec, {
      image,
      iter: options.iter,
      readOnly: options.readOnly,
    }),
  );
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
  oversized: ProposalSummary["oversized"],
): ProposalSummary {
  return {
    oversized,
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
        tree: input.incumbent.tree,
        readOnly: false,
      });
      const workspace = openWorkspace(
        sandbox,
        p.policy,
        p.sandbox.trialUser,
      );
      // Whatever the model changed comes back into the worktree, submitted
      // or not: every candidate's diff is kept (spec section 7).
      const bringBack = () =>
        syncBack(sandbox, p.sandbox.worktree, {
          preparedRoots: p.sandbox.preparedRoots,
          maxFileBytes: p.sandbox.maxFileBytes,
        });
      try {
        if (!p.config.critic) {
          const o = await runProposal(
            {
              model: p.model,
              workspace,
              sandbox,
              onEvent,
              budget,
              prices: p.config.prices,
              signal,
            },
            { role: "implementer", context, config: session },
          );
          return summaryOf(o, null, (await bringBack()).oversized);
        }
        const readOnly = await startSandbox(p.sandbox, {
          iter: input.iter,
          tree: input.incumbent.tree,
          readOnly: true,
        });
        try {
          const o = await runCritic(
            {
              model: p.model,
              workspace,
              sandbox,
              readOnlySandbox: readOnly,
              onEvent,
              budget,
              prices: p.config.prices,
              signal,
            },
            { context, config: session },
          );
          return summaryOf(o, o.critic, (await bringBack()).oversized);
        } finally {
          await readOnly.close();
        }
      } finally {
        await sandbox.close();
      }
    },
  };
}

/** The loop's view of a trial. */
export function toTrialSummary(result: TrialResult): TrialSummary {
  return {
    outcome: result.outcome,
    score: result.score,
    unit: result.unit,
    wallSeconds: result.wallSeconds,
    detail: result.detail,
    outputTail: outputTail(result.stdout, result.stderr),
    guards: result.guards,
    guardUnits: result.guardUnits,
  };
}

/** What the trial port needs. */
export interface TrialSettings extends TrialDeps {
  /** The repository (git trees are read from it). */
  root: string;
  /** Trees whose images stay for the whole run (the start tree). */
  pinned: readonly string[];
}

/** TrialPort over the Docker trial runner, with one image per git tree. */
export function trialPort(s: TrialSettings): TrialPort {
  return {
    async trial(input) {
      const result = await runTrial(s, {
        iter: input.iter,
        trial: input.trial,
        side: input.side,
        tree: gitTree(s.root, input.tree),
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
      const r = await runCheck(s, {
        iter: input.iter,
        tree: gitTree(s.root, input.tree),
      });
      return {
        passed: r.passed,
        detail: r.passed
          ? ""
          : `--check-command failed: ${r.detail}\n${r.outputTail}`.trim(),
      };
    },
    retain: (trees) => s.images.retainOnly([...trees, ...s.pinned]),
  };
}
