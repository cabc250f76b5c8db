/**
 * The JSON files under tests/artifacts/ that record what the reliability and
 * security tests did (`reliability.json`, `security.json`), from which
 * tools/*_report.ts render docs/. Each test replaces its own group; test
 * files run one at a time, so a read-merge-write per group is enough.
 */
import { dirname, join } from "node:path";

/** One test's scenarios, as both files keep them. */
export interface ArtifactGroup<S> {
  title: string;
  /** What the group shows, one paragraph. */
  about: string;
  /** The test that produced it. */
  test: string;
  finished_at: string;
  seconds: number;
  scenarios: S[];
}

/** A whole artifact file. */
export interface ArtifactFile<S> {
  schema_version: 1;
  environment: Record<string, string>;
  groups: Record<string, ArtifactGroup<S>>;
}

/** The machine the tests ran on, for the rendered page. */
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

/** Read an artifact file (an empty one when missing or unreadable). */
export async function readArtifact<S>(path: string): Promise<ArtifactFile<S>> {
  try {
    const value = JSON.parse(await Deno.readTextFile(path)) as ArtifactFile<S>;
    if (value.schema_version === 1 && typeof value.groups === "object") {
      return value;
    }
  } catch { /* start afresh */ }
  return { schema_version: 1, environment: {}, groups: {} };
}

/** Replace group `key` in the artifact file at `path`. */
export async function writeArtifactGroup<S>(
  path: string,
  key: string,
  group: Omit<ArtifactGroup<S>, "finished_at">,
): Promise<void> {
  const file = await readArtifact<S>(path);
  file.environment = await environment();
  file.groups[key] = { ...group, finished_at: new Date().toISOString() };
  await Deno.mkdir(dirname(path), { recursive: true });
  const ignore = join(dirname(path), ".gitignore");
  if (!(await Deno.lstat(ignore).then(() => true, () => false))) {
    await Deno.writeTextFile(ignore, "*\n!.gitignore\n");
  }
  const tmp = `${path}.${Deno.pid}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(file, null, 2) + "\n");
  await Deno.rename(tmp, path);
}
