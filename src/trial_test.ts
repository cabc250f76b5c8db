import assert from "node:assert/strict";
import { join } from "node:path";
import {
  clockNs,
  decideOutcome,
  formatTrialReport,
  limitsOf,
  type OutcomeInput,
  outputTail,
  parseControlLog,
  parseTrialReport,
  readReportFile,
  reportPathOf,
  tailOf,
  toTrialSummary,
  trialEnv,
  type TrialResult,
  WRAPPER,
} from "./trial.ts";
import { testConfig } from "../tests/_helpers/config.ts";
import { CONTROL_DIR } from "./infra/mounts.ts";

const NONCE = "0123456789abcdef0123456789abcdef";

Deno.test("clockNs() reads every clock the wrapper may use, without precision loss", () => {
  assert.equal(clockNs("ns", "1795864339775869707"), 1795864339775869707n);
  assert.equal(clockNs("us", "1795864371:430686:"), 1795864371430686000n);
  assert.equal(clockNs("us", "1795864371:5:"), 1795864371000005000n);
  assert.equal(clockNs("er", "1795872938.587348"), 1795872938587348000n);
  assert.equal(clockNs("er", "1795872938,000007"), 1795872938000007000n);
  assert.equal(clockNs("er", "1795872938"), null);
  assert.equal(clockNs("up", "1148.42"), 1148420000000n);
  assert.equal(clockNs("up", "7"), 7000000000n);
  assert.equal(clockNs("ns", "1795864339%N"), null);
  assert.equal(clockNs("up", "-1"), null);
  assert.equal(clockNs("xx", "1"), null);
});

Deno.test("parseControlLog() accepts only lines carrying the nonce", () => {
  const text = [
    "forged wall ns 0 999999999999 0",
    `${NONCE} start`,
    `${NONCE.slice(1)} wall ns 0 1 0`,
    `${NONCE} wall ns 1795864339000000000 1795864339250000000 0`,
    `${NONCE} wall ns 0 5000000000 0`,
    "",
  ].join("\n");
  const log = parseControlLog(text, NONCE);
  assert.equal(log.started, true);
  assert.equal(log.timeout, false);
  assert.equal(log.setupStatus, null);
  assert.deepEqual(log.wall, { seconds: 0.25, clock: "ns", status: 0 });

  const other = parseControlLog(
    `${NONCE} setup 7\n${NONCE} timeout\n${NONCE} wall up 10.00 9.99 0\n`,
    NONCE,
  );
  assert.equal(other.setupStatus, 7);
  assert.equal(other.timeout, true);
  // An end before the start is not a measurement.
  assert.equal(other.wall, null);
  assert.deepEqual(parseControlLog("", NONCE), {
    started: false,
    setupStatus: null,
    timeout: false,
    wall: null,
  });
});

const okMetric: OutcomeInput["metric"] = {
  ok: true,
  value: 2.5,
  unit: null,
  rule: "line",
};

function outcome(overrides: Partial<OutcomeInput>) {
  return decideOutcome({
    timedOut: false,
    oomKilled: false,
    setupStatus: null,
    exitCode: 0,
    timeoutSeconds: 10,
    metric: okMetric,
    ...overrides,
  });
}

Deno.test("decideOutcome() maps exit codes, kills and metrics to the spec's outcomes", () => {
  assert.deepEqual(outcome({}), {
    outcome: "ok",
    score: 2.5,
    unit: null,
    rule: "line",
    detail: "",
  });
  const crashed = outcome({ exitCode: 3 });
  assert.equal(crashed.outcome, "crashed");
  assert.equal(crashed.score, null);
  assert.match(crashed.detail, /status 3/);
  assert.match(outcome({ exitCode: 139 }).detail, /signal 11/);
  assert.equal(outcome({ exitCode: null }).outcome, "crashed");
  assert.equal(
    outcome({ timedOut: true, exitCode: null, oomKilled: true }).outcome,
    "timeout",
  );
  assert.equal(outcome({ oomKilled: true, exitCode: 137 }).outcome, "oom");
  const setup = outcome({ setupStatus: 2, exitCode: 2 });
  assert.equal(setup.outcome, "crashed");
  assert.match(setup.detail, /setup command/);
  const none = outcome({
    metric: { ok: false, tried: ["json", "line"], message: "metric not found" },
  });
  assert.deepEqual([none.outcome, none.detail], [
    "no_metric",
    "metric not found",
  ]);
  // A crash wins over a printed metric.
  assert.equal(outcome({ exitCode: 1 }).score, null);
});

Deno.test("decideOutcome() makes a unit other than the baseline's no_metric", () => {
  const mb = { ok: true as const, value: 3, unit: "MB", rule: "line" as const };
  assert.equal(outcome({ metric: mb, expectedUnit: "MB" }).outcome, "ok");
  const differs = outcome({ metric: mb, expectedUnit: null });
  assert.equal(differs.outcome, "no_metric");
  assert.equal(differs.score, null);
  assert.match(differs.detail, /"MB" differs from the baseline's \(none\)/);
  assert.equal(
    outcome({ metric: okMetric, expectedUnit: "MB" }).outcome,
    "no_metric",
  );
  // Not checked when the caller has no expectation.
  assert.equal(outcome({ metric: mb }).outcome, "ok");
});

Deno.test("trialEnv() passes only listed host variables, never ANTHROPIC_*, and sets HOME", () => {
  const host: Record<string, string> = {
    FOO: "bar",
    SECRET: "s",
    ANTHROPIC_API_KEY: "sk-ant",
    anthropic_base_url: "x",
    HOME: "/root",
  };
  const env = trialEnv(
    ["FOO", "ANTHROPIC_API_KEY", "anthropic_base_url", "UNSET", "HOME"],
    (n) => host[n],
  );
  assert.deepEqual(env, { FOO: "bar", HOME: "/tmp/home" });
});

Deno.test("limitsOf() and reportPathOf() read the config", () => {
  assert.deepEqual(limitsOf(testConfig({ memory: null, gpus: "all" })), {
    cpus: 2,
    memoryBytes: null,
    pidsLimit: 4096,
    shmSizeBytes: 1024 ** 3,
    gpus: "all",
  });
  assert.equal(reportPathOf(testConfig({ reportSource: "stdout" })), null);
  assert.equal(reportPathOf(testConfig({ reportSource: "wall" })), null);
  assert.equal(
    reportPathOf(testConfig({ reportSource: "./out//r.json" })),
    "out/r.json",
  );
});

Deno.test("readReportFile() refuses symlinks and paths leaving the tree", async () => {
  const dir = await Deno.makeTempDir();
  const outside = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(outside, "secret"), "score: 999");
    await Deno.mkdir(join(dir, "out"));
    await Deno.writeTextFile(join(dir, "out/r.txt"), "score: 1");
    await Deno.symlink(join(outside, "secret"), join(dir, "out/link.txt"));
    await Deno.symlink(outside, join(dir, "viadir"));
    await Deno.mkdir(join(dir, "adir"));

    assert.deepEqual(await readReportFile(dir, "out/r.txt"), {
      ok: true,
      text: "score: 1",
      truncated: false,
    });
    const link = await readReportFile(dir, "out/link.txt");
    assert.equal(link.ok, false);
    assert.match(!link.ok ? link.message : "", /is a symlink/);
    const via = await readReportFile(dir, "viadir/secret");
    assert.match(
      !via.ok ? via.message : "",
      /passes through the symlink viadir/,
    );
    const missing = await readReportFile(dir, "out/none.txt");
    assert.match(!missing.ok ? missing.message : "", /was not written/);
    const up = await readReportFile(dir, "../secret");
    assert.match(!up.ok ? up.message : "", /outside the repository/);
    const isDir = await readReportFile(dir, "adir");
    assert.match(!isDir.ok ? isDir.message : "", /not a regular file/);
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(outside, { recursive: true });
  }
});

function result(overrides: Partial<TrialResult> = {}): TrialResult {
  return {
    outcome: "ok",
    score: 1.5,
    unit: "MB",
    rule: "line",
    exitCode: 0,
    wallSeconds: 0.25,
    stdout: "hello\nscore: 1.5 MB\n",
    stderr: "warn\n",
    stdoutTruncated: false,
    stderrTruncated: true,
    timedOut: false,
    oomKilled: false,
    reportText: null,
    detail: "",
    containerId: "abc123",
    guards: {},
    guardUnits: {},
    ...overrides,
  };
}

Deno.test("formatTrialReport() writes exit code, outcome, wall time, report and both streams", () => {
  const text = formatTrialReport(
    result({ reportText: "score: 1.5 MB\n" }),
    {
      runId: "r1",
      iter: 3,
      trial: 2,
      side: "candidate",
      reportSource: "out/r.txt",
      clock: "ns",
      setupOutput: "installed\n",
    },
  );
  assert.match(text, /iteration 3, trial 2 \(candidate\)/);
  assert.match(text, /outcome: +ok/);
  assert.match(text, /score: +1\.5 MB \(rule: line\)/);
  assert.match(text, /exit code: +0/);
  assert.doesNotMatch(text, /guards:/);
  assert.match(
    formatTrialReport(
      result({
        guards: { accuracy: 0.93, rss: null },
        guardUnits: { accuracy: null, rss: null },
      }),
      {
        runId: "r1",
        iter: 3,
        trial: 2,
        side: "candidate",
        reportSource: "stdout",
        clock: null,
        setupOutput: null,
      },
    ),
    /\nguards: +accuracy=0\.93, rss=—\n/,
  );
  assert.match(text, /wall time: +0\.250000 s \(clock: date/);
  assert.match(text, /===== setup command output =====\ninstalled\n/);
  assert.match(text, /===== report \(out\/r\.txt\) =====\nscore: 1\.5 MB\n/);
  assert.match(
    text,
    /===== stdout \(20 bytes\) =====\nhello\nscore: 1\.5 MB\n/,
  );
  assert.match(
    text,
    /===== stderr \(5 bytes, truncated at 10 MiB\) =====\nwarn\n/,
  );
  const crashed = formatTrialReport(
    result({
      outcome: "crashed",
      exitCode: 2,
      detail: "exited 2",
      score: null,
    }),
    {
      runId: "r",
      iter: 0,
      trial: 1,
      side: "incumbent",
      reportSource: "stdout",
      clock: null,
      setupOutput: null,
    },
  );
  assert.match(crashed, /detail: +exited 2/);
  assert.match(crashed, /report source: stdout/);
});

Deno.test("toTrialSummary() keeps the outcome and the tail of both streams", () => {
  const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
  const summary = toTrialSummary(result({ stdout: long, stderr: "" }));
  assert.equal(summary.outcome, "ok");
  assert.equal(summary.wallSeconds, 0.25);
  assert.match(summary.outputTail, /--- stdout \(tail\) ---\nline 60\n/);
  assert.doesNotMatch(summary.outputTail, /line 59\n|stderr/);
  assert.equal(outputTail("", " "), "(no output)");
  assert.equal(tailOf("x".repeat(5000), 40, 100).length, 101);
});

/**
 * The wrapper timed the `sleep 0.2`: at least 0.2 s (less 10 ms for the
 * shell clocks' resolution), and no longer than the wrapper process lived (a
 * bound that holds however loaded the machine is; 10 ms for the two clocks).
 */
function assertTimed(
  seconds: number | undefined,
  elapsed: number,
  log: string,
): void {
  assert.ok(seconds !== undefined, log);
  assert.ok(
    seconds >= 0.19 && seconds <= elapsed + 0.01,
    `wrapper measured ${seconds} s, process lived ${elapsed} s: ${log}`,
  );
}

/** Run the wrapper on the host with its container paths redirected to temp dirs. */
async function hostWrapper(
  args: { command: string; setup: string; shell?: string },
): Promise<
  {
    code: number;
    stdout: string;
    log: string;
    nonceLeft: string;
    setupOut: string;
    /** Seconds the wrapper process lived, measured from here. */
    elapsed: number;
  }
> {
  const ctl = await Deno.makeTempDir();
  const work = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(ctl, "nonce"), NONCE + "\n");
    const script = WRAPPER.replaceAll(CONTROL_DIR, ctl).replaceAll(
      "/work",
      work,
    );
    // Never the timeout path on the host: its watchdog kills every process
    // of the user (`kill -9 -1`), which is right only inside a container.
    const started = performance.now();
    const out = await new Deno.Command(args.shell ?? "sh", {
      args: [
        "-c",
        script,
        "ratchet-trial",
        args.command.replaceAll("CTL", ctl),
        args.setup,
        "",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const elapsed = (performance.now() - started) / 1000;
    const read = (p: string) => Deno.readTextFile(join(ctl, p)).catch(() => "");
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout),
      log: await read("log"),
      nonceLeft: await read("nonce"),
      setupOut: await read("setup.out"),
      elapsed,
    };
  } finally {
    await Deno.remove(ctl, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("WRAPPER wipes the nonce, times the command, and keeps its exit status", async () => {
  const r = await hostWrapper({
    command: "cat CTL/nonce; env; pwd; sleep 0.2; exit 3",
    setup: "echo setting up",
  });
  assert.equal(r.code, 3);
  // Neither the file, the environment nor the output holds the nonce any more.
  assert.equal(r.nonceLeft, "");
  assert.doesNotMatch(r.stdout, new RegExp(NONCE));
  assert.equal(r.setupOut, "setting up\n");
  const log = parseControlLog(r.log, NONCE);
  assert.equal(log.started, true);
  assert.equal(log.wall?.status, 3);
  assertTimed(log.wall?.seconds, r.elapsed, r.log);
});

Deno.test("WRAPPER reads the shell's own clock where it has one, date where not", async () => {
  // bash and busybox ash have $EPOCHREALTIME; Debian's sh (dash) does not.
  for (const [shell, clock] of [["bash", "er"], ["dash", "ns"]] as const) {
    const r = await hostWrapper({ command: "sleep 0.2", setup: "", shell });
    const log = parseControlLog(r.log, NONCE);
    assert.equal(log.wall?.clock, clock, `${shell}: ${r.log}`);
    assertTimed(log.wall?.seconds, r.elapsed, `${shell}: ${r.log}`);
  }
});

Deno.test("WRAPPER stops at a failing setup command", async () => {
  const r = await hostWrapper({ command: "echo ran", setup: "exit 4" });
  assert.equal(r.code, 4);
  assert.equal(r.stdout, "");
  const log = parseControlLog(r.log, NONCE);
  assert.equal(log.setupStatus, 4);
  assert.equal(log.started, false);
});

Deno.test("parseTrialReport() reads back side, outcome and both streams of formatTrialReport()", () => {
  const meta = {
    runId: "r",
    iter: 4,
    trial: 3,
    side: "candidate" as const,
    reportSource: "stdout",
    clock: null,
    setupOutput: "setup\n===== stderr (1 bytes) =====\n",
  };
  const text = formatTrialReport(
    result({
      outcome: "crashed",
      exitCode: 1,
      score: null,
      // A stream that prints a section line of its own.
      stdout: "line 1\n===== stderr (9 bytes) =====\nstill stdout",
      stderr: "Traceback: boom\n",
    }),
    meta,
  );
  const parsed = parseTrialReport(text);
  assert.deepEqual(parsed, {
    side: "candidate",
    outcome: "crashed",
    stdout: "line 1\n===== stderr (9 bytes) =====\nstill stdout\n",
    stderr: "Traceback: boom\n",
  });
  assert.equal(parseTrialReport("not a report"), null);
});
