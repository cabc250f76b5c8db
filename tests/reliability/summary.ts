/**
 * tests/artifacts/reliability.json: what every reliability scenario tried
 * and what held, written by the tests in tests/e2e/reliability_*_test.ts
 * (each test replaces its own group) and rendered into docs/reliability.md
 * by tools/reliability_report.ts. Test files run one at a time, so a
 * read-merge-write per group is enough.
 */
import { fileURLToPath } from "node:url";
import { type ScenarioResult, startOrder } from "./harness.ts";
import {
  type ArtifactFile,
  type ArtifactGroup,
  readArtifact,
  writeArtifactGroup,
} from "../_helpers/artifacts.ts";

/** Where the summary lives. */
export const SUMMARY_PATH = fileURLToPath(
  new URL("../artifacts/reliability.json", import.meta.url),
);

/** One group of scenarios (one test). */
export type Group = ArtifactGroup<ScenarioResult>;

/** The whole file. */
export type Summary = ArtifactFile<ScenarioResult>;

/** Read the summary (an empty one when missing or unreadable). */
export function readSummary(path = SUMMARY_PATH): Promise<Summary> {
  return readArtifact<ScenarioResult>(path);
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
    // In the order the test listed them, not the order they finished.
    results.sort((a, b) => startOrder(a) - startOrder(b));
    await writeArtifactGroup<ScenarioResult>(SUMMARY_PATH, key, {
      ...meta,
      seconds: Math.round((performance.now() - t0) / 100) / 10,
      scenarios: results,
    });
  }
  return results;
}
