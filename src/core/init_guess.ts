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
  /** The root Makefile's contents, if any (for its targets). */
  makefile?: string | null;
}

/** A guessed configuration with the reason for each choice. */
export interface InitGuess {
  kind: string;
  runCommand: string;
  metricName: string;
  reportSource: string;
  direction: "min" | "max";
  /**
   * Read-only for the model: the benchmark's own files, the files that
   * define the run and check commands (package.json, pyproject.toml,
   * Makefile, Cargo.toml, go.mod …), the tests and the test-runner
   * configuration. Every glob matches a tracked file.
   */
  harness: string[];
  /** The correctness gate, when the run command is not the tests themselves. */
  checkCommand: string | null;
  /** The project's own test command (null when none was found). */
  testCommand: string | null;
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

/** `globs` in order without repeats. */
function unique(globs: string[]): string[] {
  return [...new Set(globs)];
}

/** A root file as a harness entry, when it is tracked. */
function rootFiles(files: readonly string[], names: string[]): string[] {
  return names.filter((n) => files.includes(n));
}

/**
 * The tracked files a command names (`node bench/run.js --fast` →
 * `bench/run.js`; a directory `bench` → `bench/**`).
 */
function filesNamedIn(files: readonly string[], command: string): string[] {
  const out: string[] = [];
  for (const raw of command.split(/[\s;&|()]+/)) {
    const token = raw.replace(/^['"]|['"]$/g, "").replace(/^\.\//, "")
      .replace(/\/+$/, "");
    if (token === "" || token.startsWith("-")) continue;
    if (files.includes(token)) out.push(token);
    else if (files.some((f) => f.startsWith(`${token}/`))) {
      out.push(`${token}/**`);
    }
  }
  return out;
}

/** Targets of a Makefile (`name:` at the start of a line, not `:=`). */
function makeTargets(makefile: string | null | undefined): Set<string> {
  const targets = new Set<string>();
  for (const line of (makefile ?? "").split("\n")) {
    const m = /^([A-Za-z0-9_.-]+)\s*:(?!=)/.exec(line);
    if (m) targets.add(m[1]!);
  }
  return targets;
}

/** Python's test-runner configuration and the files defining its commands. */
const PY_CONFIG = ["pyproject.toml", "setup.cfg", "tox.ini", "pytest.ini"];

/** Test files and test-runner configuration of a Python project. */
function pythonHarness(f: readonly string[]): string[] {
  return [
    ...existing(f, [
      ["tests/**", /^tests\//],
      ["test/**", /^test\//],
      ["**/test_*.py", /(^|\/)test_[^/]*\.py$/],
      ["**/*_test.py", /(^|\/)[^/]*_test\.py$/],
      ["**/conftest.py", /(^|\/)conftest\.py$/],
    ]),
    ...rootFiles(f, PY_CONFIG),
  ];
}

/** `npm`'s placeholder test script, which is not a test command. */
const NPM_PLACEHOLDER = /no test specified/;

/** Guess a configuration for the repository. */
export function guessConfig(facts: RepoFacts): InitGuess {
  const f = facts.files;
  const benchPy = f.find((p) => /^(bench|benchmark)\.py$/.test(p));
  const pyTests = has(f, /(^|\/)(test_[^/]*|[^/]*_test)\.py$/) ||
    has(f, /^tests?\//);
  const pytest = "python3 -m pytest -q";
  if (benchPy) {
    return {
      kind: "Python benchmark",
      runCommand: `python3 ${benchPy}`,
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: unique([
        benchPy,
        ...existing(f, [["benchmarks/**", /^benchmarks\//]]),
        ...pythonHarness(f),
      ]),
      checkCommand: pyTests ? pytest : null,
      testCommand: pyTests ? pytest : null,
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
    const bench = typeof scripts.bench === "string" ? scripts.bench : null;
    const test = typeof scripts.test === "string" &&
        !NPM_PLACEHOLDER.test(scripts.test)
      ? "npm test --silent"
      : null;
    return {
      kind: "Node.js project",
      runCommand: bench !== null ? "npm run -s bench" : "npm test --silent",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: unique([
        // package.json's scripts are the run and check commands.
        ...rootFiles(f, ["package.json"]),
        ...(bench === null ? [] : filesNamedIn(f, bench)),
        ...existing(f, [
          ["bench/**", /^bench\//],
          ["benchmark/**", /^benchmark\//],
          ["test/**", /^test\//],
          ["tests/**", /^tests\//],
          ["__tests__/**", /(^|\/)__tests__\//],
          ["**/*.test.*", /\.test\.[cm]?[jt]sx?$/],
          ["**/*.spec.*", /\.spec\.[cm]?[jt]sx?$/],
          ["jest.config.*", /^jest\.config\./],
          ["vitest.config.*", /^vitest\.config\./],
          [".mocharc*", /^\.mocharc/],
        ]),
      ]),
      checkCommand: bench !== null ? test : null,
      testCommand: test,
      why: bench !== null
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
      harness: unique([
        "Cargo.toml",
        ...existing(f, [["tests/**", /^tests\//], [
          "benches/**",
          /^benches\//,
        ]]),
      ]),
      checkCommand: null,
      testCommand: "cargo test --quiet",
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
      harness: unique([
        "go.mod",
        ...existing(f, [["**/*_test.go", /_test\.go$/], [
          "testdata/**",
          /(^|\/)testdata\//,
        ]]),
      ]),
      checkCommand: null,
      testCommand: "go test ./...",
      why: "found go.mod; timing the test suite",
    };
  }
  if (pyTests || has(f, /^(pyproject\.toml|setup\.py)$/)) {
    return {
      kind: "Python project",
      runCommand: pytest,
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: unique(pythonHarness(f)),
      checkCommand: null,
      testCommand: pytest,
      why: "found Python tests; timing the test suite",
    };
  }
  if (has(f, /^Makefile$/)) {
    const targets = makeTargets(facts.makefile);
    const bench = targets.has("bench");
    const test = targets.has("test") ? "make test" : null;
    return {
      kind: "Makefile project",
      runCommand: bench ? "make bench" : "make test",
      metricName: "seconds",
      reportSource: "wall",
      direction: "min",
      harness: unique([
        // The Makefile's recipes are the run and check commands.
        "Makefile",
        ...existing(f, [
          ["bench/**", /^bench\//],
          ["tests/**", /^tests\//],
          ["test/**", /^test\//],
        ]),
      ]),
      checkCommand: bench ? test : null,
      testCommand: test,
      why: bench
        ? "found a Makefile with a bench target"
        : "found a Makefile; timing `make test`",
    };
  }
  return {
    kind: "unknown project",
    runCommand: "./bench.sh",
    metricName: "score",
    reportSource: "stdout",
    direction: "max",
    harness: rootFiles(f, ["bench.sh"]),
    checkCommand: null,
    testCommand: null,
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
  } else if (g.testCommand !== null) {
    lines.push(
      "  // Correctness gate: a candidate that fails it is rejected unmeasured.",
      "  // The run command already runs the tests; set it if you time something else.",
      `  // "check-command": ${q(g.testCommand)},`,
    );
  } else {
    lines.push(
      "  // Correctness gate: a candidate that fails it is rejected unmeasured.",
      "  // No test command was found; name yours here.",
      '  // "check-command": "…",',
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
