/**
 * `ratchet init`'s guess (pure): from the repository's file list and a few
 * manifest contents, pick a command, a metric and the harness, and render a
 * commented ratchet.jsonc that explains each choice.
 */

import { formatGuardSpec } from "./guards.ts";
import type { GuardSuggestion } from "./init_guards.ts";

/** What init knows about the repository. */
export interface RepoFacts {
  /** Repo-relative paths of tracked files. */
  files: readonly string[];
  /** package.json contents, if any. */
  packageJson: string | null;
}

/** A guessed configuration with the reason for each choice. */
export interface InitGuess {
  kind: string;
  runCommand: string;
  metricName: string;
  reportSource: string;
  direction: "min" | "max";
  harness: string[];
  checkCommand: string | null;
  why: string;
}

function has(files: readonly string[], re: RegExp): boolean {
  return files.some((f) => re.test(f));
}

/** Harness globs that exist in the repo, from a list of candidates. */
function existing(
  files: readonly string[],
  globs: [string, RegExp][],
): string[] {
  return globs.filter(([, re]) => has(files, re)).map(([g]) => g);
}

/** Guess a configuration for the repository. */
export function guessConfig(facts: RepoFacts): InitGuess {
  const f = facts.files;
  const benchPy = f.find((p) => /^(bench|benchmark)\.py$/.test(p));
  const pyTests = has(f, /(^|\/)(test_[^/]*|[^/]*_test)\.py$/) ||
    has(f, /^tests?\//);
  const pyHarness = existing(f, [
    ["tests/**", /^tests\//],
    ["test/**", /^test\//],
    ["**/test_*.py", /(^|\/)test_[^/]*\.py$/],
    ["**/*_test.py", /(^|\/)[^/]*_test\.py$/],
    ["**/conftest.py", /(^|\/)conftest\.py$/],
    ["pytest.ini", /^pytest\.ini$/],
    ["tox.ini", /^tox\.ini$/],
    ["setup.cfg", /^setup\.cfg$/],
  ]);
  if (benchPy) {
    return {
      kind: "Python benchmark",
      runCommand: `python3 ${benchPy}`,
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: [benchPy, ...pyHarness],
      checkCommand: pyTests ? "python3 -m pytest -q" : null,
      why: `found ${benchPy}; timing it with ratchet's own wall clock`,
    };
  }
  if (facts.packageJson !== null) {
    let scripts: Record<string, string> = {};
    try {
      scripts = JSON.parse(facts.packageJson).scripts ?? {};
    } catch {
      // A broken package.json still tells us it is a Node project.
    }
    const bench = scripts.bench ? "npm run -s bench" : null;
    return {
      kind: "Node.js project",
      runCommand: bench ?? "npm test --silent",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: existing(f, [
        ["test/**", /^test\//],
        ["tests/**", /^tests\//],
        ["__tests__/**", /(^|\/)__tests__\//],
        ["**/*.test.*", /\.test\.[cm]?[jt]sx?$/],
        ["**/*.spec.*", /\.spec\.[cm]?[jt]sx?$/],
        ["jest.config.*", /^jest\.config\./],
        ["vitest.config.*", /^vitest\.config\./],
        [".mocharc*", /^\.mocharc/],
        ["bench/**", /^bench\//],
      ]),
      checkCommand: bench && scripts.test ? "npm test --silent" : null,
      why: bench
        ? "found a bench script in package.json"
        : "found package.json; timing the test suite",
    };
  }
  if (has(f, /^Cargo\.toml$/)) {
    return {
      kind: "Rust crate",
      runCommand: "cargo test --release --quiet",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: existing(f, [["tests/**", /^tests\//], [
        "benches/**",
        /^benches\//,
      ]]),
      checkCommand: null,
      why: "found Cargo.toml; timing the test suite",
    };
  }
  if (has(f, /^go\.mod$/)) {
    return {
      kind: "Go module",
      runCommand: "go test ./...",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: existing(f, [["**/*_test.go", /_test\.go$/], [
        "testdata/**",
        /(^|\/)testdata\//,
      ]]),
      checkCommand: null,
      why: "found go.mod; timing the test suite",
    };
  }
  if (pyTests || has(f, /^(pyproject\.toml|setup\.py)$/)) {
    return {
      kind: "Python project",
      runCommand: "python3 -m pytest -q",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: pyHarness,
      checkCommand: null,
      why: "found Python tests; timing the test suite",
    };
  }
  if (has(f, /^Makefile$/)) {
    return {
      kind: "Makefile project",
      runCommand: "make test",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: [],
      checkCommand: null,
      why: "found a Makefile; timing `make test`",
    };
  }
  return {
    kind: "unknown project",
    runCommand: "./bench.sh",
    metricName: "score",
    reportSource: "stdout",
    direction: "max",
    harness: [],
    checkCommand: null,
    why: "nothing recognizable: edit the command and the metric",
  };
}

/**
 * The `guard` lines: the numbers the benchmark prints besides the metric,
 * kept from getting worse (issue 18).
 */
function guardLines(guards: readonly GuardSuggestion[]): string[] {
  if (guards.length === 0) return [];
  const files = [...new Set(guards.map((g) => g.file))].join(", ");
  return [
    "",
    `  // ${files} also prints ${
      guards.map((g) => g.guard.name).join(", ")
    }: a guard keeps each from getting worse`,
    "  // while the metric improves (NAME:max|min[:TOL], TOL relative: 0.02 = 2%).",
    "  // Check each direction; `ratchet calibrate` recommends tolerances.",
    `  "guard": ${
      JSON.stringify(guards.map((g) => formatGuardSpec(g.guard)))
    },`,
  ];
}

/** Render the guess as a commented ratchet.jsonc. */
export function renderInitConfig(
  g: InitGuess,
  extras: { guards?: readonly GuardSuggestion[] } = {},
): string {
  const q = JSON.stringify;
  const lines = [
    "{",
    `  // Guessed by \`ratchet init\` for a ${g.kind}: ${g.why}.`,
    "  // Check every value, then try it with `ratchet measure` before `ratchet run`.",
    "",
    "  // The command whose output holds the metric (run with sh -c in a fresh container).",
    `  "run-command": ${q(g.runCommand)},`,
    "  // max: larger is better; min: smaller is better.",
    `  "direction": ${q(g.direction)},`,
    "  // The metric's name in the report (ignored for the wall source).",
    `  "metric-name": ${q(g.metricName)},`,
    "  // stdout, stderr, wall (ratchet times the command), or a file path.",
    `  "report-source": ${q(g.reportSource)},`,
    "",
    "  // The evaluation harness: read-only for the model and in every trial.",
    "  // Include tests, eval data, scoring code and test-runner configuration.",
    `  "harness": ${q(g.harness)},`,
  ];
  if (g.checkCommand) {
    lines.push(
      "  // Correctness gate: a candidate that fails it is rejected unmeasured.",
      `  "check-command": ${q(g.checkCommand)},`,
    );
  } else {
    lines.push(
      "  // Correctness gate: a candidate that fails it is rejected unmeasured.",
      '  // "check-command": "make test",',
    );
  }
  lines.push(...guardLines(extras.guards ?? []));
  lines.push(
    "",
    "  // Trials per side to start with, and the most per side under the statistical rule.",
    '  "trials": 3,',
    '  "max-trials": 10,',
    "  // Proposals to try, and when to give up early.",
    '  "iterations": 20,',
    '  "patience": 5,',
    "  // Spending cap for the model, in US dollars.",
    '  "max-cost-usd": 10,',
    "  // Rules for the model on top of the built-in integrity rules.",
    '  "instructions": ""',
    "}",
    "",
  );
  return lines.join("\n");
}
