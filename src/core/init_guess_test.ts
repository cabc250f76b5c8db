import assert from "node:assert/strict";
import { parse } from "jsonc-parser";
import { guessConfig, renderInitConfig } from "./init_guess.ts";

Deno.test("guessConfig() times a Python benchmark and protects it, its tests and the pytest configuration", () => {
  const g = guessConfig({
    files: [
      "bench.py",
      "lib.py",
      "tests/test_lib.py",
      "conftest.py",
      "pyproject.toml",
    ],
    packageJson: null,
  });
  assert.equal(g.runCommand, "python3 bench.py");
  assert.equal(g.reportSource, "wall");
  assert.deepEqual(g.harness, [
    "bench.py",
    "tests/**",
    "**/test_*.py",
    "**/conftest.py",
    "pyproject.toml",
  ]);
  assert.equal(g.checkCommand, "python3 -m pytest -q");
});

Deno.test("guessConfig() protects a Node bench script's own files and package.json, and checks with npm test", () => {
  const g = guessConfig({
    files: [
      "package.json",
      "src/a.js",
      "src/a.test.js",
      "jest.config.js",
      "scripts/bench.mjs",
      "fixtures/big.json",
    ],
    packageJson:
      '{"scripts":{"bench":"node ./scripts/bench.mjs fixtures/ --runs 5","test":"jest"}}',
  });
  assert.equal(g.runCommand, "npm run -s bench");
  assert.deepEqual(g.harness, [
    "package.json",
    "scripts/bench.mjs",
    "fixtures/**",
    "**/*.test.*",
    "jest.config.*",
  ]);
  assert.equal(g.checkCommand, "npm test --silent");
});

Deno.test("guessConfig() does not take npm's placeholder test script for a test command", () => {
  const g = guessConfig({
    files: ["package.json", "bench.js"],
    packageJson:
      '{"scripts":{"bench":"node bench.js","test":"echo \\"Error: no test specified\\" && exit 1"}}',
  });
  assert.deepEqual(g.harness, ["package.json", "bench.js"]);
  assert.equal(g.checkCommand, null);
  assert.equal(g.testCommand, null);
});

Deno.test("guessConfig() for a pytest project protects pyproject.toml and proposes pytest, not make", () => {
  const g = guessConfig({
    files: ["pyproject.toml", "Makefile", "pkg/core.py", "tests/test_core.py"],
    packageJson: null,
    makefile: "test:\n\tpytest\n",
  });
  assert.equal(g.kind, "Python project");
  assert.deepEqual(g.harness, ["tests/**", "**/test_*.py", "pyproject.toml"]);
  assert.equal(g.testCommand, "python3 -m pytest -q");
  const text = renderInitConfig(g);
  assert.match(text, /\/\/ "check-command": "python3 -m pytest -q"/);
  assert.doesNotMatch(text, /make test/);
});

Deno.test("guessConfig() protects Cargo.toml, go.mod and a Makefile, with each ecosystem's test command", () => {
  const rust = guessConfig({
    files: ["Cargo.toml", "src/lib.rs", "tests/it.rs", "benches/b.rs"],
    packageJson: null,
  });
  assert.match(rust.runCommand, /cargo test/);
  assert.deepEqual(rust.harness, ["Cargo.toml", "tests/**", "benches/**"]);
  assert.equal(rust.testCommand, "cargo test --quiet");
  const go = guessConfig({ files: ["go.mod", "a_test.go"], packageJson: null });
  assert.deepEqual(go.harness, ["go.mod", "**/*_test.go"]);
  assert.equal(go.testCommand, "go test ./...");
  const make = guessConfig({
    files: ["Makefile", "main.c", "bench/input.txt"],
    packageJson: null,
    makefile:
      "CC := gcc\nbench: main\n\t./main bench/input.txt\ntest:\n\t./t\n",
  });
  assert.equal(make.runCommand, "make bench");
  assert.deepEqual(make.harness, ["Makefile", "bench/**"]);
  assert.equal(make.checkCommand, "make test");
  assert.equal(
    guessConfig({ files: ["x.txt"], packageJson: null }).kind,
    "unknown project",
  );
});

Deno.test("renderInitConfig() writes JSONC that parses back to the guess", () => {
  const g = guessConfig({ files: ["bench.py"], packageJson: null });
  const text = renderInitConfig(g);
  assert.match(text, /\/\/ The evaluation harness/);
  const value = parse(text) as Record<string, unknown>;
  assert.equal(value["run-command"], "python3 bench.py");
  assert.deepEqual(value.harness, ["bench.py"]);
});
