/**
 * What `run` and `resume` check before anything is written: the repository,
 * the configuration, the globs, the API key, and (for a resume) the run and
 * the settings it may change.
 */
import type { Config } from "../config/config.ts";
import { loadConfig } from "../config/load.ts";
import { matchesAny } from "../core/protect.ts";
import type { RunEvent } from "../core/events.ts";
import type { IterationRecord } from "../core/state.ts";
import { ConfigError, EnvironmentError } from "../errors.ts";
import { priceFor } from "../agent/pricing.ts";
import { findRepoRoot, headSha, isDirty } from "../infra/git/repo.ts";
import type { GitContext } from "../infra/git/context.ts";
import { runGit } from "../infra/git/process.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import type { AppContext } from "./context.ts";
import { interruptedSpend } from "./run_state.ts";
import { type ResumeSettings, resumeSettings } from "./resume_settings.ts";

/** What a `run` starts from once its preflight has passed. */
export interface RunPreflight {
  root: string;
  startSha: string;
  /** The checkout had uncommitted changes (the run starts from HEAD regardless). */
  dirty: boolean;
  config: Config;
  /** The config file read, as given (for messages), or null. */
  configFile: string | null;
  /** The config file's repository-relative path when it is inside the repo. */
  configInRepo: string | null;
  apiKey: string;
}

/** `ratchet run`'s checks, in the order a user fixes them. */
export async function preflightRun(
  input: {
    flags: Partial<Config>;
    configPath: string | null;
    trustConfig: boolean;
  },
  ctx: AppContext,
): Promise<RunPreflight> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const startSha = await headSha(ctx.deps.git, root);
  const dirty = await isDirty(ctx.deps.git, root);
  const { config, configFile, configInRepo } = await loadConfig({
    cwd: ctx.cwd,
    repoRoot: root,
    configPath: input.configPath,
    flags: input.flags,
    trustConfig: input.trustConfig,
    purpose: "run",
    envModel: ctx.env.RATCHET_MODEL,
    readTextFile: (p) => Deno.readTextFile(p),
  });
  priceFor(config.model, config.prices);
  await checkGlobs(ctx.deps.git, root, startSha, config);
  return {
    root,
    startSha,
    dirty,
    config,
    configFile,
    configInRepo,
    apiKey: apiKeyOf(ctx.env),
  };
}

/** What a `resume` continues once its preflight has passed. */
export interface ResumePreflight {
  root: string;
  store: Store;
  run: RunFile;
  settings: ResumeSettings;
  apiKey: string;
}

/** `ratchet resume`'s checks: a run to resume, and the flags it may change. */
export async function preflightResume(
  flags: Partial<Config>,
  ctx: AppContext,
): Promise<ResumePreflight> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await store.readRun();
  if (run === null) {
    throw new EnvironmentError(`There is no run to resume in ${root}`, {
      hint: "Start one with `ratchet run`.",
    });
  }
  const records = await store.readRecords();
  const settings = resumeSettings({
    run,
    records,
    flags,
    spentUsd: await spentSoFar(store, run, records),
  });
  return { root, store, run, settings, apiKey: apiKeyOf(ctx.env) };
}

/** Everything the run has spent: its records and an iteration cut short. */
async function spentSoFar(
  store: Store,
  run: RunFile,
  records: readonly IterationRecord[],
): Promise<number> {
  const carried = interruptedSpend(
    await store.readCurrent().catch(() => null),
    run.run_id,
    records.length,
  );
  return records.reduce((a, r) => a + r.cost_usd, 0) +
    (carried?.costUsd ?? 0);
}

/** Refuse globs that match no tracked file, and files both editable and harness. */
async function checkGlobs(
  git: GitContext,
  root: string,
  sha: string,
  config: Config,
): Promise<void> {
  const files =
    (await runGit(git, root, ["ls-tree", "-r", "-z", "--name-only", sha]))
      .split("\0").filter((f) => f !== "");
  for (
    const [name, globs] of [["editable", config.editable], [
      "harness",
      config.harness,
    ]] as const
  ) {
    for (const glob of globs) {
      if (!files.some((f) => matchesAny(f, [glob]))) {
        throw new ConfigError(
          `--${name} "${glob}" matches no file in the repository`,
          {
            key: name,
            hint:
              'Globs are relative to the repo root (e.g. "tests/**", "src/*.py"); check the spelling.',
          },
        );
      }
    }
  }
  if (config.editable.length > 0 && config.harness.length > 0) {
    const both = files.find((f) =>
      matchesAny(f, config.editable) && matchesAny(f, config.harness)
    );
    if (both !== undefined) {
      throw new ConfigError(
        `${both} is matched by both --editable and --harness`,
        {
          key: "editable",
          hint:
            "A path is either the subject (editable) or the harness (read-only); narrow one of the globs.",
        },
      );
    }
  }
}

function apiKeyOf(env: Readonly<Record<string, string | undefined>>): string {
  const key = env.ANTHROPIC_API_KEY;
  if (key === undefined || key.trim() === "") {
    throw new EnvironmentError("ANTHROPIC_API_KEY is not set", {
      hint: "Export your Anthropic API key: export ANTHROPIC_API_KEY=sk-ant-…",
    });
  }
  return key;
}

/**
 * What a trusted config's `"prices"` override, said at the start so a price
 * of 0 (which would defeat --max-cost-usd) is seen: a warning when a price
 * is 0, else an info line; null when nothing is overridden.
 */
export function pricesNotice(
  config: Config,
  configFile: string | null,
): RunEvent | null {
  const models = Object.entries(config.prices);
  if (models.length === 0) return null;
  const usd = (n: number) => `$${n}`;
  const free = models.some(([, p]) =>
    p.input === 0 || p.output === 0 || p.cache_write === 0 ||
    p.cache_read === 0
  );
  const message = `Prices from ${
    configFile ?? "the config"
  } override the built-in table (USD per million tokens): ${
    models.map(([model, p]) =>
      `${model} input ${usd(p.input)}, output ${usd(p.output)}, cache write ${
        usd(p.cache_write)
      }, cache read ${usd(p.cache_read)}`
    ).join("; ")
  }${
    free
      ? ". A price of 0 means those tokens never count toward --max-cost-usd"
      : ""
  }`;
  return free ? { event: "warning", message } : { event: "info", message };
}
