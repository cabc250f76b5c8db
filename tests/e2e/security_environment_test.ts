/**
 * Bad input that needs a live Docker engine to be told apart: a missing
 * image, a baseline that never prints the metric, and a live lock (a lock
 * file naming a live PID, and a real `ratchet run` still going). Each gives
 * a specific message, the exit code of spec section 9, and writes nothing it
 * does not have to. The Docker-free cases are in
 * tests/security_bad_input_test.ts.
 *
 * Results go to tests/artifacts/security.json (group "environment").
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import { startFakeAnthropic } from "../_helpers/fake_anthropic.ts";
import {
  exists,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  runArgs,
  scoringRepo,
  slowTurn,
  spawnRatchet,
  submit,
  waitFor,
} from "./_support.ts";
import { GroupRecorder, listTree } from "./security_support.ts";

const MEAN = ["--decision", "mean", "--trials", "1"];

function lines(stderr: string): { error: string; hint: string } {
  return {
    error: /^error: (.*)$/m.exec(stderr)?.[1] ?? "",
    hint: /^hint: (.*)$/m.exec(stderr)?.[1] ?? "",
  };
}

dockerTest(
  "a missing image, a baseline without the metric and a live lock stop with exit 3 or 5, a specific message, and nothing written that is not needed",
  async () => {
    const recorder = new GroupRecorder("environment", {
      title: "Bad input that needs the engine",
      about:
        "Real CLI, real Docker (busybox). Each case starts from a clean scoring repository (or one with a run going) and checks the exit code, the message and hint, and what is left on disk and in git.",
      test: "tests/e2e/security_environment_test.ts",
    });
    try {
      // 1. --image that is not there (and cannot be pulled: no registry here).
      {
        await using repo = await scoringRepo();
        const r = await ratchet(
          [...runArgs(2, ...MEAN), "--image", "nosuch-ratchet-test:latest"],
          repo.dir,
          null,
        );
        const { error, hint } = lines(r.stderr);
        const nothing = !(await exists(join(repo.dir, ".ratchet"))) &&
          (await repo.git("branch", "--list", "ratchet/*")) === "" &&
          !(await Deno.readTextFile(join(repo.dir, ".git/info/exclude")))
            .includes(".ratchet");
        recorder.add({
          id: "image-missing",
          attack: "--image nosuch-ratchet-test:latest",
          vector: "cli",
          layer:
            "preflight: the image is looked up (and pulled) before anything is written",
          // What the engine said about the pull depends on its network
          // (no registry here, "not found" elsewhere): left out of the page.
          recorded: `exit ${r.code}: ${
            error.replace(
              /could not be pulled: .*/,
              "could not be pulled: (the engine's answer)",
            )
          } — hint: ${hint}`,
          held: r.code === 3 && /nosuch-ratchet-test:latest/.test(error) &&
            /docker (build|pull)|leave out --image/.test(hint) && nothing,
          evidence: nothing
            ? "no .ratchet/, no branch, no exclude entry"
            : "something was written",
        });
      }

      // 2. A baseline that never prints the metric: exit 5 before any API call.
      {
        await using repo = await scoringRepo();
        await using silent = await startFakeAnthropic([]);
        const r = await ratchet(
          runArgs(2, ...MEAN, "--metric-name", "latency"),
          repo.dir,
          silent,
        );
        const { error, hint } = lines(r.stderr);
        const left = await listTree(join(repo.dir, ".ratchet"));
        const files = left.filter((p) => !p.endsWith("/"));
        const branches = await repo.git("branch", "--list", "ratchet/*");
        const worktrees = await repo.git("worktree", "list");
        const held = r.code === 5 && /metric "latency" not found/.test(error) &&
          /iter-0000-trial-01\.txt/.test(hint) &&
          silent.requests.length === 0 &&
          branches === "" && !worktrees.includes(".ratchet") &&
          files.every((f) =>
            f.startsWith("reports/iter-0000-") || f === "tmp/empty-git-file"
          );
        recorder.add({
          id: "baseline-no-metric",
          attack: "--metric-name latency, which the command never prints",
          vector: "cli",
          layer:
            "baseline (iteration 0) before any API call; the unstarted run is removed",
          recorded: `exit ${r.code}: ${error.slice(0, 160)} — hint: ${hint}`,
          held,
          evidence: `left under .ratchet/ (in .git/info/exclude): ${
            files.join(", ")
          }; branches: ${
            branches === "" ? "none" : branches
          }; API requests: ${silent.requests.length}`,
        });
      }

      // 3. A lock file naming a live PID (this test's own).
      {
        await using repo = await scoringRepo();
        await Deno.mkdir(join(repo.dir, ".ratchet"));
        await Deno.writeTextFile(
          join(repo.dir, ".ratchet/lock"),
          `${Deno.pid}\n`,
        );
        const r = await ratchet(runArgs(2, ...MEAN), repo.dir, null);
        const { error, hint } = lines(r.stderr);
        const left = await listTree(join(repo.dir, ".ratchet"));
        const lockKept =
          (await Deno.readTextFile(join(repo.dir, ".ratchet/lock")))
            .trim() === String(Deno.pid);
        const held = r.code === 3 &&
          new RegExp(`holds the lock .*PID ${Deno.pid} is alive`).test(error) &&
          /Wait for it to finish/.test(hint) && lockKept &&
          (await repo.git("branch", "--list", "ratchet/*")) === "" &&
          !left.some((p) => p === "config.json" || p.startsWith("worktree"));
        recorder.add({
          id: "lock-live-pid",
          attack: "a lock file naming a live PID (the test's own)",
          vector: "cli",
          layer: "run lock",
          recorded: `exit ${r.code}: ${error} — hint: ${hint}`,
          held,
          evidence: `lock untouched; .ratchet/ holds ${left.join(", ")}`,
        });
      }

      // 4. A real run going (its model call stalls), then run, resume again.
      {
        await using repo = await scoringRepo();
        await using server = await startFakeAnthropic([
          slowTurn(60_000, submit("Slow.", "slow")),
        ]);
        const first = spawnRatchet(runArgs(1, ...MEAN), repo.dir, server);
        try {
          await waitFor(
            "the first run's baseline",
            async () =>
              (await readRecords(repo.dir).catch(() => [])).length === 1 &&
              server.requests.length === 1,
            60_000,
          );
          const run = await readRun(repo.dir);
          const branchesBefore = await repo.git(
            "branch",
            "--list",
            "ratchet/*",
          );
          const second = await ratchet(runArgs(1, ...MEAN), repo.dir, server);
          const resume = await ratchet(["resume"], repo.dir, server);
          const after = await readRun(repo.dir);
          const branchesAfter = await repo.git("branch", "--list", "ratchet/*");
          const archived = await exists(join(repo.dir, ".ratchet/runs"));
          for (
            const [id, r, what] of [
              [
                "lock-running-run",
                second,
                "`ratchet run` while another run is going",
              ],
              [
                "lock-running-resume",
                resume,
                "`ratchet resume` while the run is going",
              ],
            ] as const
          ) {
            const { error, hint } = lines(r.stderr);
            recorder.add({
              id,
              attack: what,
              vector: "cli",
              layer: "run lock (PID of the live run)",
              recorded: `exit ${r.code}: ${error} — hint: ${hint}`,
              held: r.code === 3 && /holds the lock/.test(error) &&
                after.run_id === run.run_id && after.state === "running" &&
                branchesAfter === branchesBefore && !archived,
              evidence: `config.json afterwards: ${
                after.run_id === run.run_id ? "the live run's" : "another run's"
              }, state ${after.state}; ratchet/* branches ${
                branchesAfter === branchesBefore ? "unchanged" : "changed"
              }; .ratchet/runs/ ${archived ? "created" : "absent"}`,
            });
          }
        } finally {
          first.kill("SIGINT");
          const end = await first.done;
          assert.equal(end.code, 130, end.stderr);
          await removeRunContainers(repo.dir);
        }
      }
      assert.equal(recorder.failures(), "");
    } finally {
      await recorder.write();
    }
  },
);
