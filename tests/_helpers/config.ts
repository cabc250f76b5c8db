/** A complete Config with the spec's defaults, for tests. */
import type { Config } from "../../src/config/config.ts";
import { DEFAULTS } from "../../src/config/defaults.ts";

/**
 * The defaults (checked against the spec in schema_test.ts) plus test values
 * for the required keys and the given overrides.
 */
export function testConfig(overrides: Partial<Config> = {}): Config {
  return {
    runCommand: "echo score: 1",
    direction: "max",
    metricName: "score",
    reportSource: "stdout",
    // A copy: tests may push into the arrays.
    ...structuredClone(DEFAULTS),
    ...overrides,
  };
}
