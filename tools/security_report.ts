/**
 * Render docs/security.md from what the security tests actually did:
 * tests/artifacts/security.json, written by tests/security_bad_input_test.ts
 * and tests/e2e/security_*_test.ts. Every row of the page comes from a test
 * result; only the fixed explanations in this template are typed by hand.
 *
 * Usage: deno run -A tools/security_report.ts [--check]
 *   --check  exit 1 when docs/security.md differs from what would be rendered
 */
import { fileURLToPath } from "node:url";
import { DEFAULTS } from "../src/config/defaults.ts";
import { formatSize } from "../src/config/value_text.ts";
import { UNTRUSTED_LIMITS } from "../src/config/trust.ts";
import {
  DEFAULT_GIT_TIMEOUT_MS,
  GIT_TIMEOUT_ENV,
} from "../src/infra/git/context.ts";
import {
  type Group,
  type Kind,
  KINDS,
  readResults,
  type Scenario,
  SECURITY_PATH,
  type SecurityResults,
} from "../tests/e2e/security_support.ts";
import { comparePages, formatDifferences } from "./_page_check.ts";
import { formatMarkdown, stableText, tableCell } from "./_markdown.ts";

const ROOT = new URL("../", import.meta.url);
const DOC = fileURLToPath(new URL("docs/security.md", ROOT));

/** Order of the groups on the page. */
const ORDER = [
  "tamper",
  "report",
  "resources",
  "host",
  "config",
  "input",
  "environment",
];

const VECTORS: Record<string, string> = {
  trial: "code in a trial",
  bash: "bash (sandbox)",
  editor: "editor tool",
  config: "ratchet.jsonc",
  cli: "invocation",
};

/** A cell of free text from a test: volatile ids masked, table-safe. */
function cell(text: string): string {
  return tableCell(stableText(text));
}

/** How many cases of each kind, and how many held. */
export function tally(
  cases: readonly Scenario[],
): Record<Kind, { n: number; held: number }> {
  const out = Object.fromEntries(
    KINDS.map((k) => [k, { n: 0, held: 0 }]),
  ) as Record<Kind, { n: number; held: number }>;
  for (const c of cases) {
    const t = out[c.kind ?? "attack"];
    t.n++;
    if (c.held) t.held++;
  }
  return out;
}

const PHRASES: Record<Kind, (n: number, held: number) => string> = {
  attack: (n, held) => `${n} attack${n === 1 ? "" : "s"}, ${held} stopped`,
  control: (n, held) =>
    `${n} positive control${n === 1 ? "" : "s"}, ${held} as expected`,
  limit: (n, held) =>
    `${n} known limit${n === 1 ? "" : "s"}, ${held} shown as documented`,
};

/** "18 attacks, 18 stopped; 1 positive control, 1 as expected", kinds with no case left out. */
export function tallyText(cases: readonly Scenario[]): string {
  const t = tally(cases);
  const parts = KINDS.filter((k) => t[k].n > 0).map((k) =>
    PHRASES[k](t[k].n, t[k].held)
  );
  return parts.length === 0 ? "no cases" : parts.join("; ");
}

function mark(s: Scenario): string {
  const ok = s.held ? "✅" : "❌";
  switch (s.kind ?? "attack") {
    case "attack":
      return ok;
    case "control":
      return `${ok} control`;
    case "limit":
      return `${ok} ⚠️ limit`;
  }
}

function groupSection(g: Group): string {
  const lines = [
    `## ${g.title}`,
    "",
    g.about,
    "",
    `${tallyText(g.scenarios)}, in ${g.seconds} s (\`${g.test}\`, ${
      g.finished_at.slice(0, 16).replace("T", " ")
    } UTC).`,
    "",
    "| | case | via | stopped by | what ratchet recorded | evidence |",
    "|---|---|---|---|---|---|",
  ];
  for (const s of g.scenarios) {
    lines.push(
      `| ${mark(s)} | ${cell(s.attack)} | ${VECTORS[s.vector] ?? s.vector} | ${
        cell(s.layer)
      } | ${cell(s.recorded)} | ${cell(s.evidence ?? "")} |`,
    );
  }
  const failed = g.scenarios.filter((s) => !s.held);
  if (failed.length > 0) {
    lines.push("", "What did not hold:", "");
    for (const s of failed) {
      lines.push(
        `- **${cell(s.id)}** (${s.kind ?? "attack"}): ${
          cell(s.evidence ?? s.recorded)
        }`,
      );
    }
  }
  return lines.join("\n");
}

const LAYERS = `## The layers

The model's code and the repository are both untrusted. What stands between
them and the score, the repository and the host:

1. **Configuration trust gate.** A repository's \`ratchet.jsonc\` (or any
   \`--config\` file inside the repository) may not set \`network\`, \`image\`,
   \`dockerfile\`, \`prepare-command\`, \`mount\`, \`pass-env\`, \`gpus\`,
   \`cache\` or \`prices\`, nor raise \`cpus\`, \`memory\`, \`pids-limit\`,
   \`shm-size\`, \`max-file-size\` above fixed ceilings, nor name an
   \`instructions-file\` outside the repository, unless the user passes
   \`--trust-config\`. A \`--config\` file outside the repository is the
   user's own and trusted. An API key is never configuration;
   \`--pass-env ANTHROPIC_*\` is refused.
2. **The tools** (host side). The editor resolves every path component by
   component, following symlinks by hand, and refuses \`.git\`, \`.ratchet\`,
   the report file, ratchet's config file, harness paths and anything that
   leaves the tree.
   \`bash\` runs only inside the sandbox container.
3. **The containers.** Trials and the sandbox run with every capability
   dropped, \`no-new-privileges\`, CPU, memory (no swap), process and
   \`/dev/shm\` limits, no network, no host environment, the \`none\` log
   driver, and the harness bound read-only from a snapshot pinned at run
   start (ancestors of harness paths are pinned too, so they cannot be
   renamed away). The sandbox is frozen (\`docker pause\`) whenever no
   command runs, so nothing in it can change the tree while the host-side
   editor works on it.
4. **The trial runner.** Each trial gets a fresh copy of the candidate's git
   tree; the report file is deleted before and read after the container has
   stopped (every process gone), never through a symlink; output is capped
   at 10 MiB per stream and a cut-off report yields no metric; the metric is
   the last match; a trial that drives free space on the disk holding
   \`.ratchet/\` under 512 MiB is killed.
5. **The diff check.** After each proposal ratchet reads the candidate's
   changes from git and rejects (\`rejected\`, never measured) a change to a
   protected path, a new file matching a harness glob, a symlink that
   resolves outside the tree (every link of the candidate's tree is followed
   component by component inside it, so a link through another link counts),
   or a new or changed file above \`--max-file-size\` (found by lstat before
   git reads it). Every git call has a time limit.`;

const CANNOT_STOP = `## What the filesystem cannot stop

The candidate's code runs with the same privileges as the harness, in the
same container, often in the same process. No mount, diff check or tool
refusal can tell a legitimate speed-up from these:

- **Patching the harness in memory.** Code the harness imports or sources
  (a Python module, a \`conftest.py\` that already exists and imports it, a
  sourced shell file, \`LD_PRELOAD\` set by a build script) can redefine the
  functions the harness uses to score. The test below makes prog.sh redefine
  \`cat\` inside the harness's shell: ratchet records \`improved\` and keeps it.
- **Printing or writing the metric itself.** The last matching line wins, so
  a forged line printed *before* the harness's real one does not count, and
  a flood that pushes the real line past the 10 MiB cap yields no metric. But
  code that controls what is printed last (or writes the report file while
  the command runs) decides the number.
- **Telling the check from a trial.** \`--check-command\` runs the candidate
  once, in its own container, and its command line is visible there
  (\`/proc/*/cmdline\`): a candidate can behave while checked and forge its
  score in the trials. The test below does exactly that and is kept.
- **Files created during a trial.** Without \`--editable\`, the tree copy is
  writable while the command runs, so a candidate can create a new file that
  matches a harness glob (say a \`conftest.py\`) at run time. It never reaches
  git, so the diff check does not see it. With \`--editable\`, everything but
  the editable paths, the report's directory and \`--scratch\` is read-only.
- **Disk outside the tree copy.** Writes outside \`/work\` (\`/tmp\`, \`/var\`)
  go to the container's writable layer on the engine's disk, and the sandbox
  writes into the run's worktree on the host. Neither is bounded by anything
  but the disk itself and the time limits (\`--trial-timeout-seconds\`,
  which is off by default, and \`--bash-timeout-seconds\`). Proposed: a
  read-only root filesystem with a size-limited tmpfs \`/tmp\` for trials,
  and the same free-space watch after each \`bash\` call.

What catches these is a human and the instructions:
\`instructions/integrity.md\` (plus \`--instructions\`) tells the model what
counts as cheating; every candidate's diff is kept in
\`.ratchet/diffs/iter-NNNN.patch\` and every kept change is a commit whose
message carries the hypothesis and the statistics, so
\`git log -p ratchet/<run_id>\` shows exactly what was kept; \`--check-command\` runs an
independent correctness check on each candidate in its own container; and
\`ratchet apply\` only ever squashes onto a branch the user chose, after
review.`;

const BOUNDS = `## What bounds each resource

| resource | bound | default |
|---|---|---|
| CPU | \`--cpus\` per container | ${DEFAULTS.cpus} (a repo's file may not exceed ${UNTRUSTED_LIMITS.cpus}) |
| memory | \`--memory\`, swap equal to it (OOM-kill, recorded \`oom\`); tmpfs \`HOME\` and \`/dev/shm\` count against it | ${
  DEFAULTS.memory === null ? "none" : formatSize(DEFAULTS.memory)
} (a repo's file may not exceed ${formatSize(UNTRUSTED_LIMITS.memory)}) |
| processes | \`--pids-limit\` | ${DEFAULTS.pidsLimit} (a repo's file may not exceed ${
  UNTRUSTED_LIMITS["pids-limit"]
}) |
| time | \`--trial-timeout-seconds\` (watchdog in the container, backstop on the host), \`--bash-timeout-seconds\` | ${
  DEFAULTS.trialTimeoutSeconds === null
    ? "none"
    : `${DEFAULTS.trialTimeoutSeconds} s`
}, ${DEFAULTS.bashTimeoutSeconds} s |
| a candidate's files | \`--max-file-size\` per new or changed file (\`file_too_large\`), found by lstat before git reads a byte | ${
  DEFAULTS.maxFileSize === null ? "none" : formatSize(DEFAULTS.maxFileSize)
} (a repo's file may not exceed ${
  formatSize(UNTRUSTED_LIMITS["max-file-size"])
}) |
| git | every call killed after \`${GIT_TIMEOUT_ENV}\` seconds and named in the error | ${
  DEFAULT_GIT_TIMEOUT_MS / 1000
} s |
| output | 10 MiB per stream kept; the engine keeps no log (\`none\` driver); a cut-off report yields no metric | — |
| report file | 10 MiB read; symlinks never followed; a cut-off report yields no metric | — |
| tree copy (disk holding \`.ratchet/\`) | 1 GiB free required before each trial; a trial leaving less than 512 MiB free is killed (polled every 250 ms) and its copy removed | — |
| container writable layer (engine's disk) | **nothing** (see above) | — |
| sandbox writes to the worktree (host disk) | **nothing** but \`--bash-timeout-seconds\` and \`--max-tool-calls\` (see above) | — |
| network | \`--network none\` (loopback only; the containers of one iteration share one such namespace, held by a sleeping container, and the next iteration gets a new one: processes never outlive their container, so only the kernel's TIME_WAIT entries on loopback carry over); \`bridge\` only from a flag or a trusted config | none |
| API key | lives only in ratchet's process; containers get HOME and \`--pass-env\` names only | — |`;

/** The page for `results`. */
export function render(results: SecurityResults): string {
  const keys = [
    ...ORDER.filter((k) => k in results.groups),
    ...Object.keys(results.groups).filter((k) => !ORDER.includes(k)).sort(),
  ];
  const groups = keys.map((k) => results.groups[k]!);
  const all = groups.flatMap((g) => g.scenarios);
  const limits = all.filter((s) => s.kind === "limit");
  const env = Object.entries(results.environment).map(([k, v]) => `${k} ${v}`)
    .join(", ");
  const ratio = (t: { n: number; held: number }) =>
    t.n === 0 ? "—" : `${t.held} / ${t.n}`;
  const summary = [
    "| group | attacks stopped | controls as expected | known limits shown as documented | test |",
    "|---|---|---|---|---|",
    ...groups.map((g) => {
      const t = tally(g.scenarios);
      return `| [${tableCell(g.title)}](#${
        g.title.toLowerCase().replace(/[^a-z0-9 -]/g, "").replaceAll(" ", "-")
      }) | ${ratio(t.attack)} | ${ratio(t.control)} | ${
        ratio(t.limit)
      } | \`${g.test}\` |`;
    }),
  ].join("\n");
  return [
    "# Security",
    "",
    "<!-- Generated by tools/security_report.ts from tests/artifacts/security.json. Do not edit by hand: run the security tests, then `deno run -A tools/security_report.ts`. CI checks that this page is what its own run renders. -->",
    "",
    "ratchet runs code written by a language model on repositories people point it at; both are untrusted. This page lists every attack and bad input the security tests throw at the real CLI and the real trial runner, the layer that stopped it, and what ratchet recorded. Three kinds of case are counted apart: **attacks**, which ratchet must stop; **positive controls** (marked control), which show that the test would have seen the attack succeed; and **known limits** (marked ⚠️), attacks that succeed and that only instructions and a human can catch (see [What the filesystem cannot stop](#what-the-filesystem-cannot-stop)). A value marked † depends on timing (how a race or a poll fell) and varies from run to run.",
    "",
    `**${tallyText(all)}.** Environment: ${env || "unknown"}.`,
    "",
    summary,
    "",
    "Run them with `deno test -A tests/security_bad_input_test.ts` and, one file at a time, `deno test -A tests/e2e/security_<name>_test.ts`. The runner-level variants of writing to a read-only path are in `tests/integration/trial_test.ts`; the tool-level refusals in `tests/integration/agent_test.ts`.",
    "",
    LAYERS,
    "",
    ...groups.flatMap((g) => [groupSection(g), ""]),
    CANNOT_STOP,
    "",
    ...(limits.length === 0 ? [] : [
      "Shown by the tests (what ratchet recorded, for a human to see):",
      "",
      ...limits.map((s) =>
        `- ${s.held ? "✅" : "❌"} **${cell(s.attack)}** → ${
          cell(s.recorded)
        }. ${cell(s.evidence ?? "")}`
      ),
      "",
    ]),
    BOUNDS,
    "",
  ].join("\n");
}

async function main(argv: string[]): Promise<number> {
  const results = await readResults();
  if (Object.keys(results.groups).length === 0) {
    // deno-lint-ignore no-console
    console.error(
      `No results in ${SECURITY_PATH}: run the security tests first.`,
    );
    return 1;
  }
  const page = await formatMarkdown(render(results));
  if (argv.includes("--check")) {
    const current = await Deno.readTextFile(DOC).catch(() => "");
    const differences = comparePages(current, page);
    if (differences.length > 0) {
      // deno-lint-ignore no-console
      console.error(
        `docs/security.md differs from what this run renders (timings and versions aside); ` +
          `run the security tests, then tools/security_report.ts:\n${
            formatDifferences("docs/security.md", differences)
          }`,
      );
      return 1;
    }
    // deno-lint-ignore no-console
    console.log("docs/security.md matches this run");
    return 0;
  }
  await Deno.writeTextFile(DOC, page);
  // deno-lint-ignore no-console
  console.log(`Wrote ${DOC}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
