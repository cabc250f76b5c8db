/**
 * Render the model's prompts from the instruction templates and the run's
 * state. Pure: the templates arrive as strings (embedded by
 * `src/agent/instructions.ts`) and the state as plain data.
 *
 * The split matters for cost. The system prompt holds only what is the same
 * for every iteration of a run (role, integrity rules, run instructions,
 * objective, protected paths, repository overview), so it is byte-identical
 * across iterations and served from the prompt cache. Everything that changes
 * (scores, research log, notes, crash output, critic proposals) goes into the
 * first user message, after the cached prefix.
 */
import type { Decision, Proposal, Reason } from "./state.ts";
import { type ProtectionPolicy, REPO_CONFIG_FILE } from "./protect.ts";
import type { GuardSpec } from "./guards.ts";

/** Who the model is in a conversation; the first line of the system prompt names it. */
export type AgentRole = "implementer" | "proposer-a" | "proposer-b" | "judge";

/** The texts of `instructions/`. */
export interface PromptTemplates {
  integrity: string;
  criticMode: string;
  debugging: string;
  reverting: string;
  /** One per role: implementer.md, proposer-a.md, proposer-b.md, critic.md. */
  roles: Record<AgentRole, string>;
}

/** What is being optimized. */
export interface Objective {
  metricName: string;
  direction: "max" | "min";
  runCommand: string;
  reportSource: string;
  /** `--guard`: metrics that must not get worse (none when absent). */
  guards?: readonly GuardSpec[];
}

/** A measured candidate: its mean and the interval around it. */
export interface ScoreSummary {
  iter: number;
  mean: number | null;
  /** Confidence interval of the mean, when computed. */
  ci: [number, number] | null;
  /** Trials behind the mean. */
  n: number;
}

/** One earlier iteration, as the research log shows it. */
export interface ResearchEntry {
  iter: number;
  hypothesis: string;
  decision: Decision;
  reason: Reason | null;
  /** The candidate's mean, or null when it has none. */
  score: number | null;
  /** One line, e.g. `src/a.ts +3 -1; src/b.ts +10 -0`. */
  diff_summary: string;
  /** The guard that stopped the change, in words; null or absent when none did. */
  guard?: string | null;
}

/** Everything the prompts are made from. */
export interface PromptContext {
  // Stable for the whole run: goes into the cached system prompt.
  objective: Objective;
  /** `--instructions` / `--instructions-file` text, "" when none. */
  runInstructions: string;
  /** Built once per run (`repoOverview()` in src/infra/workspace.ts). */
  repoOverview: string;
  protection: ProtectionPolicy;
  // Changes every iteration: goes into the first user message.
  iteration: number;
  iterations: number;
  baseline: ScoreSummary | null;
  incumbent: ScoreSummary | null;
  researchLog: readonly ResearchEntry[];
  /** Notes from `ratchet instruct`, oldest first. */
  notes: readonly string[];
  /** The previous iteration crashed: the tail of its crashed trial's output. */
  crash: { iter: number; output: string } | null;
  /** The previous iteration's candidate was reverted (not kept). */
  reverted: boolean;
}

/** Critic-mode material for the judge and the implementer. */
export interface CriticBrief {
  /** For the judge: A then B. */
  proposals?: readonly [Proposal, Proposal];
  /** For the implementer: the plan the judge chose. */
  chosen?: { choice: "A" | "B"; proposal: Proposal; rationale: string };
}

/** Research log entries shown in full; older ones are counted. */
export const RESEARCH_LOG_LIMIT = 40;
/** Characters of crash output shown (the tail). */
export const CRASH_TAIL_CHARS = 6000;

/** A number as the prompt shows it: up to 6 significant digits. */
export function formatScore(value: number | null): string {
  if (value === null) return "none";
  if (Number.isInteger(value)) return String(value);
  return String(Number(value.toPrecision(6)));
}

function formatSummary(summary: ScoreSummary): string {
  const ci = summary.ci === null
    ? ""
    : `, interval [${formatScore(summary.ci[0])}, ${
      formatScore(summary.ci[1])
    }]`;
  return `iteration ${summary.iter}: mean ${
    formatScore(summary.mean)
  }${ci}, ${summary.n} trial${summary.n === 1 ? "" : "s"}`;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

function describeProtection(policy: ProtectionPolicy): string {
  const lines = [
    "`.git`, `.ratchet/` and anything outside `/work` are off limits.",
  ];
  if (policy.reportPath !== null) {
    lines.push(`The report file \`${policy.reportPath}\` is read-only.`);
  }
  const configs = [
    ...new Set([REPO_CONFIG_FILE, policy.configPath].filter((p) => p !== null)),
  ];
  lines.push(
    `ratchet's configuration (${
      configs.map((p) => `\`${p}\``).join(", ")
    }) is read-only.`,
  );
  if (policy.harness.length > 0) {
    lines.push(
      `Harness (read-only): ${
        policy.harness.map((g) => `\`${g}\``).join(", ")
      }.`,
    );
  }
  if (policy.editable.length > 0) {
    lines.push(
      `Only these paths may change: ${
        policy.editable.map((g) => `\`${g}\``).join(", ")
      }; everything else is read-only.`,
    );
  }
  return lines.join("\n");
}

/**
 * The system prompt of `role`. Its first line is `ratchet-role: <role>`. It
 * depends only on the role and the run's stable context, never on the
 * iteration.
 */
export function renderSystemPrompt(
  role: AgentRole,
  context: PromptContext,
  templates: PromptTemplates,
): string {
  const { objective } = context;
  const sections = [`ratchet-role: ${role}`, templates.roles[role].trim()];
  if (role !== "implementer") sections.push(templates.criticMode.trim());
  sections.push(templates.integrity.trim());
  sections.push(
    `# Run-specific rules\n\n${
      context.runInstructions.trim() === ""
        ? "(none)"
        : context.runInstructions.trim()
    }`,
  );
  sections.push(
    [
      "# Objective",
      "",
      `- Metric: \`${objective.metricName}\`, ${
        objective.direction === "max"
          ? "higher is better (max)"
          : "lower is better (min)"
      }.`,
      `- Command: \`${objective.runCommand}\`, run by ratchet with \`sh -c\` in \`/work\` inside fresh containers, several trials per candidate.`,
      `- Report source: ${
        objective.reportSource === "wall"
          ? "the command's wall time, measured by ratchet"
          : `\`${objective.reportSource}\``
      }.`,
      ...guardLines(objective.guards ?? []),
    ].join("\n"),
  );
  sections.push(
    `# Protected paths\n\n${describeProtection(context.protection)}`,
  );
  sections.push(
    `# Repository overview\n\n${context.repoOverview.trim() || "(empty)"}`,
  );
  return `${sections.join("\n\n")}\n`;
}

/** The objective's lines about the guards: what must not get worse, and by how much. */
function guardLines(guards: readonly GuardSpec[]): string[] {
  if (guards.length === 0) return [];
  return [
    "- Guards: these numbers from the same report must not get worse. A change that improves the metric but makes a guard worse than the incumbent's by more than its tolerance is not kept (`regressed`, `guard_regressed`); making the program do less work to look faster is exactly what they catch.",
    ...guards.map((g) =>
      `  - \`${g.name}\`: ${
        g.direction === "max" ? "higher is better" : "lower is better"
      }; at most ${
        Number((g.tolerance * 100).toPrecision(4))
      }% worse than the incumbent.`
    ),
  ];
}

function renderResearchLog(entries: readonly ResearchEntry[]): string {
  if (entries.length === 0) return "No earlier iterations.";
  const shown = entries.slice(-RESEARCH_LOG_LIMIT);
  const lines = shown.map((e) => {
    const decision = e.reason === null
      ? e.decision
      : `${e.decision} (${e.reason})`;
    const hypothesis = e.iter === 0
      ? "baseline"
      : oneLine(e.hypothesis, 240) || "(none)";
    const diff = e.diff_summary.trim() === ""
      ? ""
      : ` | diff: ${oneLine(e.diff_summary, 160)}`;
    const guard = e.guard ? ` | ${oneLine(e.guard, 200)}` : "";
    return `- iter ${e.iter} | ${decision}${guard} | score ${
      formatScore(e.score)
    } | ${hypothesis}${diff}`;
  });
  const omitted = entries.length - shown.length;
  if (omitted > 0) lines.unshift(`(${omitted} earlier iterations omitted)`);
  return lines.join("\n");
}

function renderTask(role: AgentRole, brief: CriticBrief): string {
  switch (role) {
    case "proposer-a":
    case "proposer-b":
      return "Study the code with your read-only tools, then call `submit_proposal` with one plan.";
    case "judge": {
      const proposals = brief.proposals;
      if (proposals === undefined) {
        throw new Error("renderUserMessage: the judge needs both proposals");
      }
      const [a, b] = proposals;
      return [
        renderProposal("A", a),
        renderProposal("B", b),
        'Call `choose_proposal` with `choice` "A" or "B" and your rationale.',
      ].join("\n\n");
    }
    case "implementer": {
      const chosen = brief.chosen;
      if (chosen === undefined) {
        return "Make one change that should improve the metric, then call `submit_change`.";
      }
      return [
        `The judge chose proposal ${chosen.choice}. Carry out this plan as one change, then call \`submit_change\`.`,
        renderProposal(chosen.choice, chosen.proposal),
        `## Why the judge chose it\n\n${chosen.rationale.trim()}`,
      ].join("\n\n");
    }
  }
}

function renderProposal(label: "A" | "B", proposal: Proposal): string {
  return [
    `## Proposal ${label}: ${oneLine(proposal.title, 200)}`,
    `Hypothesis: ${proposal.hypothesis.trim()}`,
    `Plan:\n${proposal.plan.trim()}`,
  ].join("\n\n");
}

/**
 * The first (and only initial) user message of a conversation: the state of
 * the run this iteration, then the role's task.
 */
export function renderUserMessage(
  role: AgentRole,
  context: PromptContext,
  templates: PromptTemplates,
  brief: CriticBrief = {},
): string {
  const sections = [
    `# Iteration ${context.iteration} of ${context.iterations}`,
  ];
  const scores: string[] = [];
  if (context.baseline !== null) {
    scores.push(`- Baseline: ${formatSummary(context.baseline)}`);
  }
  if (context.incumbent !== null) {
    scores.push(
      `- Incumbent (the code you see): ${formatSummary(context.incumbent)}`,
    );
  }
  if (scores.length > 0) sections.push(`## Scores\n\n${scores.join("\n")}`);
  sections.push(`## Research log\n\n${renderResearchLog(context.researchLog)}`);
  if (context.notes.length > 0) {
    sections.push(
      `## Notes from the user (\`ratchet instruct\`)\n\n${
        context.notes.map((n) => `- ${n.trim()}`).join("\n")
      }`,
    );
  }
  if (context.crash !== null) {
    const output = context.crash.output.length > CRASH_TAIL_CHARS
      ? `…${context.crash.output.slice(-CRASH_TAIL_CHARS)}`
      : context.crash.output;
    sections.push(templates.debugging.trim());
    sections.push(
      `Tail of the crashed trial's output (iteration ${context.crash.iter}):\n\n\`\`\`\n${output}\n\`\`\``,
    );
  } else if (context.reverted) {
    sections.push(templates.reverting.trim());
  }
  sections.push(`## Your task\n\n${renderTask(role, brief)}`);
  return `${sections.join("\n\n")}\n`;
}
