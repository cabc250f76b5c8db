import assert from "node:assert/strict";
import { join } from "node:path";
import { loadConfig, parseJsonc } from "./load.ts";
import { ConfigError } from "../errors.ts";

function files(map: Record<string, string>) {
  return (path: string) => {
    const text = map[path];
    return text === undefined
      ? Promise.reject(new Deno.errors.NotFound(path))
      : Promise.resolve(text);
  };
}

const base = {
  cwd: "/home/u/repo/sub",
  repoRoot: "/home/u/repo",
  configPath: null,
  flags: {},
  trustConfig: false,
  purpose: "run" as const,
  envModel: undefined,
};

const good = `{
  // the benchmark
  "run-command": "python bench.py",
  "direction": "min",
  "metric-name": "time",
  "report-source": "stdout",
  "trials": 3, // trailing comma next
}`;

Deno.test("loadConfig() reads ratchet.jsonc at the repo root with comments and trailing commas", async () => {
  const { config, configFile } = await loadConfig({
    ...base,
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(config.trials, 3);
  assert.equal(config.runCommand, "python bench.py");
  assert.equal(configFile, "/home/u/repo/ratchet.jsonc");
});

Deno.test("loadConfig() lets flags win over the file", async () => {
  const { config } = await loadConfig({
    ...base,
    flags: { trials: 7 },
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(config.trials, 7);
});

Deno.test("loadConfig() resolves --config against the current directory", async () => {
  const { configFile } = await loadConfig({
    ...base,
    configPath: "my.jsonc",
    readTextFile: files({ "/home/u/repo/sub/my.jsonc": good }),
  });
  assert.equal(configFile, "/home/u/repo/sub/my.jsonc");
});

Deno.test("loadConfig() fails when --config names a missing file", async () => {
  await assert.rejects(
    loadConfig({ ...base, configPath: "nope.jsonc", readTextFile: files({}) }),
    (e: unknown) => e instanceof ConfigError && /nope\.jsonc/.test(e.message),
  );
});

Deno.test("loadConfig() uses RATCHET_MODEL below the file and flags", async () => {
  const { config } = await loadConfig({
    ...base,
    envModel: "claude-test-1",
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(config.model, "claude-test-1");
  const flagged = await loadConfig({
    ...base,
    envModel: "claude-test-1",
    flags: { model: "claude-flag" },
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(flagged.config.model, "claude-flag");
});

Deno.test("loadConfig() refuses trust-gated keys unless --trust-config", async () => {
  const text = good.replace(
    '"trials": 3,',
    '"trials": 3, "network": "bridge",',
  );
  await assert.rejects(
    loadConfig({
      ...base,
      readTextFile: files({ "/home/u/repo/ratchet.jsonc": text }),
    }),
    (e: unknown) =>
      e instanceof ConfigError && e.key === "network" &&
      /--trust-config/.test(e.hint ?? ""),
  );
  const trusted = await loadConfig({
    ...base,
    trustConfig: true,
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": text }),
  });
  assert.equal(trusted.config.network, "bridge");
});

Deno.test("loadConfig() appends the instructions file, read relative to the current directory", async () => {
  const { config } = await loadConfig({
    ...base,
    flags: { instructions: "Rule one.", instructionsFile: "rules.md" },
    readTextFile: files({
      "/home/u/repo/ratchet.jsonc": good,
      [join(base.cwd, "rules.md")]: "Rule two.\n",
    }),
  });
  assert.equal(config.instructions, "Rule one.\n\nRule two.");
});

Deno.test("loadConfig() names an unreadable instructions file", async () => {
  await assert.rejects(
    loadConfig({
      ...base,
      flags: { instructionsFile: "missing.md" },
      readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
    }),
    (e: unknown) =>
      e instanceof ConfigError && /missing\.md/.test(e.message) &&
      e.exitCode === 2,
  );
});

Deno.test("parseJsonc() reports the line of a syntax error", () => {
  assert.throws(
    () => parseJsonc('{\n  "trials": 3\n  "iterations": 4\n}', "ratchet.jsonc"),
    (e: unknown) =>
      e instanceof ConfigError &&
      /Cannot read config "ratchet\.jsonc": CommaExpected at line 3/.test(
        e.message,
      ),
  );
  assert.throws(() => parseJsonc("[1]", "r"), /top level must be an object/);
});
