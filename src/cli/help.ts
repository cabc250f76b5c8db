/**
 * Help text for ratchet and each command (pure; snapshot-tested). Flag lines
 * come from the option table so they cannot drift from the parser.
 */
import { type CommandName, RESUME_OPTIONS } from "./args.ts";
import { type OptionDef, OPTIONS } from "../config/options.ts";
import { DEFAULTS } from "../config/defaults.ts";
import { formatSize } from "../config/value_text.ts";
import { NEGATABLE, negationFlag } from "../config/negations.ts";
import type { Config } from "../config/config.ts";

interface CommandHelp {
  usage: string;
  /** One line for the command list. */
  short: string;
  summary: string;
  /** Extra flag lines: [flag, description]. */
  flags: [string, string][];
  /** Which configuration options it takes. */
  config: "all" | "measure" | "resume" | "none";
  examples: string[];
}

const COMMON_CONFIG_FLAGS: [string, string][] = [
  [
    "--config FILE",
    "config file (default: ./ratchet.jsonc at the repo root); one outside the repository is yours and trusted, one inside it is the repository's and untrusted",
  ],
  [
    "--trust-config",
    "let a config file inside the repository set network, image, dockerfile, prepare-command, mount, pass-env, gpus, cache, prices, and an instructions-file outside it",
  ],
  ["--json", "machine-readable output, one JSON object a line"],
  ["-v, --verbose", "show stack traces and causes of errors"],
];

const HELP: Record<CommandName, CommandHelp> = {
  run: {
    short: "start a run (archives the previous one) and loop",
    usage: "ratchet run [flags]",
    summary:
      "Start a run (archiving the previous one) and loop: propose a change, measure it, keep or revert.",
    flags: COMMON_CONFIG_FLAGS,
    config: "all",
    examples: [
      'ratchet run --run-command "pytest -q tests/" --direction min \\\n    --metric-name wall --report-source wall --harness "tests/**"',
      'ratchet run --run-command "python bench.py" --direction max \\\n    --metric-name accuracy --report-source stdout --iterations 30 --patience 5',
      'ratchet run --run-command "python train.py" --direction min \\\n    --metric-name train_seconds --report-source stdout \\\n    --guard val_loss:min:0.01 --guard peak_mem_mb:min:0.05',
    ],
  },
  resume: {
    short: "continue after Ctrl-C, a crash or a reboot; extend a finished run",
    usage:
      "ratchet resume [--iterations N] [--max-cost-usd X] [--patience K] [--threshold X] [--model NAME]",
    summary: [
      "Continue the run after Ctrl-C, a crash, a reboot or an outage, with new values for",
      "these settings if given. A finished run goes on from its last record whatever",
      "stopped it: raise --iterations past the last iteration, or --max-cost-usd past",
      "what it spent; --patience and crash counts start again; a threshold it reached",
      "is dropped (pass a new --threshold). Other settings are fixed for the run.",
    ].join("\n"),
    flags: [
      ["--json", "machine-readable events, one JSON object a line"],
      ["-v, --verbose", "show stack traces and causes of errors"],
    ],
    config: "resume",
    examples: [
      "ratchet resume",
      "ratchet resume --iterations 40",
      "ratchet resume --max-cost-usd 25 --patience 8",
    ],
  },
  status: {
    short: "where the current run stands",
    usage: "ratchet status [--json]",
    summary: "Where the current run stands.",
    flags: [["--json", "print one JSON object"]],
    config: "none",
    examples: ["ratchet status", "ratchet status --json | jq .best"],
  },
  log: {
    short: "one row per iteration, with a chart of the trajectory",
    usage: "ratchet log [--json]",
    summary: "One row per iteration, with a terminal chart of the trajectory.",
    flags: [["--json", "print the records, one JSON object a line"]],
    config: "none",
    examples: ["ratchet log", "ratchet log --json | jq -c 'select(.kept)'"],
  },
  report: {
    short: "self-contained HTML report (default .ratchet/report.html)",
    usage: "ratchet report [--out FILE]",
    summary:
      "Write a self-contained HTML report of the run (default .ratchet/report.html).",
    flags: [[
      "--out FILE",
      "where to write it (relative to the repo root, or absolute)",
    ]],
    config: "none",
    examples: ["ratchet report", "ratchet report --out /tmp/run.html"],
  },
  apply: {
    short: "squash the run's kept changes onto your current branch",
    usage: "ratchet apply",
    summary:
      "Squash the run's kept changes onto your current branch as one commit (clean tree required).",
    flags: [],
    config: "none",
    examples: ["ratchet apply"],
  },
  measure: {
    short: "trials of the checkout as it is; no model, no git needed",
    usage: "ratchet measure [flags]",
    summary:
      "Run trials of the checkout as it is and print the scores; no model and no git needed.",
    flags: [
      ["--trials N", "how many trials (default 5)"],
      ...COMMON_CONFIG_FLAGS,
    ],
    config: "measure",
    examples: [
      'ratchet measure --run-command "python bench.py" --metric-name score --report-source stdout',
      'ratchet measure --run-command "make test" --metric-name wall --report-source wall --trials 10 --json',
    ],
  },
  calibrate: {
    short: "noise report and recommended settings (K runs, default 10)",
    usage: "ratchet calibrate [flags]",
    summary:
      "Run the unchanged checkout K times (default 10): noise report and recommended --trials, --max-trials and --min-effect.",
    flags: [
      ["--trials K", "how many runs (default 10)"],
      ["--write", "write the recommendations into ratchet.jsonc"],
      ...COMMON_CONFIG_FLAGS,
    ],
    config: "measure",
    examples: [
      'ratchet calibrate --run-command "python bench.py" --metric-name score --report-source stdout',
      "ratchet calibrate --trials 20 --write",
    ],
  },
  init: {
    short: "write a commented ratchet.jsonc guessed from the repo",
    usage: "ratchet init [--force]",
    summary:
      "Write a commented ratchet.jsonc guessed from the repository (never overwrites without --force).",
    flags: [["--force", "overwrite an existing ratchet.jsonc"]],
    config: "none",
    examples: ["ratchet init"],
  },
  instruct: {
    short: "a note the running run's next proposal reads",
    usage: 'ratchet instruct "TEXT"',
    summary:
      "Leave a note that the running run's next proposal reads once (exit 3 when no run is going).",
    flags: [],
    config: "none",
    examples: [
      'ratchet instruct "The parser is the bottleneck; leave the I/O alone."',
    ],
  },
};

function defaultText(def: OptionDef, forRun: boolean): string {
  if (def.required === "all" || (def.required === "run" && forRun)) {
    return "required";
  }
  if (def.required === "run") return "";
  const value = (DEFAULTS as Record<string, unknown>)[def.key as keyof Config];
  if (value === null || value === undefined) return "";
  if (def.kind === "size" || def.kind === "nullable-size") {
    return `default ${formatSize(value as number)}`;
  }
  if (Array.isArray(value) || value === false || value === "") return "";
  if (def.name === "model") return "default $RATCHET_MODEL or " + value;
  return `default ${value}`;
}

function table(rows: [string, string][]): string {
  const width = Math.min(
    34,
    Math.max(...rows.map(([flag]) => flag.length)) + 2,
  );
  return rows.map(([flag, text]) =>
    flag.length + 2 > width
      ? `  ${flag}\n  ${" ".repeat(width)}${text}`
      : `  ${flag.padEnd(width)}${text}`
  ).join("\n");
}

function optionRows(
  filter: (d: OptionDef) => boolean,
  forRun: boolean,
  withDefaults = true,
): [string, string][] {
  return OPTIONS.filter(filter).map((def) => {
    const flag = `--${def.name}${def.arg ? ` ${def.arg}` : ""}`;
    const dflt = withDefaults ? defaultText(def, forRun) : "";
    return [flag, dflt ? `${def.help} (${dflt})` : def.help];
  });
}

/** Top-level help. */
export function mainHelp(): string {
  const rows: [string, string][] = (Object.keys(HELP) as CommandName[]).map((
    name,
  ) => [name, HELP[name].short]);
  return [
    "ratchet: turn any command that prints a number into an autonomous optimization loop.",
    "",
    "Usage: ratchet <command> [flags]",
    "",
    "Commands:",
    table(rows),
    "",
    "Global:",
    table([
      ["-h, --help", "show help (also: ratchet <command> --help)"],
      ["-V, --version", "print the version"],
    ]),
    "",
    "Environment: ANTHROPIC_API_KEY (run, resume), ANTHROPIC_BASE_URL, DOCKER_HOST,",
    "RATCHET_MODEL, NO_COLOR.",
    "",
    "Examples:",
    '  ratchet measure --run-command "python bench.py" --metric-name score --report-source stdout',
    "  ratchet run      # with ratchet.jsonc at the repo root",
    "  ratchet status",
    "",
  ].join("\n");
}

/** Wrap `words` into lines of at most `width` characters, indented. */
function wrap(words: string[], width: number, indent: string): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.trim() !== "" && line.length + word.length + 1 > width) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  if (line.trim() !== "") lines.push(line.trimEnd());
  return lines.join("\n");
}

/** The `--no-NAME` flags among the options `filter` keeps. */
function negationText(
  filter: (d: OptionDef) => boolean,
  header: string,
): string[] {
  const flags = NEGATABLE.filter(filter).map((d) => `--${negationFlag(d)}`);
  if (flags.length === 0) return [];
  return [
    header,
    wrap(flags.map((f, i) => i < flags.length - 1 ? `${f},` : f), 80, "  "),
    "",
  ];
}

/** Help of one command. */
export function commandHelp(name: CommandName): string {
  const h = HELP[name];
  const parts = [`Usage: ${h.usage}`, "", h.summary, ""];
  if (h.config === "resume") {
    const resumable = (d: OptionDef) =>
      (RESUME_OPTIONS as readonly string[]).includes(d.name);
    parts.push(
      "Settings it may change (unchanged when not given):",
      table(optionRows(resumable, false, false)),
      "",
      ...negationText(resumable, "Unset the run's threshold:"),
    );
  } else if (h.config !== "none") {
    const filter = (d: OptionDef) => h.config === "all" || d.measure === true;
    parts.push(
      "Options (flags, or keys of ratchet.jsonc without the dashes):",
      table(
        optionRows(filter, h.config === "all").filter((
          [flag],
        ) => !(h.config === "measure" && flag.startsWith("--trials"))),
      ),
      "",
      ...negationText(
        filter,
        "Reset to its default what ratchet.jsonc set (--no-NAME):",
      ),
    );
  }
  if (h.flags.length > 0) {
    parts.push(
      h.config === "none" ? "Flags:" : "Other flags:",
      table(h.flags),
      "",
    );
  }
  parts.push("Examples:", ...h.examples.map((e) => `  ${e}`), "");
  return parts.join("\n");
}
