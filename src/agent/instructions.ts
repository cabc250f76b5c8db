/**
 * The product's prompts, embedded in the program with text imports so the
 * shipped single file needs nothing beside it.
 */
import integrity from "../../instructions/integrity.md" with { type: "text" };
import criticMode from "../../instructions/critic-mode.md" with {
  type: "text",
};
import debugging from "../../instructions/debugging.md" with { type: "text" };
import reverting from "../../instructions/reverting.md" with { type: "text" };
import implementer from "../../instructions/implementer.md" with {
  type: "text",
};
import proposerA from "../../instructions/proposer-a.md" with { type: "text" };
import proposerB from "../../instructions/proposer-b.md" with { type: "text" };
import judge from "../../instructions/critic.md" with { type: "text" };
import type { PromptTemplates } from "../core/prompt.ts";

/** The templates of `instructions/`, as shipped. */
export const INSTRUCTIONS: PromptTemplates = {
  integrity,
  criticMode,
  debugging,
  reverting,
  roles: {
    implementer,
    "proposer-a": proposerA,
    "proposer-b": proposerB,
    judge,
  },
};
