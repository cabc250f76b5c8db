/**
 * Upstream faults during a run: the Anthropic API answering 429 with
 * retry-after, 500, 529, malformed stream data, a connection dropped
 * mid-stream, a response slower than the client's timeout, a stream that
 * goes silent, a persistent outage and a rejected key (each against its own
 * fake model); the Docker daemon crashing in the middle of a trial and
 * coming back (a private dockerd); the disk holding `.ratchet/` dropping
 * below 1 GiB free (a 1100 MiB tmpfs). Each time the run retries and
 * finishes, or stops resumable (exit 4; exit 3 for the key) losing nothing,
 * and `ratchet resume` finishes it.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { type Fault, startFakeModel } from "../reliability/fake_model.ts";
import {
  describeFailures,
  ITERATIONS,
  type Lab,
  pool,
  runArgs,
  runContainers,
  scenario,
} from "../reliability/harness.ts";
import { runGroup } from "../reliability/summary.ts";
import { canRunDockerd, startPrivateDockerd } from "../reliability/dockerd.ts";

/** Client timing for tests: short timeouts, few retries (RATCHET_API_*). */
const FAST_API = {
  RATCHET_API_TIMEOUT_MS: "1500",
  RATCHET_API_IDLE_TIMEOUT_MS: "1500",
  RATCHET_API_MAX_RETRIES: "3",
};

interface RetryCase {
  id: string;
  title: string;
  faults: Fault[];
  /** Least gap (ms) before the request after the first fault (retry-after honoured). */
  minGapMs?: number;
}

const RETRY_CASES: RetryCase[] = [
  {
    id: "api-429",
    title: "429 rate_limit_error with retry-after: 1, twice",
    faults: [
      {
        kind: "status",
        status: 429,
        errorType: "rate_limit_error",
        headers: { "retry-after": "1" },
      },
      {
        kind: "status",
        status: 429,
        errorType: "rate_limit_error",
        headers: { "retry-after": "1" },
      },
    ],
    minGapMs: 900,
  },
  {
    id: "api-500",
    title: "500 api_error, twice",
    faults: [
      { kind: "status", status: 500, errorType: "api_error" },
      { kind: "status", status: 500, errorType: "api_error" },
    ],
  },
  {
    id: "api-529",
    title: "529 overloaded_error, twice",
    faults: [
      { kind: "status", status: 529, errorType: "overloaded_error" },
      { kind: "status", status: 529, errorType: "overloaded_error" },
    ],
  },
  {
    id: "api-malformed",
    title: "malformed JSON in the event stream",
    faults: [{ kind: "malformed" }],
  },
  {
    id: "api-drop",
    title: "connection dropped mid-stream, twice",
    faults: [{ kind: "drop", afterEvents: 3 }, {
      kind: "drop",
      afterEvents: 5,
    }],
  },
  {
    id: "api-slow",
    title: "response slower than the timeout (3 s, timeout 1.5 s)",
    faults: [{ kind: "slow", delayMs: 3000 }],
  },
  {
    id: "api-stall",
    title: "stream silent longer than the idle timeout (3 s, idle 1.5 s)",
    faults: [{ kind: "stall", stallMs: 3000 }],
  },
];

/** Stop, check it stopped resumable, then resume to the end. */
async function stoppedThenResumed(
  lab: Lab,
  stop: { code: number; stderr: string; stderrTail: string },
  expect: { code: number; message: RegExp },
  fix: () => Promise<void> | void,
): Promise<void> {
  lab.check(
    "stop",
    `exit ${expect.code}, naming the cause`,
    stop.code === expect.code && expect.message.test(stop.stderr),
    `exit ${stop.code}: ${stop.stderrTail}`,
  );
  await lab.verifyClean("after the stop", { finished: false });
  await fix();
  lab.result.recovery = "resume";
  const again = await lab.ratchet("resume", ["resume", "--json"]);
  lab.check(
    "recovery",
    "resume finishes (exit 0)",
    again.code === 0,
    again.stderrTail,
  );
  await lab.verifyClean("final", { finished: true, iterations: ITERATIONS });
}

dockerTest(
  "API faults (429 with retry-after, 500, 529, malformed stream, dropped connection, slow response, silent stream) are retried and the run finishes; a persistent outage stops it with exit 4, a rejected key with exit 3, both resumable",
  async () => {
    const results = await runGroup("api", {
      title: "Anthropic API faults",
      about:
        "Each scenario has its own fake Messages API that serves the faults to the first requests of the run, then answers normally. The client's timing is shortened for the tests with `RATCHET_API_TIMEOUT_MS=1500 RATCHET_API_IDLE_TIMEOUT_MS=1500 RATCHET_API_MAX_RETRIES=3`.",
      test: "tests/e2e/reliability_upstream_test.ts",
    }, async (add) => {
      const tasks = RETRY_CASES.map((c) => () =>
        (async () => {
          await using model = await startFakeModel();
          model.inject(...c.faults);
          return await scenario({
            id: c.id,
            group: "api",
            title: c.title,
            fault: c.title,
            modelUrl: model.url,
            env: FAST_API,
          }, async (lab) => {
            lab.result.recovery = "retried in the run";
            const r = await lab.ratchet("run", runArgs());
            lab.check(
              "run",
              "retried and finished (exit 0)",
              r.code === 0,
              r.stderrTail,
            );
            lab.check(
              "run",
              "every fault was served, then answered",
              model.pending() === 0 &&
                model.stats.faultsServed === c.faults.length,
              `served ${model.stats.faultsServed} of ${c.faults.length}`,
            );
            lab.check(
              "run",
              "the retries are reported as warnings",
              /retried/i.test(r.stdout + r.stderr),
            );
            if (c.minGapMs !== undefined) {
              const t = model.stats.times;
              const gaps = t.slice(1, c.faults.length + 1).map((x, i) =>
                x - t[i]!
              );
              lab.check(
                "run",
                `retry-after honoured (gaps ≥ ${c.minGapMs} ms)`,
                gaps.length === c.faults.length &&
                  gaps.every((g) => g >= c.minGapMs!),
                `gaps ${gaps.join(", ")} ms`,
              );
            }
            await lab.verifyClean("final", {
              finished: true,
              iterations: ITERATIONS,
            });
          });
        })().then(add)
      );
      tasks.push(() =>
        (async () => {
          await using model = await startFakeModel();
          return await scenario({
            id: "api-outage",
            group: "api",
            title: "persistent 500 outage from iteration 2 on",
            fault:
              "every request answers 500 from the proposal of iteration 2 on",
            modelUrl: model.url,
            env: FAST_API,
          }, async (lab) => {
            const r = await lab.ratchet("run", runArgs(), {
              kill: {
                signal: "SIGKILL",
                when: (out) => /"iter":2,"phase":"proposing"/.test(out),
                action: () =>
                  model.outage({
                    kind: "status",
                    status: 500,
                    errorType: "api_error",
                  }),
              },
            });
            await stoppedThenResumed(
              lab,
              r,
              { code: 4, message: /Anthropic API is unavailable/ },
              () => model.outage(null),
            );
          });
        })().then(add)
      );
      tasks.push(() =>
        (async () => {
          await using model = await startFakeModel();
          return await scenario({
            id: "api-401",
            group: "api",
            title: "API key rejected (401) mid-run",
            fault: "every request answers 401 from iteration 2 on",
            modelUrl: model.url,
            env: FAST_API,
          }, async (lab) => {
            const r = await lab.ratchet("run", runArgs(), {
              kill: {
                signal: "SIGKILL",
                when: (out) => /"iter":2,"phase":"proposing"/.test(out),
                action: () =>
                  model.outage({
                    kind: "status",
                    status: 401,
                    errorType: "authentication_error",
                  }),
              },
            });
            await stoppedThenResumed(
              lab,
              r,
              { code: 3, message: /API key rejected[\s\S]*ratchet resume/ },
              () => model.outage(null),
            );
          });
        })().then(add)
      );
      await pool(3, tasks);
    });
    assert.equal(describeFailures(results), "");
  },
);

dockerTest(
  "the Docker daemon crashing in the middle of a trial stops the run with exit 4, resumable; once the daemon is back, resume finishes it",
  async () => {
    assert.ok(
      canRunDockerd(),
      "this test needs dockerd and root to start a private daemon",
    );
    await using dockerd = await startPrivateDockerd();
    await using model = await startFakeModel();
    const results = await runGroup("docker", {
      title: "Docker daemon crash mid-trial",
      about:
        "A private dockerd (own socket, data root and exec root; busybox loaded with `docker save | docker load`) is given to ratchet with DOCKER_HOST. When the run reaches the trial of iteration 2, dockerd and its containerd are killed with SIGKILL; then it is started again on the same data root and the run resumed.",
      test: "tests/e2e/reliability_upstream_test.ts",
    }, async (add) => {
      add(
        await scenario({
          id: "dockerd-crash",
          group: "docker",
          title:
            "dockerd + containerd SIGKILLed during the trial of iteration 2",
          fault: "SIGKILL of the Docker daemon mid-trial",
          modelUrl: model.url,
          env: { DOCKER_HOST: dockerd.host },
        }, async (lab) => {
          // A trial long enough to be caught running.
          await Deno.writeTextFile(
            join(lab.dir, "score.sh"),
            'sleep 1\necho "score: $(cat value.txt)"\n',
          );
          await lab.commitAll("slow score");
          const r = await lab.ratchet("run", runArgs(), {
            kill: {
              signal: "SIGKILL",
              when: (out) => /"iter":2,"phase":"measuring"/.test(out),
              action: async () => {
                await new Promise((res) => setTimeout(res, 300));
                await dockerd.crash();
              },
            },
          });
          lab.check(
            "stop",
            "exit 4 naming Docker",
            r.code === 4 && /docker/i.test(r.stderr),
            `exit ${r.code}: ${r.stderrTail}`,
          );
          const recs = await lab.results();
          lab.check(
            "stop",
            "no trial recorded for the failed one",
            recs.records.every((x) => x.iter < 2),
            `iters ${recs.records.map((x) => x.iter)}`,
          );
          await dockerd.restart();
          // The trial container outlived its daemon's crash: ratchet could
          // not remove it then; resume must.
          await lab.verifyClean("after the stop (daemon back)", {
            finished: false,
            skipContainers: true,
          });
          const left = await runContainers(
            (await lab.runFile())!.run_id,
            dockerd.host,
          );
          lab.result.recovery = "resume";
          const again = await lab.ratchet("resume", ["resume", "--json"]);
          lab.check(
            "recovery",
            "resume finishes (exit 0)",
            again.code === 0,
            again.stderrTail,
          );
          lab.check(
            "recovery",
            "resume removes the container the crash left",
            left.length === 0 ||
              /Removed \d+ leftover container/.test(again.stdout),
            `${left.length} left before resume`,
          );
          await lab.verifyClean("final", {
            finished: true,
            iterations: ITERATIONS,
          });
        }),
      );
    });
    assert.equal(describeFailures(results), "");
  },
);

dockerTest(
  "less than 1 GiB free on the disk holding .ratchet/ stops the run with exit 4, resumable; with space freed, resume finishes it",
  async () => {
    await using model = await startFakeModel();
    const mnt = await Deno.makeTempDir({ prefix: "ratchet-rel-disk-" });
    const mount = await new Deno.Command("mount", {
      args: ["-t", "tmpfs", "-o", "size=1100m", "tmpfs", mnt],
      stderr: "piped",
    }).output();
    assert.ok(
      mount.success,
      `mount tmpfs: ${new TextDecoder().decode(mount.stderr)}`,
    );
    try {
      const filler = join(mnt, "filler.bin");
      const fill = async (mib: number) => {
        const f = await Deno.open(filler, {
          write: true,
          create: true,
          truncate: true,
        });
        const chunk = new Uint8Array(1024 * 1024);
        for (let i = 0; i < mib; i++) await f.write(chunk);
        f.close();
      };
      const results = await runGroup("disk", {
        title: "Disk holding .ratchet/ below 1 GiB free",
        about:
          "The repo lives on a 1100 MiB tmpfs. A 150 MiB file is written there while the run is going (or before it starts), which leaves less than the 1 GiB ratchet requires; then the file is removed and the run resumed.",
        test: "tests/e2e/reliability_upstream_test.ts",
      }, async (add) => {
        add(
          await scenario({
            id: "disk-low-mid-run",
            group: "disk",
            title: "free space drops below 1 GiB after iteration 1",
            fault: "150 MiB written to the 1100 MiB filesystem mid-run",
            modelUrl: model.url,
            parentDir: mnt,
          }, async (lab) => {
            const r = await lab.ratchet("run", runArgs(), {
              kill: {
                signal: "SIGKILL",
                when: (out) =>
                  /"event":"iteration","record":\{[^\n]*?"iter":1,/.test(out),
                action: () => fill(150),
              },
            });
            await stoppedThenResumed(
              lab,
              r,
              { code: 4, message: /MiB free on the disk/ },
              () => Deno.remove(filler),
            );
          }),
        );
        await fill(150);
        add(
          await scenario({
            id: "disk-low-at-start",
            group: "disk",
            title: "less than 1 GiB free before the baseline",
            fault: "150 MiB written to the 1100 MiB filesystem before the run",
            modelUrl: model.url,
            parentDir: mnt,
          }, async (lab) => {
            const r = await lab.ratchet("run", runArgs());
            await stoppedThenResumed(
              lab,
              r,
              { code: 4, message: /MiB free on the disk/ },
              () => Deno.remove(filler),
            );
          }),
        );
      });
      assert.equal(describeFailures(results), "");
    } finally {
      await new Deno.Command("umount", { args: ["-l", mnt] }).output();
      await Deno.remove(mnt, { recursive: true }).catch(() => {});
    }
  },
);
