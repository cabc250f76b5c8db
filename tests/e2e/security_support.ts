/**
 * tests/artifacts/security.json: every attack and bad input the security
 * tests tried, the layer that stopped it and what ratchet recorded. Each
 * security test replaces its own group; tools/security_report.ts renders
 * docs/security.md from the file. Test files run one at a time, so a
 * read-merge-write per group is enough.
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Where the results live. */
export const SECURITY_PATH = fileURLToPath(
  new URL("../artifacts/security.json", import.meta.url),
);

/** How the hostile input reached ratchet. */
export type Vector =
  | "trial" // code the candidate runs in a trial container
  | "bash" // the model's bash tool, in the sandbox container
  | "editor" // the model's str_replace_based_edit_tool, on the host
  | "config" // a repository's ratchet.jsonc
  | "cli"; // flags, files and environment of an invocation

/** One attack or bad input and what became of it. */
export interface Scenario {
  id: string;
  /** What was tried, in a sentence. */
  attack: string;
  vector: Vector;
  /** The layer that stopped or neutralized it. */
  layer: string;
  /** What ratchet recorded: decision and reason, or exit code and message. */
  recorded: string;
  /** The test's expectation held. */
  held: boolean;
  /** Only the integrity instructions, the recorded diff and a check command can catch it. */
  cannot_stop?: boolean;
  /** Extra facts a reader may want (bytes, counts, timings). */
  evidence?: string;
}

/** One test's scenarios. */
export interface Group {
  title: string;
  /** What the group shows, one paragraph. */
  about: string;
  test: string;
  finished_at: string;
  seconds: number;
  scenarios: Scenario[];
}

/** The whole file. */
export interface SecurityResults {
  schema_version: 1;
  environment: Record<string, string>;
  groups: Record<string, Group>;
}

async function environment(): Promise<Record<string, string>> {
  const env: Record<string, string> = {
    deno: Deno.version.deno,
    os: `${Deno.build.os} ${Deno.build.arch}`,
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

/** Read the results (an empty set when missing or unreadable). */
export async function readResults(
  path = SECURITY_PATH,
): Promise<SecurityResults> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path)) as SecurityResults;
    if (value.schema_version === 1 && typeof value.groups === "object") {
      return value;
    }
  } catch { /* start afresh */ }
  return { schema_version: 1, environment: {}, groups: {} };
}

/** Replace group `key` in the results file. */
export async function writeGroup(
  key: string,
  group: Omit<Group, "finished_at">,
  path = SECURITY_PATH,
): Promise<void> {
  const results = await readResults(path);
  results.environment = await environment();
  results.groups[key] = { ...group, finished_at: new Date().toISOString() };
  await Deno.mkdir(dirname(path), { recursive: true });
  const ignore = join(dirname(path), ".gitignore");
  if (!(await Deno.lstat(ignore).then(() => true, () => false))) {
    await Deno.writeTextFile(ignore, "*\n!.gitignore\n");
  }
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(results, null, 2) + "\n");
  await Deno.rename(tmp, path);
}

/**
 * Collects a group's scenarios while a test runs and writes them even when
 * the test fails, so the page shows what did not hold.
 */
export class GroupRecorder {
  readonly scenarios: Scenario[] = [];
  readonly #started = performance.now();

  constructor(
    readonly key: string,
    readonly meta: { title: string; about: string; test: string },
  ) {}

  add(scenario: Scenario): void {
    this.scenarios.push(scenario);
  }

  async write(): Promise<void> {
    await writeGroup(this.key, {
      ...this.meta,
      seconds: Math.round((performance.now() - this.#started) / 100) / 10,
      scenarios: this.scenarios,
    });
  }

  /** The scenarios that did not hold, one per line ("" when all held). */
  failures(): string {
    return this.scenarios.filter((s) => !s.held).map((s) =>
      `${s.id}: ${s.attack} → ${s.recorded}${
        s.evidence ? ` (${s.evidence})` : ""
      }`
    ).join("\n");
  }
}

/** Entries of a directory tree (relative paths), for "wrote nothing" checks. */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string) => {
    for await (const e of Deno.readDir(rel === "" ? dir : join(dir, rel))) {
      const path = rel === "" ? e.name : `${rel}/${e.name}`;
      out.push(e.isDirectory ? `${path}/` : path);
      if (e.isDirectory) await walk(path);
    }
  };
  await walk("").catch(() => {});
  return out.sort();
}
