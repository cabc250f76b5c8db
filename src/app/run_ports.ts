/**
 * Real implementations of the loop's ports: git on the run's worktree, the
 * agent (with its sandbox containers), and the Docker trials of tree images.
 * `buildRunPorts` builds them once per run.
 */
import type { Config } from "../config/config.ts";
import type { EventSink } from "../core/events.ts";
import type { PromptContext, ScoreSummary } from "../core/prompt.ts";
import { type ProtectionPolicy, REPO_CONFIG_FILE } from "../core/protect.ts";
import type { Ident } from "../core/tree_layout.ts";
import { outputTail, type TrialResult } from "../core/trial_report.ts";
import type { AgentEvent } from "../agent/session.ts";
import { runProposal } from "../agent/session.ts";
import { runCritic } from "../agent/critic.ts";
import type { ModelClient } from "../agent/model.ts";
import type { GitContext } from "../infra/git/context.ts";
import { openWorkspace } from "../infra/workspace.ts";
import type { ContainerRuntime, Sandbox } from "../infra/runtime.ts";
import { requireFreeSpace, RUN_MIN_FREE_BYTES } from "../infra/disk.ts";
import type { RunFile } from "../infra/store/store.ts";
import { repoOverview } from "../infra/workspace.ts";
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
  LoopPorts,
  ProposalInput,
  ProposalSummary,
  ProposerPort,
  TrialPort,
  TrialSummary,
} from "./ports.ts";
import { sandboxSpec, type SpecContext } from "../trial/container_spec.ts";
import { runCheck, runTrial, type TrialDeps } from "../trial/runner.ts";
import { specContext, type TrialSetup } from "../trial/setup.ts";
import { TreeImages, type TreeRef } from "../trial/tree_images.ts";
import { listSource } from "../trial/tree_source.ts";
import { policyOf } from "./run_state.ts";
import type { Session } from "./session.ts";

/** GitPort over the run's worktree. */
export function gitPort(
  git: GitContext,
  root: string,
  worktree: string,
): GitPort {
  return {
    candidateTree: (maxFileBytes) =>
      stageCandidate(git, worktree, maxFileBytes),
    treeOf: (commit) => treeOf(git, root, commit),
    commit: (tree, parent, message) =>
      commitCandidate(git, worktree, { tree, parent, message }),
    reset: (commit) => resetWorktree(git, worktree, commit),
    async diff(fromCommit, toTree) {
      const [patch, stat, changes, before, after] = await Promise.all([
        diffPatch(git, root, fromCommit, toTree),
        diffStat(git, root, fromCommit, toTree),
        changedFiles(git, root, fromCommit, toTree),
        treeSymlinks(git, root, fromCommit),
        treeSymlinks(git, root, toTree),
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

/**
 * The disks a trial may fill: the one holding `.ratchet/`, and a local
 * engine's storage (its data root, when this machine has that path).
 */
function diskDirsOf(stateDir: string, setup: TrialSetup): string[] {
  const root = setup.info.dataRoot;
  return setup.sharesFiles && root !== null ? [stateDir, root] : [stateDir];
}

/**
 * The config file the model may not change (repository-relative), as the
 * run recorded it; runs from before it was recorded used ratchet.jsonc.
 */
export function configPathOf(run: RunFile): string | null {
  return run.config_file === undefined ? REPO_CONFIG_FILE : run.config_file;
}

/** Every port of the loop for one run session, over its worktree. */
export async function buildRunPorts(
  s: Session,
  worktree: string,
  key: string,
): Promise<LoopPorts> {
  const config = s.config;
  const policy = policyOf(config, configPathOf(s.run));
  const envOf = (name: string) => s.ctx.env[name];
  const fault = s.ctx.deps.fault;
  const model = s.ctx.deps.model(key);
  const startTree = await treeOf(s.ctx.deps.git, s.root, s.run.start_sha);
  const images = new TreeImages({
    runtime: s.runtime,
    git: s.ctx.deps.git,
    runId: s.run.run_id,
    baseImage: s.setup.image,
    snapshotDir: s.store.paths.harness,
    policy,
    trialUser: s.setup.trialUser,
    fault,
    signal: s.ctx.signal,
    onBuilt: (b) =>
      s.events({
        event: "progress",
        message: `Tree ${
          b.key.slice(0, 12)
        } sent to the engine as ${b.image} (${b.files} files, ${
          (b.bytes / 1024 ** 2).toFixed(1)
        } MiB, ${b.seconds.toFixed(1)} s)`,
      }),
  });
  const spec = specContext(s.run.run_id, config, s.setup, envOf);
  const trials = trialPort({
    runtime: s.runtime,
    images,
    spec,
    config,
    saveReport: async (iter, trial, text) => {
      await s.store.saveReport(iter, trial, text);
    },
    signal: s.ctx.signal,
    diskDirs: diskDirsOf(s.store.paths.root, s.setup),
    root: s.root,
    pinned: [startTree],
  });
  const listing = await listSource(s.ctx.deps.git, {
    kind: "git",
    root: s.root,
    treeish: s.run.start_sha,
  });
  return {
    git: gitPort(s.ctx.deps.git, s.root, worktree),
    trials: {
      async trial(input) {
        await requireFreeSpace([s.store.paths.root], RUN_MIN_FREE_BYTES);
        fault("trial.before-start");
        return await trials.trial(input);
      },
      check: trials.check,
      retain: trials.retain,
    },
    proposer: proposerPort({
      model,
      config,
      policy,
      repoOverview: repoOverview(listing.entries, policy),
      events: s.events,
      sandbox: {
        runtime: s.runtime,
        images,
        spec,
        root: s.root,
        worktree,
        policy,
        trialUser: s.setup.trialUser,
        preparedRoots: s.setup.preparedRoots,
        maxFileBytes: config.maxFileSize ?? Number.POSITIVE_INFINITY,
      },
    }),
    store: s.store,
    events: s.events,
    now: s.ctx.now,
    fault,
    signal: s.ctx.signal,
  };
}
