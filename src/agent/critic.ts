/**
 * Critic mode (`--critic`): proposer A (careful, incremental) and proposer B
 * (bold, structural) study the code with read-only tools and submit plans;
 * the judge picks one; the implementer carries it out with the editing tools.
 * Four conversations, in that order, each its own proposal with its own tool
 * cap, all drawing on the one cost budget.
 */
import type { Sandbox } from "../infra/runtime.ts";
import type { PromptContext } from "../core/prompt.ts";
import {
  addTokens,
  type CriticRecord,
  emptyTokens,
  type Proposal,
  type Tokens,
} from "../core/state.ts";
import {
  type CallRecord,
  type ProposalDeps,
  type ProposalInput,
  type ProposalKind,
  type ProposalOutcome,
  runProposal,
  type SessionConfig,
} from "./session.ts";

/** The session's dependencies plus the read-only sandbox the proposers' `bash` uses. */
export interface CriticDeps extends ProposalDeps {
  /** A sandbox in which all of `/work` is read-only. */
  readOnlySandbox: Pick<Sandbox, "exec">;
}

/** What to run the four conversations on. */
export interface CriticInput {
  context: PromptContext;
  config: SessionConfig;
}

/** How the critic-mode iteration went. */
export interface CriticOutcome {
  /** `submitted` only when the implementer submitted; else why the chain stopped. */
  kind: ProposalKind;
  hypothesis: string;
  description: string;
  /** The record for results.jsonl; null when no plan was chosen. */
  critic: CriticRecord | null;
  detail: string;
  /** Every conversation that ran, in order. */
  phases: ProposalOutcome[];
  tokens: Tokens;
  costUsd: number;
  toolCalls: number;
  /** Every model call of every conversation, in order. */
  calls: CallRecord[];
}

/** Stands in for a proposer that submitted nothing, so `choice` still indexes A and B. */
const NO_PROPOSAL: Proposal = {
  title: "(no proposal)",
  hypothesis: "",
  plan: "",
};

function proposalOf(outcome: ProposalOutcome): Proposal | null {
  return outcome.submission?.tool === "submit_proposal"
    ? outcome.submission.proposal
    : null;
}

/**
 * Run one critic-mode iteration. Like runProposal it throws only ratchet
 * errors; a proposer or judge that fails to hand over is handled here (the
 * other plan is taken, or the judge's choice defaults to A).
 */
export async function runCritic(
  deps: CriticDeps,
  input: CriticInput,
): Promise<CriticOutcome> {
  const phases: ProposalOutcome[] = [];
  const spentSoFar = () => phases.reduce((sum, p) => sum + p.costUsd, 0);
  const run = async (
    sandbox: Pick<Sandbox, "exec">,
    role: ProposalInput["role"],
    brief: ProposalInput["brief"] = {},
  ): Promise<ProposalOutcome> => {
    const outcome = await runProposal(
      {
        ...deps,
        sandbox,
        budget: {
          spentUsd: deps.budget.spentUsd + spentSoFar(),
          capUsd: deps.budget.capUsd,
        },
      },
      { role, context: input.context, config: input.config, brief },
    );
    phases.push(outcome);
    return outcome;
  };
  const finish = (
    kind: ProposalKind,
    detail: string,
    critic: CriticRecord | null,
    implementer?: ProposalOutcome,
  ): CriticOutcome => ({
    kind,
    hypothesis: implementer?.hypothesis ?? "",
    description: implementer?.description ?? "",
    critic,
    detail,
    phases,
    tokens: phases.reduce((sum, p) => addTokens(sum, p.tokens), emptyTokens()),
    costUsd: spentSoFar(),
    toolCalls: phases.reduce((sum, p) => sum + p.toolCalls, 0),
    calls: phases.flatMap((p) => p.calls),
  });

  const a = await run(deps.readOnlySandbox, "proposer-a");
  if (a.kind === "cost_cap") {
    return finish("cost_cap", `proposer A: ${a.detail}`, null);
  }
  const b = await run(deps.readOnlySandbox, "proposer-b");
  if (b.kind === "cost_cap") {
    return finish("cost_cap", `proposer B: ${b.detail}`, null);
  }

  const planA = proposalOf(a);
  const planB = proposalOf(b);
  if (planA === null && planB === null) {
    return finish(
      "no_submit",
      `neither proposer submitted a plan (A: ${a.detail}; B: ${b.detail})`,
      null,
    );
  }
  let choice: "A" | "B";
  let rationale: string;
  if (planA === null || planB === null) {
    // One plan is no contest; asking a judge would only spend money.
    choice = planA === null ? "B" : "A";
    const missing = planA === null ? a : b;
    rationale = `Proposer ${
      choice === "A" ? "B" : "A"
    } submitted no plan (${missing.detail}), so proposal ${choice} was taken without a judge.`;
  } else {
    const judge = await run(deps.readOnlySandbox, "judge", {
      proposals: [planA, planB],
    });
    if (judge.kind === "cost_cap") {
      return finish("cost_cap", `judge: ${judge.detail}`, null);
    }
    if (judge.submission?.tool === "choose_proposal") {
      choice = judge.submission.choice;
      rationale = judge.submission.rationale;
    } else {
      choice = "A";
      rationale =
        `The judge made no choice (${judge.detail}); the careful proposal A was taken by default.`;
    }
  }
  const critic: CriticRecord = {
    proposals: [planA ?? NO_PROPOSAL, planB ?? NO_PROPOSAL],
    choice,
    rationale,
  };
  const chosen = (choice === "A" ? planA : planB)!;
  const implementer = await run(deps.sandbox, "implementer", {
    chosen: { choice, proposal: chosen, rationale },
  });
  return finish(
    implementer.kind,
    `implementer: ${implementer.detail}`,
    critic,
    implementer,
  );
}
