/**
 * `submit_change`: the implementer hands over its change. It ends the
 * proposal; ratchet then looks at the diff itself (an unchanged tree is
 * `no_change`), checks it and measures it.
 */
import { type AgentTool, ok, requireString } from "./_common.ts";

/** The submit_change tool. */
export const submitChangeTool: AgentTool = {
  definition: {
    name: "submit_change",
    description:
      "Submit the change you made for measurement. Call it once, after your edits, to end this iteration. ratchet measures the change and keeps it only if the metric really improves.",
    input_schema: {
      type: "object",
      properties: {
        hypothesis: {
          type: "string",
          description:
            "Why this change should improve the metric, and by roughly how much.",
        },
        description: {
          type: "string",
          description:
            "What you changed, in a short paragraph (it becomes the commit message).",
        },
      },
      required: ["hypothesis", "description"],
      additionalProperties: false,
    },
  },
  run(input) {
    const hypothesis = requireString(input, "hypothesis", { nonEmpty: true })
      .trim();
    const description = requireString(input, "description", { nonEmpty: true })
      .trim();
    return Promise.resolve({
      ...ok("Change submitted for measurement."),
      submission: { tool: "submit_change", hypothesis, description },
    });
  },
};
