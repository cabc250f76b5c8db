import assert from "node:assert/strict";
import { matchesAny, normalizeRelPath, protectedReason } from "./protect.ts";

const none = {
  editable: [],
  harness: [],
  scratch: [],
  reportPath: null,
  configPath: null,
};

Deno.test("normalizeRelPath() removes dots and resolves parent steps", () => {
  assert.equal(normalizeRelPath("./a//b/./c/"), "a/b/c");
  assert.equal(normalizeRelPath("a/../b"), "b");
  assert.equal(normalizeRelPath("../x"), "..");
});

Deno.test("matchesAny() covers files inside a directory named by a glob", () => {
  assert.equal(matchesAny("tests/unit/a.py", ["tests"]), true);
  assert.equal(matchesAny("src/a.py", ["tests"]), false);
  assert.equal(matchesAny("pkg/conftest.py", ["**/conftest.py"]), true);
  assert.equal(matchesAny("conftest.py", ["**/conftest.py"]), true);
});

Deno.test("matchesAny() matches paths through and into dot directories", () => {
  assert.equal(matchesAny("src/.pkg/conftest.py", ["**/conftest.py"]), true);
  assert.equal(matchesAny(".github/workflows/ci.yml", ["**/*.yml"]), true);
  assert.equal(matchesAny("tests/.fixtures/a.json", ["tests/**"]), true);
  assert.equal(matchesAny("src/.env", ["src/*"]), true);
});

Deno.test("protectedReason() refuses .git, .ratchet, the report and the harness", () => {
  const policy = { ...none, harness: ["tests/**"], reportPath: "out/r.json" };
  assert.match(protectedReason(".git/config", policy) ?? "", /\.git/);
  assert.match(protectedReason(".ratchet/x", policy) ?? "", /\.ratchet/);
  assert.match(protectedReason("out/r.json", policy) ?? "", /report/);
  assert.match(protectedReason("tests/t.py", policy) ?? "", /harness/);
  assert.match(protectedReason("../etc/passwd", policy) ?? "", /outside/);
  assert.equal(protectedReason("src/main.py", policy), null);
});

Deno.test("protectedReason() allows only editable paths when an allowlist is set", () => {
  const policy = { ...none, editable: ["src/**"] };
  assert.equal(protectedReason("src/a.py", policy), null);
  assert.match(protectedReason("setup.py", policy) ?? "", /editable/);
});

Deno.test("protectedReason() refuses the config file: ratchet.jsonc always, a --config file in the repo", () => {
  for (
    const path of ["ratchet.jsonc", "./ratchet.jsonc", "src/../ratchet.jsonc"]
  ) {
    assert.match(
      protectedReason(path, none) ?? "",
      /ratchet's config file/,
      path,
    );
  }
  const custom = { ...none, configPath: "conf/bench.jsonc" };
  assert.match(protectedReason("conf/bench.jsonc", custom) ?? "", /config/);
  assert.match(protectedReason("ratchet.jsonc", custom) ?? "", /config/);
  // Only that file: a ratchet.jsonc elsewhere is an ordinary file.
  assert.equal(protectedReason("conf/other.jsonc", custom), null);
  assert.equal(protectedReason("sub/ratchet.jsonc", custom), null);
  // Even an editable glob that covers it does not open it.
  const allow = { ...custom, editable: ["**"] };
  assert.match(protectedReason("conf/bench.jsonc", allow) ?? "", /config/);
});
