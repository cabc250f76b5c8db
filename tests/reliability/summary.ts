/**
 * tests/artifacts/reliability.json: what every reliability scenario tried
 * and what held, written by the tests in tests/e2e/reliability_*_test.ts
 * (each test replaces its own group) and rendered into docs/reliability.md
 * by tools/reliability_report.ts. Test files run one at a time, so a
 * read-merge-write per group is enough.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { ScenarioResult } from "./harness.ts";

/** Where the summary lives. */
export const SUMMARY_PATH = fileURLToPath(
  new URL("../artifacts/reliability.json", import.meta.url),
);

/** One group of scenarios (one test). */
export interface Group {
  title: string;
  /** What the group shows, one paragraph. */
  about: string;
  /** The test that produced it. */
  test: string;
  finished_at: string;
  seconds: number;
  scenarios: ScenarioResult[];
}

/** The whole file. */
export interface Summary {
  schema_version: 1;
  environment: Record<string, string>;
  groups: Record<string, Group>;
}

async function environment(): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
    cpus: String(navigator.hardwareConcurrency),
  };
  try {
    const out = await new Deno.Command("docker", {
      args: ["version", "--format", "{{.Server.Version}}"],
      stdout: "piped",
      stderr: "null",
    }).output();
    if (out.success) env.docker = new TextDecoder().decode(out.stdout).trim();
  } catch { /* no docker CLI: leave it out */ }
  return env;
}

/** Read the summary (an empty one when missing or unreadable). */
export async function readSummary(path = SUMMARY_PATH): Promise<Summary> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path)) as Summary;
    if (value.schema_version === 1 && typeof value.groups === "object") {
      return value;
    }
  } catch { /* start afresh */ }
  return { schema_version: 1, environment: {}, groups: {} };
}

/** Replace group `key` in the summary file. */
export async function writeGroup(
  key: string,
  group: Omit<Group, "finished_at">,
  path = SUMMARY_PATH,
): Promise<void> {
  const summary = await readSummary(path);
  summary.environment = await environment();
  summary.groups[key] = { ...group, finished_at: new Date().toISOString() };
  await Deno.mkdir(dirname(path), { recursive: true });
  const ignore = join(dirname(path), ".gitignore");
  if (!(await Deno.lstat(ignore).then(() => true, () => false))) {
    await Deno.writeTextFile(ignore, "*\n!.gitignore\n");
  }
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(summary, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/** Run a group of scenarios, time it, write it, and return the results. */
export async function runGroup(
  key: string,
  meta: { title: string; about: string; test: string },
  body: (add: (r: ScenarioResult) => ScenarioResult) => Promise<void>,
): Promise<ScenarioResult[]> {
  const results: ScenarioResult[] = [];
  const t0 = performance.now();
  try {
    await body((r) => {
      results.push(r);
      return r;
    });
  } finally {
    await writeGroup(key, {
      ...meta,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      scenarios: results,
    });
  }
  return results;
}
