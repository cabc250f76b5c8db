/**
 * `choose_proposal`: the critic-mode judge picks proposal A or B. It ends the
 * judge's conversation; the implementer carries out the choice.
 */
import { type AgentTool, fail, ok, requireString } from "./_common.ts";

/** The choose_proposal tool. */
export const chooseProposalTool: AgentTool = {
  definition: {
    name: "choose_proposal",
    description:
      "Choose the proposal to carry out this iteration. Call it once to end your turn.",
    input_schema: {
      type: "object",
      properties: {
        choice: {
          type: "string",
          enum: ["A", "B"],
          description: "The chosen proposal.",
        },
        rationale: {
          type: "string",
          description: "Why this proposal, in a few sentences.",
        },
      },
      required: ["choice", "rationale"],
      additionalProperties: false,
    },
  },
  run(input) {
    const raw = requireString(input, "choice").trim().toUpperCase();
    if (raw !== "A" && raw !== "B") {
      return Promise.resolve(
        fail(`choice must be "A" or "B", not ${JSON.stringify(input.choice)}.`),
      );
    }
    const rationale = requireString(input, "rationale", { nonEmpty: true })
      .trim();
    return Promise.resolve({
      ...ok(`Proposal ${raw} chosen.`),
      submission: { tool: "choose_proposal", choice: raw, rationale },
    });
  },
};
