/**
 * Trials against the real daemon (busybox): outcomes, capture, isolation,
 * read-only harness (as a user and as root inside), editable mode,
 * ownership, limits, timeouts, control files and cleanup. Each test's trees
 * become images labelled `ratchet.test=<uuid>`; containers, images and
 * volumes are removed by that label in `finally`, and the test fails if
 * anything was left.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest, testDockerSocket } from "../_helpers/docker.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { testConfig } from "../_helpers/config.ts";
import type { Config } from "../../src/config/config.ts";
import { DockerRuntime } from "../../src/infra/docker/runtime.ts";
import { resolveEngine } from "../../src/infra/engine.ts";
import { snapshotHarness } from "../../src/infra/harness_snapshot.ts";
import { EnvironmentError, ExitCode } from "../../src/errors.ts";
import { extraMounts } from "../../src/trial/container_spec.ts";
import {
  runCheck,
  runTrial,
  type TrialDeps,
  type TrialRequest,
} from "../../src/trial/runner.ts";
import type { TrialResult } from "../../src/core/trial_report.ts";
import { TreeImages, type TreeRef } from "../../src/trial/tree_images.ts";
import type { TreeSource } from "../../src/trial/tree_source.ts";
import { policyOf } from "../../src/app/run_state.ts";
import { testGit } from "../_helpers/git_context.ts";

const MiB = 1024 * 1024;
const RUN_ID = "it-run";
const runtime = new DockerRuntime(
  resolveEngine({ DOCKER_HOST: `unix://${testDockerSocket()}` }),
);

/** Run `docker` and return trimmed stdout, or null on failure. */
async function docker(...args: string[]): Promise<string | null> {
  const out = await new Deno.Command("docker", {
    args,
    env: { DOCKER_HOST: `unix://${testDockerSocket()}` },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return out.success ? new TextDecoder().decode(out.stdout).trim() : null;
}

/** What a test may set besides the config. */
interface Extra {
  /** The tree (default: the test's checkout directory). */
  source?: TreeSource;
  iter?: number;
  trial?: number;
  expectedUnit?: string | null;
  /** "uid:gid" of the trial user (default: this process's). */
  repoOwner?: string;
  /** The pinned harness snapshot, or none. */
  harnessDir?: string | null;
  /** The host environment `--pass-env` reads. */
  env?: (name: string) => string | undefined;
  deps?: Partial<TrialDeps>;
}

interface Ctx {
  id: string;
  /** The checkout (plain directory) trials are built from. */
  dir: string;
  write(files: Record<string, string>): Promise<void>;
  /** One trial with a busybox config built from `config`. */
  trial(config: Partial<Config>, extra?: Extra): Promise<TrialResult>;
  /** Trials that share one set of tree images (and cache volumes). */
  session(config: Partial<Config>, extra?: Extra): {
    deps: TrialDeps;
    trial(tree: TreeRef, more?: Partial<TrialRequest>): Promise<TrialResult>;
  };
}

/** Files of a directory tree (relative path → content), .ratchet excluded. */
async function snapshot(
  dir: string,
  rel = "",
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for await (const e of Deno.readDir(join(dir, rel))) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (path === ".ratchet") continue;
    if (e.isDirectory) Object.assign(out, await snapshot(dir, path));
    else if (e.isSymlink) {
      out[path] = `-> ${await Deno.readLink(join(dir, path))}`;
    } else out[path] = await Deno.readTextFile(join(dir, path));
  }
  return out;
}

function trialTest(name: string, fn: (ctx: Ctx) => Promise<void>): void {
  dockerTest(name, async () => {
    const id = crypto.randomUUID();
    const dir = await Deno.makeTempDir({ prefix: "ratchet-trial-it-" });
    let keys = 0;
    const ctx: Ctx = {
      id,
      dir,
      async write(files) {
        for (const [path, content] of Object.entries(files)) {
          await Deno.mkdir(join(dir, path, ".."), { recursive: true });
          await Deno.writeTextFile(join(dir, path), content);
        }
      },
      session(partial, extra = {}) {
        const config = testConfig({
          cpus: 1,
          memory: 256 * MiB,
          pidsLimit: 256,
          shmSize: 16 * MiB,
          ...partial,
        });
        const owner = extra.repoOwner ?? `${Deno.uid()}:${Deno.gid()}`;
        const [uid, gid] = owner.split(":").map(Number) as [number, number];
        const labels = { "ratchet.test": id };
        const images = new TreeImages({
          runtime,
          git: testGit,
          runId: RUN_ID,
          baseImage: "busybox:latest",
          snapshotDir: extra.harnessDir ?? null,
          policy: policyOf(config, null),
          trialUser: { uid, gid },
          labels,
        });
        const deps: TrialDeps = {
          runtime,
          images,
          spec: {
            runId: RUN_ID,
            config,
            user: owner,
            env: extra.env ?? (() => undefined),
            extraMounts: extraMounts(dir, config.mount, true),
            labels,
          },
          config,
          ...extra.deps,
        };
        return {
          deps,
          trial: (tree, more = {}) =>
            runTrial(deps, {
              iter: extra.iter ?? 1,
              trial: extra.trial ?? 1,
              side: "candidate",
              tree,
              ...(extra.expectedUnit === undefined
                ? {}
                : { expectedUnit: extra.expectedUnit }),
              ...more,
            }),
        };
      },
      trial(config, extra = {}) {
        // A key of its own: every trial here builds its tree afresh.
        const key = `t${++keys}`;
        return ctx.session(config, extra).trial({
          key,
          source: extra.source ?? { kind: "dir", dir },
        });
      },
    };
    try {
      await fn(ctx);
      await runtime.settled();
      assert.equal(
        await docker(
          "ps",
          "-aq",
          "--filter",
          `label=ratchet.test=${id}`,
          "--filter",
          "label=ratchet.trial",
        ),
        "",
        "trial containers were left behind",
      );
    } finally {
      await runtime.settled();
      await runtime.removeContainers({ "ratchet.test": id });
      await runtime.removeImages({ "ratchet.test": id });
      await runtime.removeVolumes({ "ratchet.test": id });
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  });
}

trialTest("exit status and metric decide the outcome", async (t) => {
  const ok = await t.trial({ runCommand: "echo noise; echo 'score: 42'" });
  assert.equal(ok.outcome, "ok");
  assert.equal(ok.score, 42);
  assert.equal(ok.rule, "line");
  assert.equal(ok.exitCode, 0);
  assert.equal(ok.detail, "");
  assert.ok(
    ok.wallSeconds !== null && ok.wallSeconds >= 0 && ok.wallSeconds < 5,
  );

  const crashed = await t.trial({ runCommand: "echo 'score: 1'; exit 3" });
  assert.deepEqual([crashed.outcome, crashed.exitCode, crashed.score], [
    "crashed",
    3,
    null,
  ]);

  const none = await t.trial({
    runCommand: "echo nothing here",
    metricName: "latency_ms",
  });
  assert.equal(none.outcome, "no_metric");
  assert.match(none.detail, /not found.*--report-source wall/s);

  const nan = await t.trial({ runCommand: "echo 'score: NaN'" });
  assert.equal(nan.outcome, "no_metric");

  const unit = await t.trial({ runCommand: "echo 'score: 12 MB'" }, {
    expectedUnit: "GB",
  });
  assert.equal(unit.outcome, "no_metric");
  assert.match(unit.detail, /"MB" differs from the baseline's "GB"/);
  const sameUnit = await t.trial({ runCommand: "echo 'score: 12 MB'" }, {
    expectedUnit: "MB",
  });
  assert.deepEqual([sameUnit.outcome, sameUnit.score, sameUnit.unit], [
    "ok",
    12,
    "MB",
  ]);
});

trialTest(
  "stdout and stderr are captured separately; either can be the report",
  async (t) => {
    const r = await t.trial({
      runCommand:
        "echo 'score: 1'; echo 'score: 2' >&2; echo out-end; echo err-end >&2",
      reportSource: "stderr",
    });
    assert.equal(r.outcome, "ok");
    assert.equal(r.score, 2);
    assert.equal(r.stdout, "score: 1\nout-end\n");
    assert.equal(r.stderr, "score: 2\nerr-end\n");
    assert.equal(r.stdoutTruncated, false);
    assert.equal(r.reportText, null);
  },
);

trialTest(
  "the report file is deleted before the trial, read after it, never through a symlink",
  async (t) => {
    await t.write({ "out/r.txt": "score: 99\n" });
    const saved: string[] = [];
    const written = await t.trial({
      reportSource: "out/r.txt",
      runCommand:
        "[ -e out/r.txt ] && echo stale-present; echo 'score: 7' > out/r.txt",
    }, {
      deps: {
        saveReport: (iter, trial, text) =>
          Promise.resolve(void saved.push(`${iter}/${trial}\n${text}`)),
      },
    });
    assert.equal(written.outcome, "ok");
    assert.equal(written.score, 7);
    assert.equal(written.reportText, "score: 7\n");
    assert.doesNotMatch(written.stdout, /stale-present/);
    assert.equal(saved.length, 1);
    assert.match(saved[0]!, /^1\/1\n/);
    assert.match(saved[0]!, /outcome: +ok/);
    assert.match(saved[0]!, /===== report \(out\/r\.txt\) =====\nscore: 7/);

    const stale = await t.trial({
      reportSource: "out/r.txt",
      runCommand: "true",
    });
    assert.equal(stale.outcome, "no_metric");
    assert.match(stale.detail, /was not written/);

    const secret = join(t.dir, "..", `${t.id}-secret`);
    await Deno.writeTextFile(secret, "score: 1000\n");
    try {
      const link = await t.trial({
        reportSource: "out/r.txt",
        runCommand: `ln -s ${secret} out/r.txt; ls -l out`,
      });
      assert.equal(link.outcome, "no_metric");
      assert.match(link.detail, /symlink/);
    } finally {
      await Deno.remove(secret);
    }
    // The checkout still has its own report file.
    assert.equal(
      await Deno.readTextFile(join(t.dir, "out/r.txt")),
      "score: 99\n",
    );
  },
);

trialTest(
  "every trial runs in a new container on a pristine copy; the source is never written",
  async (t) => {
    await t.write({ "a.txt": "original\n", "sub/b.txt": "b\n" });
    const before = await snapshot(t.dir);
    const first = await t.trial({
      runCommand:
        "echo changed > a.txt; rm sub/b.txt; echo new > marker; ls -a /work; echo 'score: 1'",
    });
    assert.equal(first.outcome, "ok", first.stderr);
    assert.doesNotMatch(first.stdout, /\.git|\.ratchet/);
    const second = await t.trial({
      runCommand:
        "cat a.txt; [ -e marker ] && echo marker-seen; [ -e sub/b.txt ] && echo b-present; echo 'score: 2'",
    });
    assert.equal(second.outcome, "ok");
    assert.match(second.stdout, /^original\n/);
    assert.doesNotMatch(second.stdout, /marker-seen/);
    assert.match(second.stdout, /b-present/);
    assert.notEqual(first.containerId, second.containerId);
    assert.match(first.containerId, /^[0-9a-f]{64}$/);
    await runtime.settled();
    for (const c of [first.containerId, second.containerId]) {
      assert.equal(
        await docker("inspect", c),
        null,
        "container was not removed",
      );
    }
    assert.deepEqual(await snapshot(t.dir), before);
  },
);

trialTest(
  "a git tree is materialised without .git and without the uncommitted changes",
  async (t) => {
    await using repo = await tempRepo({ "src/app.txt": "committed\n" });
    await repo.write({ "src/app.txt": "dirty\n", "untracked.txt": "u\n" });
    const before = await snapshot(repo.dir);
    const source: TreeSource = {
      kind: "git",
      root: repo.dir,
      treeish: "HEAD",
    };
    const r = await t.trial({
      runCommand:
        "cat src/app.txt; ls -a; echo x > src/app.txt; echo 'score: 3'",
    }, { source });
    assert.equal(r.outcome, "ok", r.stderr);
    assert.match(r.stdout, /^committed\n/);
    assert.doesNotMatch(r.stdout, /\.git|untracked/);
    const after = await snapshot(repo.dir);
    delete after[".git"];
    for (const k of Object.keys(after)) {
      if (k.startsWith(".git/")) delete after[k];
    }
    for (const k of Object.keys(before)) {
      if (k.startsWith(".git/")) delete before[k];
    }
    assert.deepEqual(after, before);
    // Nothing of the trial was written on the host.
    assert.equal(
      await Deno.stat(join(repo.dir, ".ratchet")).catch(() => null),
      null,
    );
  },
);

trialTest(
  "a timeout kills the command and every background process",
  async (t) => {
    const out = await Deno.makeTempDir();
    try {
      await Deno.chmod(out, 0o777);
      const started = performance.now();
      const r = await t.trial({
        runCommand:
          "(sleep 2; echo alive > /out/late) & echo started; sleep 100",
        trialTimeoutSeconds: 1,
        mount: [{ source: out, target: "/out", readOnly: false }],
      });
      const elapsed = performance.now() - started;
      assert.equal(r.outcome, "timeout");
      assert.equal(r.timedOut, true);
      assert.equal(r.exitCode, null);
      assert.equal(r.score, null);
      assert.equal(r.stdout, "started\n");
      assert.ok(elapsed < 5000, `took ${elapsed} ms`);
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(await Deno.stat(join(out, "late")).catch(() => null), null);

      // With a setup command, whose time does not count against the limit.
      const slowSetup = await t.trial({
        setupCommand: "sleep 1.5",
        runCommand: "echo 'score: 5'",
        trialTimeoutSeconds: 1,
      });
      assert.equal(slowSetup.outcome, "ok");
      const killed = await t.trial({
        setupCommand: "true",
        runCommand: "sleep 100",
        trialTimeoutSeconds: 1,
      });
      assert.equal(killed.outcome, "timeout");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

trialTest(
  "the host kills a trial whose command killed the in-container watchdog",
  async (t) => {
    const started = performance.now();
    const r = await t.trial({
      setupCommand: "true",
      // The watchdog is the parent of `sleep 1`; kill it, then run on.
      runCommand:
        'ps -o pid,ppid,args | awk \'$3=="sleep" && $4=="1" {print $2}\' | xargs kill -9; sleep 60',
      trialTimeoutSeconds: 1,
    });
    const elapsed = performance.now() - started;
    assert.equal(r.outcome, "timeout");
    assert.ok(elapsed < 15_000, `took ${elapsed} ms`);
  },
);

trialTest("a trial over the memory limit is oom", async (t) => {
  const r = await t.trial({
    runCommand: 'x=$(head -c 64000000 /dev/zero | tr "\\0" a); echo "score: 1"',
    memory: 16 * MiB,
  });
  assert.equal(r.outcome, "oom");
  assert.equal(r.oomKilled, true);
  assert.equal(r.score, null);
});

trialTest(
  "network none cannot reach a host listener; bridge can",
  async (t) => {
    using listener = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    const port = listener.addr.port;
    const serving = (async () => {
      for await (const conn of listener) {
        await conn.write(new TextEncoder().encode("score: 5\n"));
        conn.close();
      }
    })().catch(() => {});
    const command = (host: string) => `nc -w 3 ${host} ${port} </dev/null`;
    // Positive control: over the bridge the listener answers (through the
    // gateway, which is the host). Some sandboxes have no docker0 bridge; then
    // only the host's own address is tried from the "none" container.
    let target =
      Deno.networkInterfaces().find((i) =>
        i.family === "IPv4" && !i.address.startsWith("127.")
      )?.address ?? "127.0.0.1";
    try {
      const bridge = await t.trial({
        network: "bridge",
        runCommand:
          `gw=$(ip route | awk '/^default/ {print $3}'); echo "gw=$gw" >&2; ${
            command("$gw")
          }`,
      });
      assert.equal(bridge.outcome, "ok", bridge.stderr);
      assert.equal(bridge.score, 5);
      target = /gw=(\S+)/.exec(bridge.stderr)?.[1] ?? target;
    } catch (error) {
      if (
        !(error instanceof EnvironmentError &&
          /docker0|bridge/.test(error.message))
      ) {
        throw error;
      }
      // deno-lint-ignore no-console
      console.error(
        `no bridge network on this engine (${error.message}); checking "none" only`,
      );
    }
    const none = await t.trial({
      runCommand: `ip route; ip -o link | cut -d: -f2; ${command(target)}`,
    });
    assert.equal(none.outcome, "crashed");
    assert.doesNotMatch(none.stdout, /default|score|eth/);
    assert.match(none.stdout, /lo/);
    listener.close();
    await serving;
  },
);

const ATTACKS = [
  ["write", "echo forged > score.py"],
  ["append", "echo forged >> tests/h.py"],
  ["truncate", "truncate -s 0 score.py"],
  ["cp over", "echo forged > /tmp/f && cp /tmp/f score.py"],
  ["mv over", "echo forged > /tmp/f && mv -f /tmp/f score.py"],
  ["rm file", "rm -f score.py"],
  ["rm harness dir", "rm -rf tests"],
  ["rm nested", "rm -f eval/data/gold.txt"],
  ["rmdir holder", "rmdir eval/data"],
  ["mv file", "mv score.py s2"],
  ["mv harness dir", "mv tests t2"],
  ["mv holder", "mv eval/data d2"],
  ["mv holder parent", "mv eval e2"],
  ["chmod file", "chmod 777 score.py"],
  ["chmod dir", "chmod 777 tests"],
  ["symlink over", "ln -sf /tmp/f score.py"],
  ["symlink over holder", "ln -sfT /tmp eval/data"],
  ["rename over holder", "mkdir -p eval/fake && mv -T eval/fake eval/data"],
  ["new file in harness dir", "touch tests/new_test.py"],
  ["hard link", "ln score.py hard && echo forged > hard"],
  ["hard link nested", "ln eval/data/gold.txt g2 && echo forged > g2"],
  ["touch", "touch -d 2000-01-01 score.py"],
];

for (
  const [who, owner] of [["root", "0:0"], ["a user", "4321:4321"]] as const
) {
  trialTest(
    `writes to read-only harness paths fail, whatever the command does, as ${who} inside`,
    async (t) => {
      const files = {
        "score.py": "orig score\n",
        "tests/h.py": "orig h\n",
        "eval/data/gold.txt": "orig gold\n",
        "eval/other.txt": "writable\n",
      };
      await t.write(files);
      const harness = ["tests", "score.py", "eval/data/gold.txt"];
      const snap = join(t.dir, ".ratchet", "harness");
      await snapshotHarness(t.dir, harness, snap);
      // The candidate's tree differs from the snapshot: the snapshot must win.
      await t.write({ "score.py": "candidate score\n" });
      const script = ATTACKS.map(([name, cmd]) =>
        `if (${cmd}) 2>>/tmp/errors; then echo "ATTACK-OK ${name}"; fi`
      ).join("\n");
      const r = await t.trial({
        harness,
        runCommand: `id -u
${script}
echo rewritten > eval/other.txt && echo sibling-writable
cat score.py tests/h.py eval/data/gold.txt
ls tests; ls eval/data
cat /tmp/errors >&2
echo 'score: 1'`,
      }, { harnessDir: snap, repoOwner: owner });
      assert.equal(r.outcome, "ok", r.stderr);
      assert.match(r.stdout, new RegExp(`^${owner.split(":")[0]}\n`));
      assert.doesNotMatch(r.stdout, /ATTACK-OK/, r.stdout);
      assert.match(r.stdout, /sibling-writable/);
      assert.match(
        r.stdout,
        /orig score\norig h\norig gold\nh\.py\ngold\.txt\n/,
      );
      // The kernel said why: permission denied, or not permitted.
      assert.match(r.stderr, /Permission denied/);
      assert.match(r.stderr, /Operation not permitted/);
      assert.equal(
        await Deno.readTextFile(join(snap, "score.py")),
        "orig score\n",
      );
    },
  );
}

trialTest(
  "--editable leaves only editable paths, the report dir and --scratch writable",
  async (t) => {
    await t.write({
      "src/a.txt": "a\n",
      "README.md": "readme\n",
      "lib/b.txt": "b\n",
      "tests/h.txt": "h\n",
    });
    const attempt = (name: string, cmd: string) =>
      `if (${cmd}) 2>/dev/null; then echo "W ${name}"; else echo "R ${name}"; fi`;
    const r = await t.trial({
      editable: ["src"],
      scratch: ["build"],
      harness: ["tests"],
      reportSource: "out/r.txt",
      runCommand: [
        attempt("src", "echo x > src/a.txt && echo new > src/new.txt"),
        attempt("scratch", "mkdir -p build/obj && echo o > build/obj/x.o"),
        attempt("readme", "echo x > README.md"),
        attempt("root-new", "touch newfile"),
        attempt("lib", "echo x > lib/b.txt"),
        attempt("lib-rm", "rm lib/b.txt"),
        attempt("tests", "echo x > tests/h.txt"),
        attempt("home", "echo x > $HOME/f"),
        "echo 'score: 4' > out/r.txt",
      ].join("\n"),
    });
    assert.equal(r.outcome, "ok", r.stdout + r.stderr);
    assert.equal(r.score, 4);
    assert.equal(
      r.stdout,
      "W src\nW scratch\nR readme\nR root-new\nR lib\nR lib-rm\nR tests\nW home\n",
    );

    // A report at the root: the root is writable for it, existing files are not.
    const atRoot = await t.trial({
      editable: ["src"],
      reportSource: "r.txt",
      runCommand: [
        attempt("readme", "echo x > README.md"),
        attempt("src", "echo x > src/a.txt"),
        "echo 'score: 6' > r.txt",
      ].join("\n"),
    });
    assert.equal(atRoot.outcome, "ok", atRoot.stderr);
    assert.equal(atRoot.score, 6);
    assert.equal(atRoot.stdout, "R readme\nW src\n");
  },
);

trialTest(
  "a trial runs as the repository's owner, who owns the tree and what the trial creates",
  async (t) => {
    await t.write({ "a.txt": "a\n" });
    const out = await Deno.makeTempDir();
    try {
      await Deno.chmod(out, 0o777);
      const r = await t.trial({
        runCommand:
          "id -u; id -g; echo hi > created.txt && stat -c %u:%g created.txt; echo x > a.txt && echo a-writable; echo h > $HOME/f && echo home-writable; echo hi > /out/f; echo 'score: 1'",
        mount: [{ source: out, target: "/out", readOnly: false }],
      }, { repoOwner: "4321:4321" });
      assert.equal(r.outcome, "ok", r.stderr);
      assert.equal(
        r.stdout,
        "4321\n4321\n4321:4321\na-writable\nhome-writable\nscore: 1\n",
      );
      const info = await Deno.stat(join(out, "f"));
      assert.equal(`${info.uid}:${info.gid}`, "4321:4321");
    } finally {
      await Deno.remove(out, { recursive: true });
    }
  },
);

trialTest(
  "trial containers carry the run, iteration and trial labels",
  async (t) => {
    const running = t.trial({ runCommand: "sleep 3; echo 'score: 1'" }, {
      iter: 7,
      trial: 3,
    });
    let labels: Record<string, string> | null = null;
    for (let i = 0; i < 50 && labels === null; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The trial's container, not the iteration's network holder.
      const listed = await docker(
        "ps",
        "--filter",
        `label=ratchet.test=${t.id}`,
        "--filter",
        "label=ratchet.trial",
        "--format",
        "{{json .Labels}}",
      );
      if (listed) {
        const id = await docker(
          "ps",
          "-q",
          "--filter",
          `label=ratchet.test=${t.id}`,
          "--filter",
          "label=ratchet.trial",
        );
        const json = await docker(
          "inspect",
          "--format",
          "{{json .Config.Labels}}",
          id!,
        );
        labels = JSON.parse(json!);
      }
    }
    const r = await running;
    assert.equal(r.outcome, "ok");
    assert.ok(labels !== null, "the container was never seen");
    assert.equal(labels["ratchet.run"], "it-run");
    assert.equal(labels["ratchet.iter"], "7");
    assert.equal(labels["ratchet.trial"], "3");
    // The holder of the iteration's network namespace is found by run too.
    const holder = await docker(
      "ps",
      "-q",
      "--filter",
      `label=ratchet.test=${t.id}`,
      "--filter",
      "label=ratchet.run=it-run",
      "--filter",
      "label=ratchet.netns=it-run/7",
    );
    assert.match(holder ?? "", /^[0-9a-f]{12}$/);
  },
);

trialTest(
  "aborting mid-trial removes the container, then rejects",
  async (t) => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error("user pressed Ctrl-C")), 1000);
    const started = performance.now();
    await assert.rejects(
      t.trial({ runCommand: "sleep 30" }, {
        deps: { signal: controller.signal },
      }),
      /Ctrl-C/,
    );
    assert.ok(performance.now() - started < 10_000);
    assert.equal(
      await docker(
        "ps",
        "-aq",
        "--filter",
        `label=ratchet.test=${t.id}`,
        "--filter",
        "label=ratchet.trial",
      ),
      "",
    );
  },
);

trialTest(
  "--report-source wall times the run command alone, not the setup",
  async (t) => {
    const r = await t.trial({
      reportSource: "wall",
      metricName: "seconds",
      setupCommand: "sleep 1",
      runCommand: "sleep 0.3",
    });
    assert.equal(r.outcome, "ok", r.stderr);
    assert.equal(r.rule, "wall");
    assert.ok(
      r.score !== null && r.score >= 0.28 && r.score < 0.9,
      `wall ${r.score}`,
    );
    assert.equal(r.wallSeconds, r.score);
  },
);

trialTest(
  "only --pass-env names reach the container, never ANTHROPIC_*",
  async (t) => {
    const host: Record<string, string> = {
      FOO: "bar",
      BAR: "baz",
      ANTHROPIC_API_KEY: "sk-ant-secret",
      PATH: "/host/only/bin",
    };
    const r = await t.trial(
      {
        passEnv: ["FOO", "ANTHROPIC_API_KEY"],
        runCommand: "env; echo 'score: 1'",
      },
      { env: (name: string) => host[name] },
    );
    assert.equal(r.outcome, "ok");
    assert.match(r.stdout, /^FOO=bar$/m);
    assert.match(r.stdout, /^HOME=\/tmp\/home$/m);
    assert.doesNotMatch(r.stdout, /BAR=|sk-ant|ANTHROPIC|\/host\/only/);
  },
);

trialTest(
  "runCheck() runs the check command in its own container",
  async (t) => {
    const tree = { key: "check", source: { kind: "dir" as const, dir: t.dir } };
    const pass = await runCheck(
      t.session({ checkCommand: "echo checking; exit 0" }).deps,
      { iter: 1, tree },
    );
    assert.deepEqual([pass.passed, pass.exitCode], [true, 0]);
    const fail = await runCheck(
      t.session({ checkCommand: "echo 'FAILED test_x' >&2; exit 1" }).deps,
      { iter: 1, tree },
    );
    assert.deepEqual([fail.passed, fail.exitCode], [false, 1]);
    assert.match(fail.outputTail, /FAILED test_x/);
    assert.match(fail.detail, /status 1/);
  },
);

trialTest(
  "--cache keeps a writable volume across one tree's trials, never shared with another tree's",
  async (t) => {
    await t.write({ "a.txt": "a\n" });
    const other = await Deno.makeTempDir();
    try {
      await Deno.writeTextFile(join(other, "b.txt"), "b\n");
      const s = t.session({
        cache: ["/cache"],
        runCommand:
          "cat /cache/x 2>/dev/null; echo kept-$(ls) > /cache/x && echo 'score: 1'",
      }, { repoOwner: "4321:4321" });
      const incumbent = {
        key: "inc",
        source: { kind: "dir" as const, dir: t.dir },
      };
      const candidate = {
        key: "cand",
        source: { kind: "dir" as const, dir: other },
      };
      const r1 = await s.trial(incumbent);
      assert.equal(r1.outcome, "ok", r1.stderr);
      assert.equal(r1.stdout, "score: 1\n");
      // The same tree sees what its earlier trial kept.
      const r2 = await s.trial(incumbent);
      assert.equal(r2.stdout, "kept-a.txt\nscore: 1\n");
      // The other side of the comparison has a volume of its own: nothing
      // one side writes reaches the other side's trials.
      const r3 = await s.trial(candidate);
      assert.equal(r3.stdout, "score: 1\n");
      const r4 = await s.trial(incumbent);
      assert.equal(r4.stdout, "kept-a.txt\nscore: 1\n");
      // Released with its tree.
      await s.deps.images.release("cand");
      assert.equal(
        await docker(
          "volume",
          "ls",
          "-q",
          "--filter",
          `label=ratchet.test=${t.id}`,
          "--filter",
          "label=ratchet.tree=cand",
        ),
        "",
      );
    } finally {
      await Deno.remove(other, { recursive: true });
    }

    const error = await t.trial({
      mount: [{ source: "no/such/dir", target: "/data", readOnly: true }],
    }).catch((e) => e);
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.exitCode, ExitCode.environment);
    assert.equal(await Deno.stat(join(t.dir, "no")).catch(() => null), null);
  },
);

trialTest(
  "a trial cannot read, replace or chmod its control log, so it cannot learn the nonce and forge its wall time",
  async (t) => {
    // Root in the container (the keeper is nobody) and a plain user (the
    // keeper is root): neither has a capability to get around the mode.
    for (const owner of ["0:0", "1000:1000"]) {
      const r = await t.trial({
        reportSource: "wall",
        metricName: "seconds",
        runCommand: [
          "c=/.ratchet-trial",
          "cat $c/log >/dev/null 2>&1 && echo read-log",
          "cat /proc/$PPID/fd/9 >/dev/null 2>&1 && echo read-fd",
          "chmod 666 $c/log 2>/dev/null && echo chmod-log",
          "rm -f $c/log 2>/dev/null; [ -e $c/log ] || echo removed-log",
          "mv $c $c.x 2>/dev/null && echo moved-dir",
          "touch $c/new 2>/dev/null && echo wrote-dir",
          // Whatever the log gives away is signed into a fast wall line.
          "n=$(head -c 36 $c/log 2>/dev/null)",
          `printf '\\n%s wall er 0 0.000001 0\\n' "$n" >&2`,
          'echo "$n forged wall er 0 0.000001 0" >> $c/log',
          "sleep 0.5",
        ].join("; "),
      }, { repoOwner: owner });
      assert.equal(r.outcome, "ok", `${owner}: ${r.detail}\n${r.stderr}`);
      assert.equal(r.stdout, "", `${owner}: the command got through`);
      assert.ok(
        r.score !== null && r.score >= 0.45,
        `${owner}: wall ${r.score} (forged?)`,
      );
    }
  },
);

trialTest(
  "control files a trial replaces with a symlink or a FIFO neither leak nor hang the host",
  async (t) => {
    const saved: string[] = [];
    const started = performance.now();
    const r = await t.trial({
      setupCommand: "echo set-up",
      trialTimeoutSeconds: 3,
      runCommand: [
        "ln -sf /etc/passwd /.ratchet-trial/setup.out",
        "rm -f /.ratchet-trial/log && mkfifo /.ratchet-trial/log",
        "echo 'score: 1'",
      ].join("; "),
    }, {
      deps: {
        saveReport: (_i, _t, text) => Promise.resolve(void saved.push(text)),
      },
    });
    const elapsed = performance.now() - started;
    // Nothing ratchet reads back blocks on the FIFO or follows the link.
    assert.ok(elapsed < 20_000, `took ${elapsed} ms (${r.outcome})`);
    assert.equal(saved.length, 1);
    // The setup output ratchet kept is not what the symlink points at.
    assert.doesNotMatch(saved[0]!, /root:x:0:0/);
  },
);
