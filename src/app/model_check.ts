/**
 * The model named by `--model` (or RATCHET_MODEL, or the default) is asked
 * for once before a run or a resume starts anything: a wrong name stops
 * with exit 2 before the baseline, instead of after it with the run left
 * interrupted.
 */
import { ConfigError } from "../errors.ts";
import type { AppContext } from "./context.ts";

/**
 * Check that the API knows `model`. Unknown → ConfigError (exit 2) naming
 * it; a rejected key → EnvironmentError (exit 3); an API that cannot answer
 * now → `warn` and go on (the run's own calls retry and stop resumably).
 */
export async function checkModel(
  ctx: AppContext,
  options: { apiKey: string; model: string; warn: (message: string) => void },
): Promise<void> {
  const client = ctx.deps.model(options.apiKey);
  const answer = await client.checkModel(options.model, {
    signal: ctx.signal,
  });
  if (answer.status === "unknown") {
    throw new ConfigError(
      `The Anthropic API does not know model "${options.model}" (${answer.detail})`,
      {
        key: "model",
        hint:
          'Check --model (or RATCHET_MODEL, or ratchet.jsonc\'s "model") and ANTHROPIC_BASE_URL; nothing was started.',
      },
    );
  }
  if (answer.status === "unverified") {
    options.warn(
      `Could not check model "${options.model}" now (${answer.detail}); going on.`,
    );
  }
}
