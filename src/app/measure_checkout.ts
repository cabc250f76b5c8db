/**
 * `measure` and `calibrate` of the checkout the user stands in: which
 * directory that is, its configuration, and the trials (app/measure.ts).
 */
import { join } from "node:path";
import type { Config } from "../config/config.ts";
import { CONFIG_FILE_NAME, loadConfig } from "../config/load.ts";
import type { GitContext } from "../infra/git/context.ts";
import { runGitRaw } from "../infra/git/process.ts";
import type { AppContext } from "./context.ts";
import { measure, type MeasureOptions, type MeasureRun } from "./measure.ts";

/** The configuration flags measure and calibrate take. */
export interface MeasureInput {
  flags: Partial<Config>;
  configPath: string | null;
  trustConfig: boolean;
  trials: number;
}

/** A finished measure and what it was measured with. */
export interface CheckoutMeasure {
  run: MeasureRun;
  config: Config;
  /** The config file read, or null. */
  configFile: string | null;
  /** The measured checkout. */
  root: string;
}

/**
 * The checkout: cwd when it holds a ratchet.jsonc (a project inside another
 * repository), else the git work tree around cwd, else cwd.
 */
export async function checkoutOf(
  git: GitContext,
  cwd: string,
): Promise<string> {
  if (
    await Deno.stat(join(cwd, CONFIG_FILE_NAME)).then(() => true, () => false)
  ) {
    return cwd;
  }
  const out = await runGitRaw(git, cwd, ["rev-parse", "--show-toplevel"], {
    okCodes: [0, 128],
  }).catch(() => null);
  const top = out && out.status === 0
    ? new TextDecoder().decode(out.stdout).trim()
    : "";
  return top === "" ? cwd : top;
}

/** Measure the checkout around `ctx.cwd`; progress goes to `progress`. */
export async function measureCheckout(
  input: MeasureInput,
  ctx: AppContext,
  progress: Pick<MeasureOptions, "onProgress" | "onReady" | "onTrial">,
): Promise<CheckoutMeasure> {
  const root = await checkoutOf(ctx.deps.git, ctx.cwd);
  const { config, configFile } = await loadConfig({
    cwd: ctx.cwd,
    repoRoot: root,
    configPath: input.configPath,
    flags: input.flags,
    trustConfig: input.trustConfig,
    purpose: "measure",
    envModel: ctx.env.RATCHET_MODEL,
    readTextFile: (p) => Deno.readTextFile(p),
  });
  const runtime = ctx.deps.engine();
  await runtime.info();
  const run = await measure(
    {
      runtime,
      git: ctx.deps.git,
      env: (name) => ctx.env[name],
      signal: ctx.signal,
      now: ctx.now,
    },
    { config, checkoutDir: root, trials: input.trials, ...progress },
  );
  return { run, config, configFile, root };
}
