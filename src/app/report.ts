/**
 * `report`: the self-contained HTML report of the run (rendered by the
 * function the command hands in), written atomically.
 * Read-only on `.ratchet/` state, so it works while a run is going.
 */
import { dirname, join, resolve } from "node:path";
import { findRepoRoot } from "../infra/git/repo.ts";
import { writeFileAtomic } from "../infra/atomic.ts";
import type { RunFile, Store } from "../infra/store/store.ts";
import type { Confirmation } from "../core/confirm.ts";
import type { IterationRecord } from "../core/state.ts";
import { requireRun } from "./status.ts";
import type { AppContext } from "./context.ts";
import { UsageError } from "../errors.ts";
import { VERSION } from "../version.ts";

/** How long the report waits for the Docker engine to say its version. */
const ENGINE_WAIT_MS = 2000;

/** What the report shows: the run, its records and diffs, the machine. */
export interface ReportData {
  run: RunFile;
  records: IterationRecord[];
  /** Each kept change's patch by iteration. */
  diffs: Map<number, string>;
  environment: Record<string, string>;
  generatedAt: string;
  confirmation: Confirmation | null;
}

/** What `writeReport` asks the outside world besides `.ratchet/`. */
export interface ReportDeps {
  /** A line describing the Docker engine, or null when it is not known. */
  engine?: (ctx: AppContext) => Promise<string | null>;
}

/**
 * The engine's version and endpoint, or null when it does not answer within
 * two seconds (`waitMs`): the report is about the run, and must not wait on
 * Docker.
 */
export async function engineVersionLine(
  ctx: AppContext,
  options: { waitMs?: number } = {},
): Promise<string | null> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    const runtime = ctx.deps.engine();
    const info = await Promise.race([
      runtime.info(),
      new Promise<null>((res) => {
        timer = setTimeout(() => res(null), options.waitMs ?? ENGINE_WAIT_MS);
      }),
    ]);
    if (info === null) return null;
    return `${info.serverVersion}${
      info.rootless ? " (rootless)" : ""
    } at ${info.endpoint}`;
  } catch {
    // Not known is a fine answer here.
    return null;
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Where the report goes: `--out` relative to the repo root (like every path
 * flag but --config and --instructions-file) or absolute; null for the
 * default `.ratchet/report.html`.
 */
async function outputPath(
  out: string | null,
  root: string,
): Promise<string | null> {
  if (out === null) return null;
  const path = resolve(root, out);
  const stat = await Deno.stat(path).catch(() => null);
  if (stat?.isDirectory) {
    throw new UsageError(`--out ${out} is a directory`, {
      hint: `Name a file, e.g. --out ${join(out, "report.html")}`,
    });
  }
  const parent = await Deno.stat(dirname(path)).catch(() => null);
  if (!parent?.isDirectory) {
    throw new UsageError(
      `--out ${out}: the directory ${dirname(path)} does not exist`,
      {
        hint: `Create it first (mkdir -p ${
          dirname(path)
        }) or choose another path.`,
      },
    );
  }
  return path;
}

/** The kept changes' diffs by iteration (a missing one is left out). */
async function keptDiffs(store: Store): Promise<Map<number, string>> {
  const diffs = new Map<number, string>();
  for (const r of await store.readRecords()) {
    if (r.iter === 0 || !r.kept) continue;
    const patch = await store.readDiff(r.iter);
    if (patch !== null) diffs.set(r.iter, patch);
  }
  return diffs;
}

/**
 * Write the report of the run in the repository around `ctx.cwd`; returns
 * its path. Exit 3 when there is no run, 2 for a bad `--out`.
 */
export async function writeReport(
  options: { out: string | null },
  ctx: AppContext,
  render: (data: ReportData) => string,
  deps: ReportDeps = {},
): Promise<string> {
  const root = await findRepoRoot(ctx.deps.git, ctx.cwd);
  const store = ctx.deps.store(root);
  const run = await requireRun(store);
  const out = await outputPath(options.out, root);
  const records = await store.readRecords();
  const environment: Record<string, string> = {
    ratchet: VERSION,
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
  };
  const engine = await (deps.engine ?? engineVersionLine)(ctx);
  if (engine !== null) environment["docker engine"] = engine;
  const html = render({
    run,
    records,
    diffs: await keptDiffs(store),
    environment,
    generatedAt: ctx.now().toISOString(),
    confirmation: await store.readConfirmation().catch(() => null),
  });
  if (out === null) return await store.writeReportHtml(html);
  await writeFileAtomic(out, html, {
    fault: ctx.deps.fault,
    point: "report.write",
  });
  return out;
}
