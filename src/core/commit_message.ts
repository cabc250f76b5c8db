/**
 * The message of a kept candidate's commit: the model's description and
 * hypothesis, then the statistics that justified keeping it, so `git log`
 * alone tells the story of the run.
 */
import type { Judgement } from "./judge.ts";

/** What goes into a kept commit's message. */
export interface CommitMessageInput {
  iter: number;
  runId: string;
  description: string;
  hypothesis: string;
  judgement: Judgement;
  candidateScores: readonly (number | null)[];
  incumbentScores: readonly number[];
  direction: "max" | "min";
}

function fmt(x: number | null): string {
  if (x === null) return "n/a";
  const a = Math.abs(x);
  return a !== 0 && (a < 1e-3 || a >= 1e6)
    ? x.toExponential(4)
    : String(Number(x.toPrecision(6)));
}

function pct(x: number | null): string {
  return x === null ? "n/a" : `${x >= 0 ? "+" : ""}${(x * 100).toFixed(2)}%`;
}

/** Render the commit message. The subject line is at most 72 characters. */
export function commitMessage(input: CommitMessageInput): string {
  const j = input.judgement;
  const firstLine = input.description.split("\n")[0]!.trim() || "change";
  const prefix = `ratchet iter ${input.iter}: `;
  const subject = (prefix + firstLine).length > 72
    ? (prefix + firstLine).slice(0, 71) + "…"
    : prefix + firstLine;
  const ok = input.candidateScores.filter((s): s is number => s !== null);
  const mean = ok.length ? ok.reduce((a, b) => a + b, 0) / ok.length : null;
  const lines = [
    subject,
    "",
    input.description.trim(),
    "",
    `Hypothesis: ${input.hypothesis.trim()}`,
    "",
    `Decision: ${j.decision} (rule ${j.rule}, direction ${input.direction})`,
    `Candidate: mean ${fmt(mean)} over ${ok.length} trial(s): ${
      input.candidateScores.map(fmt).join(", ")
    }`,
  ];
  if (input.incumbentScores.length > 0) {
    lines.push(
      `Incumbent: mean ${
        fmt(j.incumbentMean)
      } over ${input.incumbentScores.length} trial(s): ${
        input.incumbentScores.map(fmt).join(", ")
      }`,
    );
  }
  lines.push(
    `Effect: ${pct(j.effect)}${
      j.ci ? ` (interval ${pct(j.ci[0])} to ${pct(j.ci[1])})` : ""
    }; p = ${j.p_value === null ? "n/a" : j.p_value.toPrecision(3)}`,
  );
  for (const g of Object.values(j.guards ?? {})) {
    lines.push(
      `Guard ${g.name}: ${pct(g.effect)}${
        g.ci ? ` (interval ${pct(g.ci[0])} to ${pct(g.ci[1])})` : ""
      }, tolerance ${(g.tolerance * 100).toPrecision(3)}%: ${
        g.state === "not_worse" ? "not worse" : g.state
      }${
        g.p_value === null
          ? ""
          : ` (non-inferiority p = ${g.p_value.toPrecision(3)})`
      }`,
    );
  }
  if (j.detail) lines.push(`Detail: ${j.detail}`);
  lines.push("", `Ratchet-Run: ${input.runId}`, `Ratchet-Iter: ${input.iter}`);
  return lines.join("\n") + "\n";
}
