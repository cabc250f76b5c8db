/**
 * Red-team holes of issue 13, through the real CLI (scripted fake model,
 * real Docker, busybox):
 *
 * - links that climb through links (13.1): the 12-deep chain built in the
 *   model's sandbox must be `rejected` (symlink_outside) and never land in
 *   the user's checkout through `ratchet apply`; a report directory made such
 *   a link must not get a host directory's file deleted, whether a candidate
 *   makes it or the repository commits it;
 * - the files ratchet reads back from a trial (13.2, 13.3): a trial that
 *   swaps its setup output for a link to a host file must not get the file's
 *   bytes into `.ratchet/`, and one that swaps its control log for a FIFO
 *   must not hang the run.
 *
 * Results go to tests/artifacts/security.json (groups "links" and
 * "control-files").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { runCli } from "../_helpers/cli.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import {
  bash,
  create,
  exists,
  removeRunContainers,
  replace,
  spawnRatchet,
  submit,
  turn,
} from "./_support.ts";
import { GroupRecorder } from "./security_support.ts";
import {
  type Case,
  chainLink,
  leftovers,
  outcomeOf,
  recorded,
  runFlags,
  runScenario,
  scenarioRepo,
  sentinel,
} from "./security_redteam.ts";

const links = new GroupRecorder("links", {
  title: "Symlinks that climb through symlinks",
  about:
    "Issue 13's chain: in the model's sandbox `D=d1/…/d12; mkdir -p $D; ln -s ../…(12×) $D/up` (back at the tree's root), then a link through `$D/up/../…(12×)/<host path>`, which textually stays inside (`d1/<host path>`) but really leaves the tree. Each case is one `ratchet run` (busybox, `--decision mean --trials 1`) on a repository whose harness score.sh sources prog.sh; a sentinel file outside the repository stands for the host's secrets.",
  test: "tests/e2e/security_escape_test.ts",
});

const control = new GroupRecorder("control-files", {
  title: "Files ratchet reads back from a trial",
  about:
    "A trial writes its setup output and ratchet's control log in a directory the run command can reach (`/.ratchet-trial`). The candidate's code (prog.sh, sourced by the harness) replaces them with what the host would trip over (a symlink to a host file, a FIFO), or reads the log for the nonce that signs the wall time. Each case is one `ratchet run` (busybox, `--decision mean --trials 1`).",
  test: "tests/e2e/security_escape_test.ts",
});

function recordTo(
  recorder: GroupRecorder,
  name: string,
  fn: () => Promise<void>,
): void {
  dockerTest(name, async () => {
    try {
      await fn();
    } finally {
      await recorder.write();
    }
  });
}

recordTo(
  links,
  "a link through a link to a host secret is rejected, and ratchet apply never lands it",
  async () => {
    await using secret = await sentinel("id_rsa");
    const steps = [turn(
      bash(chainLink("leak", secret.path)),
      replace("/work/value.txt", "10", "20"),
      submit("A bigger value raises the score.", "value 20 (and a link)"),
    )];
    await runScenario(
      { args: runFlags(1), steps },
      async (o) => {
        const r = o.records[1];
        const apply = await runCli(["apply"], {
          cwd: o.repo.dir,
          env: { ANTHROPIC_API_KEY: "test" },
        });
        const landed = await exists(join(o.repo.dir, "leak"));
        const readable = landed &&
          await Deno.readTextFile(join(o.repo.dir, "leak")).then(
            (t) => t === secret.text,
            () => false,
          );
        const inState = await o.filesHolding(secret.text.trim());
        const sent =
          o.server.requests.filter((q) => q.raw.includes(secret.text.trim()))
            .length;
        const c: Case = {
          id: "link-chain-secret",
          kind: "attack",
          attack:
            "bash in the sandbox builds the 12-deep chain and links `leak` through it to a host file (with an honest score gain beside it)",
          vector: "bash",
          layer:
            "diff check: every link of the candidate's tree resolved component by component inside it (symlink_outside)",
          recorded: `${recorded(r)}; ratchet apply: exit ${apply.code}`,
          held: r?.decision === "rejected" && r.reason === "symlink_outside" &&
            /leak/.test(r.detail) && !landed && inState.length === 0 &&
            sent === 0,
          evidence: `after ratchet apply the checkout ${
            landed
              ? `has leak${readable ? ", which prints the host file" : ""}`
              : "has no leak"
          }; ${inState.length} file(s) under .ratchet/ and ${sent} API request(s) hold the host file's text; apply said: ${
            apply.stderr.trim().split("\n").at(-1)
          }`,
        };
        links.add(c);
        assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
      },
    );
  },
);

recordTo(
  links,
  "a candidate that makes the report directory a link through a link gets no host file deleted",
  async () => {
    await using host = await sentinel("report.txt");
    const steps = [turn(
      bash(chainLink("out", host.dir)),
      submit("Keep the report elsewhere.", "out is a link"),
    )];
    await runScenario(
      {
        files: {
          "score.sh":
            '. ./prog.sh\nmkdir -p out\necho "score: $(cat value.txt)" > out/report.txt\n',
        },
        args: runFlags(1, "--report-source", "out/report.txt"),
        steps,
      },
      async (o) => {
        const r = o.records[1];
        const intact = await host.intact();
        const c: Case = {
          id: "link-chain-report-dir",
          kind: "attack",
          attack:
            "with --report-source out/report.txt, bash in the sandbox makes `out` a link through the chain to a host directory holding report.txt (ratchet deletes the report file before each trial)",
          vector: "bash",
          layer:
            "diff check (symlink_outside: never measured); the engine-side trees of the runtime rewrite leave no host copy to delete through",
          recorded: recorded(r),
          held: intact && r?.decision === "rejected" &&
            r.reason === "symlink_outside",
          evidence: `the host directory's report.txt ${
            intact ? "is intact" : "was DELETED"
          }`,
        };
        links.add(c);
        assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
      },
    );
  },
);

recordTo(
  links,
  "a repository whose report directory is a link to a host directory gets no host file deleted",
  async () => {
    await using host = await sentinel("report.txt");
    // The hostile repository commits the link itself: no diff check sees
    // the baseline, so only the trial runner stands between it and the host.
    await runScenario(
      {
        files: {
          "score.sh":
            '. ./prog.sh\nmkdir -p out\necho "score: $(cat value.txt)" > out/report.txt\n',
        },
        links: { out: host.dir },
        args: runFlags(0, "--report-source", "out/report.txt"),
        steps: [],
      },
      async (o) => {
        const intact = await host.intact();
        const c: Case = {
          id: "repo-report-dir-link",
          kind: "attack",
          attack:
            "a repository commits `out` as a link to a host directory holding report.txt, with --report-source out/report.txt (the report file is deleted before every trial, the baseline's too)",
          vector: "config",
          layer:
            "trial runner: trees go to the engine as image layers, so no host-side copy of a tree is ever written, read or deleted through its links",
          recorded: `exit ${o.result.code}: ${
            /^error: (.*)$/m.exec(o.result.stderr)?.[1] ?? ""
          }`,
          held: intact,
          evidence: `the host directory's report.txt ${
            intact ? "is intact" : "was DELETED by the baseline's trial"
          }`,
        };
        links.add(c);
        assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
      },
    );
  },
);

recordTo(
  control,
  "a trial that swaps its setup output for a link to a host file gets none of its bytes into .ratchet",
  async () => {
    await using secret = await sentinel("secret.txt");
    const code =
      `ln -sf ${secret.path} /.ratchet-trial/setup.out 2>/dev/null || true\n`;
    const steps = [turn(
      create("/work/prog.sh", code),
      submit("A faster program.", "prog.sh"),
    )];
    await runScenario(
      {
        args: runFlags(1, "--setup-command", "echo setting up"),
        steps,
      },
      async (o) => {
        const r = o.records[1];
        const report = await o.report(1);
        const leaked = await o.filesHolding(secret.text.trim());
        const c: Case = {
          id: "setup-out-host-link",
          kind: "attack",
          attack:
            "with --setup-command, the candidate's code runs `ln -sf <host file> /.ratchet-trial/setup.out`; ratchet saves the setup output in the trial report",
          vector: "trial",
          layer:
            "the control directory and its files belong to another user (the trial cannot replace them), and they are read from the stopped container through the Engine API, never through a host path the trial can redirect",
          recorded: recorded(r),
          held: leaked.length === 0 && report !== "" && r !== undefined,
          evidence:
            `${leaked.length} file(s) under .ratchet/ hold the host file's text${
              leaked.length > 0 ? ` (${leaked.join(", ")})` : ""
            }; the trial report ${report === "" ? "is missing" : "was saved"}`,
        };
        control.add(c);
        assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
      },
    );
  },
);

recordTo(
  control,
  "a trial that swaps its control log for a FIFO does not hang the run, and nothing is left running",
  async () => {
    const code = "rm -f /.ratchet-trial/log; mkfifo /.ratchet-trial/log\n";
    const steps = [turn(
      create("/work/prog.sh", code),
      submit("A faster program.", "prog.sh"),
    )];
    await using repo = await scenarioRepo();
    await using server = await startFakeAnthropic(steps);
    // A baseline and one iteration take seconds; two minutes is the bound.
    const BOUND_MS = 120_000;
    const started = performance.now();
    const child = spawnRatchet(runFlags(1), repo.dir, server);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finished = await Promise.race([
      child.done.then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), BOUND_MS)),
    ]);
    clearTimeout(timer);
    const seconds = (performance.now() - started) / 1000;
    let term = "";
    if (!finished) {
      // The run hung: does SIGTERM still stop it?
      child.kill("SIGTERM");
      const stopped = await Promise.race([
        child.done.then((r) => r.code),
        new Promise<null>((r) => setTimeout(() => r(null), 15_000)),
      ]);
      term = stopped === null
        ? "SIGTERM was ignored for 15 s (killed with SIGKILL)"
        : `SIGTERM stopped it (exit ${stopped})`;
      if (stopped === null) child.kill("SIGKILL");
    }
    const result = await child.done;
    const o = await outcomeOf(repo, server, result);
    try {
      const left = await leftovers(o.runId);
      const r = o.records[1];
      const c: Case = {
        id: "control-log-fifo",
        kind: "attack",
        attack:
          "the candidate's code replaces /.ratchet-trial/log with a FIFO (ratchet reads the log after the container stops)",
        vector: "trial",
        layer:
          "the control directory and its files belong to another user (the trial cannot replace them); the control log comes from the wrapper's signed copy on stderr; a log file read from the stopped container through the Engine API is read only if it is a regular file, and every host-side read is bounded in time and size",
        recorded: finished
          ? `exit ${result.code} after ${seconds.toFixed(1)} s; ${recorded(r)}`
          : `still running after ${BOUND_MS / 1000} s; ${term}`,
        held: finished && result.code === 0 && r !== undefined &&
          r.decision !== "improved" && left.length === 0,
        evidence: `${left.length} container(s) of the run left behind`,
      };
      control.add(c);
      assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);

recordTo(
  control,
  "a trial that reads the control log for the nonce cannot sign a forged wall time",
  async () => {
    // Slower by a second, but signs a wall time of 1 µs with whatever
    // nonce the log gives away, on stderr and in the log.
    const code = [
      "read -r n _ < /.ratchet-trial/log 2>/dev/null",
      "printf '\\n%s wall er 0 0.000001 0\\n' \"$n\" >&2",
      'echo "$n wall er 0 0.000001 0" >> /.ratchet-trial/log 2>/dev/null',
      "sleep 1",
      "",
    ].join("\n");
    const steps = [turn(
      create("/work/prog.sh", code),
      submit("A faster program.", "prog.sh"),
    )];
    const args = runFlags(1).map((a, i, all) =>
      all[i - 1] === "--report-source"
        ? "wall"
        : all[i - 1] === "--metric-name"
        ? "seconds"
        : all[i - 1] === "--direction"
        ? "min"
        : a
    );
    await runScenario({ args, steps }, (o) => {
      const r = o.records[1];
      const score = r?.trial_scores?.[0] ?? null;
      const c: Case = {
        id: "control-log-nonce",
        kind: "attack",
        attack:
          "with --report-source wall, the candidate's code reads /.ratchet-trial/log for the nonce that signs the wrapper's lines and writes a wall time of 1 µs, signed with it, to stderr and the log (it sleeps 1 s)",
        vector: "trial",
        layer:
          "the wrapper draws the nonce inside the container and announces it only on the container's stderr, which no command can read; the log is another user's, writable but not readable by the trial",
        // The decision alone: the scores are timings and vary.
        recorded: r === undefined ? "no record" : r.decision,
        held: r !== undefined && r.decision !== "improved" &&
          typeof score === "number" && score >= 0.9,
        evidence: `the candidate's trial measured ${
          typeof score === "number" ? `${score.toFixed(3)} s` : "nothing"
        }`,
      };
      control.add(c);
      assert.ok(c.held, `${c.recorded} | ${c.evidence}`);
      return Promise.resolve();
    });
  },
);
