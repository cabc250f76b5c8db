import assert from "node:assert/strict";
import { COMMANDS, parseCommand } from "./args.ts";
import { UsageError } from "../errors.ts";
import { OPTIONS } from "../config/options.ts";

Deno.test("parseCommand() shows help without a command and for --help", () => {
  assert.deepEqual(parseCommand([]), { name: "help", topic: null });
  assert.deepEqual(parseCommand(["--help"]), { name: "help", topic: null });
  assert.deepEqual(parseCommand(["run", "--help"]), {
    name: "help",
    topic: "run",
  });
  assert.deepEqual(parseCommand(["help", "log"]), {
    name: "help",
    topic: "log",
  });
  assert.deepEqual(parseCommand(["--version"]), { name: "version" });
});

Deno.test("parseCommand() accepts --help on every command", () => {
  for (const name of COMMANDS) {
    assert.deepEqual(parseCommand([name, "--help"]), {
      name: "help",
      topic: name,
    });
  }
});

Deno.test("parseCommand() parses every config flag of run", () => {
  const argv: string[] = ["run"];
  for (const def of OPTIONS) {
    const value = def.kind === "boolean"
      ? null
      : def.choices
      ? def.choices[def.choices.length - 1]!
      : def.kind === "int"
      ? String(Math.max(def.min ?? 1, 16))
      : def.kind === "number"
      ? def.exclusive ? "0.5" : String(Math.max(def.min ?? 1, 1))
      : def.kind === "size" || def.kind === "nullable-size"
      ? "512m"
      : def.name === "mount"
      ? "/data:/data:ro"
      : def.name === "pass-env"
      ? "DATA_DIR"
      : def.name === "metric-pattern"
      ? "s=(\\d+)"
      : def.name === "guard"
      ? "accuracy:max:0.01"
      : `value-${def.name}`;
    argv.push(`--${def.name}`);
    if (value !== null) argv.push(value);
  }
  const command = parseCommand(argv);
  assert.equal(command.name, "run");
  if (command.name !== "run") return;
  assert.equal(Object.keys(command.flags).length, OPTIONS.length);
  assert.equal(command.flags.critic, true);
  assert.equal(command.flags.memory, 512 * 1024 ** 2);
  assert.deepEqual(command.flags.passEnv, ["DATA_DIR"]);
});

Deno.test("parseCommand() collects repeatable flags", () => {
  const c = parseCommand([
    "run",
    "--harness",
    "tests/**",
    "--harness",
    "conftest.py",
    "--trust-config",
    "--config",
    "x.jsonc",
  ]);
  assert.equal(c.name, "run");
  if (c.name !== "run") return;
  assert.deepEqual(c.flags.harness, ["tests/**", "conftest.py"]);
  assert.equal(c.trustConfig, true);
  assert.equal(c.configPath, "x.jsonc");
});

Deno.test("parseCommand() gives measure 5 trials and calibrate 10 by default", () => {
  const m = parseCommand(["measure"]);
  assert.equal(m.name === "measure" && m.trials, 5);
  const c = parseCommand(["calibrate", "--write"]);
  assert.equal(c.name === "calibrate" && c.trials, 10);
  assert.equal(c.name === "calibrate" && c.write, true);
});

const bad: [string[], RegExp][] = [
  [["frobnicate"], /Unknown command "frobnicate"/],
  [["run", "--bogus"], /Unknown flag --bogus for "ratchet run"/],
  [["run", "--trials"], /--trials needs a value/],
  [["run", "--trials", "many"], /Invalid value for --trials: "many"/],
  [["run", "--trials", "0"], /Invalid value for --trials: 0/],
  [["run", "--confidence", "1.5"], /--confidence: 1\.5/],
  [["run", "--direction", "sideways"], /--direction: "sideways"/],
  [["run", "--memory", "lots"], /--memory: "lots"/],
  [["status", "extra"], /Unexpected argument "extra"/],
  [["measure", "--critic"], /Unknown flag --critic for "ratchet measure"/],
  [["resume", "--iterations=-2"], /Invalid value for --iterations/],
  [["instruct"], /instruct needs the note's text/],
  [["calibrate", "--trials", "2"], /at least 3 trials/],
  [["run", "--trials", "-1"], /Invalid value for --trials: -1/],
  [["run", "--threshold", "-5"], /--threshold got "-5"/],
];

for (const [argv, message] of bad) {
  Deno.test(`parseCommand() refuses ${JSON.stringify(argv)} with exit 2`, () => {
    assert.throws(
      () => parseCommand(argv),
      (e: unknown) =>
        (e as UsageError).exitCode === 2 && message.test((e as Error).message),
    );
  });
}

Deno.test("parseCommand() joins the words of an instruct note", () => {
  assert.deepEqual(parseCommand(["instruct", "try", "caching"]), {
    name: "instruct",
    text: "try caching",
  });
});

Deno.test("parseCommand() reads --no-NAME as the option's default, and refuses it beside the option", () => {
  const cmd = parseCommand([
    "run",
    "--no-critic",
    "--no-threshold",
    "--no-trial-timeout-seconds",
    "--no-image",
    "--no-gpus",
    "--no-harness",
  ]);
  assert.equal(cmd.name, "run");
  if (cmd.name !== "run") return;
  assert.deepEqual(cmd.flags, {
    critic: false,
    threshold: null,
    trialTimeoutSeconds: null,
    image: null,
    gpus: null,
    harness: [],
  });
  assert.throws(
    () => parseCommand(["run", "--gpus", "all", "--no-gpus"]),
    /--gpus and --no-gpus are both given/,
  );
  // measure takes the negations of the options it uses, and no others.
  assert.throws(() => parseCommand(["measure", "--no-critic"]), UsageError);
  const m = parseCommand(["measure", "--no-image"]);
  assert.equal(m.name === "measure" && m.flags.image, null);
});

Deno.test("parseCommand() gives resume the settings it may change, validated", () => {
  const cmd = parseCommand([
    "resume",
    "--iterations",
    "30",
    "--max-cost-usd",
    "25",
    "--patience",
    "4",
    "--no-threshold",
    "--model",
    "claude-sonnet-4-5",
  ]);
  assert.deepEqual(cmd, {
    name: "resume",
    flags: {
      iterations: 30,
      maxCostUsd: 25,
      patience: 4,
      threshold: null,
      model: "claude-sonnet-4-5",
    },
    json: false,
    verbose: false,
  });
  for (const flag of ["--trials", "--harness", "--no-critic", "--config"]) {
    assert.throws(() => parseCommand(["resume", flag, "x"]), (e: unknown) => {
      assert.ok(e instanceof UsageError);
      assert.match(e.message, new RegExp(`cannot change ${flag}`));
      return true;
    });
  }
});
