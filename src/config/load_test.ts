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

/** A fake realPath: `links` maps a path to where it leads. */
function realPaths(links: Record<string, string>) {
  return (path: string) =>
    Promise.resolve(
      Object.entries(links).reduce(
        (p, [from, to]) =>
          p === from || p.startsWith(`${from}/`)
            ? to + p.slice(from.length)
            : p,
        path,
      ),
    );
}

const gated = good.replace(
  '"trials": 3,',
  '"trials": 3, "network": "bridge",',
);

Deno.test("loadConfig() trusts a --config file outside the repository, not one inside it", async () => {
  const outside = await loadConfig({
    ...base,
    configPath: "/home/u/my-ratchet.jsonc",
    readTextFile: files({ "/home/u/my-ratchet.jsonc": gated }),
  });
  assert.equal(outside.config.network, "bridge");
  assert.equal(outside.trusted, true);
  assert.equal(outside.configInRepo, null);
  for (const configPath of ["my.jsonc", "../conf/my.jsonc"]) {
    await assert.rejects(
      loadConfig({
        ...base,
        configPath,
        readTextFile: files({
          "/home/u/repo/sub/my.jsonc": gated,
          "/home/u/repo/conf/my.jsonc": gated,
        }),
      }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === "network" &&
        /--trust-config/.test(e.hint ?? ""),
      configPath,
    );
  }
  // A link outside the repository that leads into it is still the repository's.
  await assert.rejects(
    loadConfig({
      ...base,
      configPath: "/tmp/innocent.jsonc",
      readTextFile: files({ "/tmp/innocent.jsonc": gated }),
      realPath: realPaths({ "/tmp/innocent.jsonc": "/home/u/repo/evil.jsonc" }),
    }),
    (e: unknown) => e instanceof ConfigError && e.key === "network",
  );
  const inside = await loadConfig({
    ...base,
    configPath: "my.jsonc",
    trustConfig: true,
    readTextFile: files({ "/home/u/repo/sub/my.jsonc": gated }),
  });
  assert.equal(inside.configInRepo, "sub/my.jsonc");
  assert.equal(inside.trusted, true);
  const plain = await loadConfig({
    ...base,
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(plain.configInRepo, "ratchet.jsonc");
  assert.equal(plain.trusted, false);
  // No file at all: ratchet.jsonc is still the path a later run would read.
  const none = await loadConfig({
    ...base,
    flags: {
      runCommand: "x",
      direction: "max",
      metricName: "m",
      reportSource: "stdout",
    },
    readTextFile: files({}),
  });
  assert.equal(none.configFile, null);
  assert.equal(none.configInRepo, "ratchet.jsonc");
});

Deno.test("loadConfig() refuses cache and prices from a repository's config unless trusted", async () => {
  const cases: [string, RegExp][] = [
    ['"cache": ["/usr/local/bin"]', /Pass --cache on the command line/],
    [
      '"prices": {"claude-sonnet-4-6": {"input": 0, "output": 0, "cache_write": 0, "cache_read": 0}}',
      /"prices" in a config file of yours outside the repository \(--config FILE\), or add --trust-config/,
    ],
  ];
  for (const [entry, hint] of cases) {
    const text = good.replace('"trials": 3,', `"trials": 3, ${entry},`);
    const key = /"([a-z-]+)"/.exec(entry)![1]!;
    await assert.rejects(
      loadConfig({
        ...base,
        readTextFile: files({ "/home/u/repo/ratchet.jsonc": text }),
      }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === key &&
        new RegExp(`Refusing "${key}" from`).test(e.message) &&
        hint.test(e.hint ?? ""),
      key,
    );
    const trusted = await loadConfig({
      ...base,
      trustConfig: true,
      readTextFile: files({ "/home/u/repo/ratchet.jsonc": text }),
    });
    assert.ok(trusted.trusted);
  }
});

Deno.test("loadConfig() caps max-file-size from an untrusted file and takes it from a flag", async () => {
  for (const value of ['"none"', '"2g"']) {
    await assert.rejects(
      loadConfig({
        ...base,
        readTextFile: files({
          "/home/u/repo/ratchet.jsonc": good.replace(
            '"trials": 3,',
            `"trials": 3, "max-file-size": ${value},`,
          ),
        }),
      }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === "max-file-size" &&
        /untrusted ceiling of 1g/.test(e.message),
      value,
    );
  }
  const { config } = await loadConfig({
    ...base,
    readTextFile: files({
      "/home/u/repo/ratchet.jsonc": good.replace(
        '"trials": 3,',
        '"trials": 3, "max-file-size": "500m",',
      ),
    }),
  });
  assert.equal(config.maxFileSize, 500 * 1024 ** 2);
  const flagged = await loadConfig({
    ...base,
    flags: { maxFileSize: null },
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(flagged.config.maxFileSize, null);
  const defaulted = await loadConfig({
    ...base,
    readTextFile: files({ "/home/u/repo/ratchet.jsonc": good }),
  });
  assert.equal(defaulted.config.maxFileSize, 10 * 1024 ** 2);
});

Deno.test("loadConfig() lets a repository's instructions-file name only a file inside the repository", async () => {
  const withFile = (value: string) =>
    good.replace(
      '"trials": 3,',
      `"trials": 3, "instructions-file": ${JSON.stringify(value)},`,
    );
  const refused: [string, RegExp, Record<string, string>][] = [
    ["../../.ssh/id_rsa", /climbs with "\.\."/, {}],
    ["/home/u/.aws/credentials", /absolute path/, {}],
    ["notes.md", /a symlink leads it to \/home\/u\/\.aws\/credentials/, {
      "/home/u/repo/sub/notes.md": "/home/u/.aws/credentials",
    }],
    ["../.git/config", /climbs with/, {}],
    ["git-config", /it lies in \.git, which is not the repository's content/, {
      "/home/u/repo/sub/git-config": "/home/u/repo/.git/config",
    }],
  ];
  const readable = files({
    "/home/u/repo/ratchet.jsonc": "",
    "/home/u/.ssh/id_rsa": "SECRET",
    "/home/u/.aws/credentials": "SECRET",
    "/home/u/repo/sub/notes.md": "SECRET",
    "/home/u/repo/sub/git-config": "SECRET",
    "/home/u/repo/sub/rules.md": "Rule from the repo.",
  });
  for (const [value, why, links] of refused) {
    await assert.rejects(
      loadConfig({
        ...base,
        readTextFile: (p) =>
          p === "/home/u/repo/ratchet.jsonc"
            ? Promise.resolve(withFile(value))
            : readable(p),
        realPath: realPaths(links),
      }),
      (e: unknown) =>
        e instanceof ConfigError && e.key === "instructions-file" &&
        why.test(e.message) &&
        /only a file inside the repository/.test(e.message) &&
        /--instructions-file on the command line, or add --trust-config/
          .test(e.hint ?? ""),
      value,
    );
  }
  const read = (value: string) => (p: string) =>
    p === "/home/u/repo/ratchet.jsonc"
      ? Promise.resolve(withFile(value))
      : readable(p);
  const inside = await loadConfig({ ...base, readTextFile: read("rules.md") });
  assert.equal(inside.config.instructions, "Rule from the repo.");
  // The user's own choices: --trust-config, or the flag.
  const trusted = await loadConfig({
    ...base,
    trustConfig: true,
    readTextFile: read("../../.ssh/id_rsa"),
  });
  assert.equal(trusted.config.instructions, "SECRET");
  const flag = await loadConfig({
    ...base,
    flags: { instructionsFile: "../../.ssh/id_rsa" },
    readTextFile: read("../../.aws/credentials"),
  });
  assert.equal(flag.config.instructionsFile, "/home/u/.ssh/id_rsa");
});
