/**
 * `submit_proposal`: a critic-mode proposer hands over its plan. It ends the
 * proposer's conversation; the judge sees it next.
 */
import { type AgentTool, ok, requireString } from "./_common.ts";

/** The submit_proposal tool. */
export const submitProposalTool: AgentTool = {
  definition: {
    name: "submit_proposal",
    description:
      "Submit your plan for this iteration. Call it once, when you have studied enough, to end your turn. A judge compares it with the other proposer's plan and an implementer carries out the chosen one.",
    input_schema: {
      type: "object",
      properties: {
        title: {
          type: "string",
          description: "A short name for the change (under ten words).",
        },
        hypothesis: {
          type: "string",
          description:
            "Why this change should improve the metric, with the evidence you found.",
        },
        plan: {
          type: "string",
          description:
            "What to change, concretely enough to carry out without you: files, functions, and how.",
        },
      },
      required: ["title", "hypothesis", "plan"],
      additionalProperties: false,
    },
  },
  run(input) {
    const title = requireString(input, "title", { nonEmpty: true }).trim();
    const hypothesis = requireString(input, "hypothesis", { nonEmpty: true })
      .trim();
    const plan = requireString(input, "plan", { nonEmpty: true }).trim();
    return Promise.resolve({
      ...ok("Proposal submitted."),
      submission: {
        tool: "submit_proposal",
        proposal: { title, hypothesis, plan },
      },
    });
  },
};
