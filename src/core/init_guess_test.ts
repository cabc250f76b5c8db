import assert from "node:assert/strict";
import { parse } from "jsonc-parser";
import { guessConfig, renderInitConfig } from "./init_guess.ts";

Deno.test("guessConfig() times a Python benchmark and protects its tests", () => {
  const g = guessConfig({
    files: ["bench.py", "lib.py", "tests/test_lib.py", "conftest.py"],
    packageJson: null,
  });
  assert.equal(g.runCommand, "python3 bench.py");
  assert.equal(g.reportSource, "wall");
  assert.deepEqual(g.harness, [
    "bench.py",
    "tests/**",
    "**/test_*.py",
    "**/conftest.py",
  ]);
  assert.equal(g.checkCommand, "python3 -m pytest -q");
});

Deno.test("guessConfig() uses a package.json bench script and test-runner config", () => {
  const g = guessConfig({
    files: ["package.json", "src/a.js", "src/a.test.js", "jest.config.js"],
    packageJson: '{"scripts":{"bench":"node bench.js","test":"jest"}}',
  });
  assert.equal(g.runCommand, "npm run -s bench");
  assert.deepEqual(g.harness, ["**/*.test.*", "jest.config.*"]);
  assert.equal(g.checkCommand, "npm test --silent");
});

Deno.test("guessConfig() recognizes Rust, Go and unknown repositories", () => {
  assert.match(
    guessConfig({ files: ["Cargo.toml"], packageJson: null }).runCommand,
    /cargo test/,
  );
  assert.deepEqual(
    guessConfig({ files: ["go.mod", "a_test.go"], packageJson: null }).harness,
    ["**/*_test.go"],
  );
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
