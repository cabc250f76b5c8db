/**
 * tests/artifacts/security.json: every attack and bad input the security
 * tests tried, the layer that stopped it and what ratchet recorded. Each
 * security test replaces its own group; tools/security_report.ts renders
 * docs/security.md from the file. Test files run one at a time, so a
 * read-merge-write per group is enough.
 */
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type ArtifactFile,
  type ArtifactGroup,
  readArtifact,
  writeArtifactGroup,
} from "../_helpers/artifacts.ts";

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

/**
 * What a case shows, counted apart on the page:
 * - `attack`: hostile input ratchet must stop; held = it was stopped.
 * - `control`: a positive control showing the test could see the attack
 *   succeed (the listener is reachable without `--network none`); held = it
 *   did.
 * - `limit`: a known limit, an attack the page says succeeds; held = it
 *   went as documented (and left what a human needs to catch it).
 */
export type Kind = "attack" | "control" | "limit";

/** Every kind, in the page's order. */
export const KINDS: readonly Kind[] = ["attack", "control", "limit"];

/** One attack or bad input and what became of it. */
export interface Scenario {
  id: string;
  kind: Kind;
  /** What was tried, in a sentence. */
  attack: string;
  vector: Vector;
  /** The layer that stopped or neutralized it. */
  layer: string;
  /** What ratchet recorded: decision and reason, or exit code and message. */
  recorded: string;
  /** The test's expectation held. */
  held: boolean;
  /** Extra facts a reader may want (bytes, counts, timings), as measured. */
  evidence?: string;
}

/** A case as a test records it: `kind` defaults to "attack". */
export type CaseInput = Omit<Scenario, "kind"> & { kind?: Kind };

/** One test's scenarios. */
export type Group = ArtifactGroup<Scenario>;

/** The whole file. */
export type SecurityResults = ArtifactFile<Scenario>;

/** Read the results (an empty set when missing or unreadable). */
export function readResults(path = SECURITY_PATH): Promise<SecurityResults> {
  return readArtifact<Scenario>(path);
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

  add(scenario: CaseInput): void {
    const { id, kind = "attack", ...rest } = scenario;
    this.scenarios.push({ id, kind, ...rest });
  }

  async write(): Promise<void> {
    await writeArtifactGroup<Scenario>(SECURITY_PATH, this.key, {
      ...this.meta,
      seconds: Math.round((performance.now() - this.#started) / 100) / 10,
      scenarios: this.scenarios,
    });
  }

  /** The scenarios that did not hold, one per line ("" when all held). */
  failures(): string {
    return this.scenarios.filter((s) => !s.held).map((s) =>
      `${s.id} (${s.kind}): ${s.attack} → ${s.recorded}${
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
