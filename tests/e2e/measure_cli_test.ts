/**
 * `measure` and `calibrate` through the real CLI and Docker (issue 16):
 * any trial count the spec allows (the run-only max-trials rule is not
 * theirs), the help's own `ratchet calibrate --trials 20 --write` after
 * `ratchet init`, `--write` into an absolute `--config`, an absolute
 * `--dockerfile`, and each trial shown once on a terminal while a pipe
 * still gets the complete result.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { parse } from "jsonc-parser";
import { runCli, runCliInTerminal } from "../_helpers/cli.ts";
import { dockerApi, dockerTest } from "../_helpers/docker.ts";
import { tempDir, tempRepo } from "../_helpers/git_repo.ts";

const MEASURE = [
  "--run-command",
  "sh score.sh",
  "--metric-name",
  "score",
  "--report-source",
  "stdout",
  "--image",
  "busybox:latest",
];

const FILES = {
  "value.txt": "10\n",
  "score.sh": 'echo "score: $(cat value.txt)"\n',
};

dockerTest(
  "measure --trials 20 and calibrate --trials 11 run every trial they are asked for",
  async () => {
    await using repo = await tempRepo(FILES);
    const m = await runCli(
      ["measure", ...MEASURE, "--trials", "20", "--json"],
      {
        cwd: repo.dir,
      },
    );
    assert.equal(m.code, 0, m.stderr);
    const result = JSON.parse(m.stdout);
    assert.equal(result.n, 20);
    assert.equal(result.n_ok, 20);
    assert.equal(result.mean, 10);
    const c = await runCli(
      ["calibrate", ...MEASURE, "--trials", "11", "--json"],
      { cwd: repo.dir },
    );
    assert.equal(c.code, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).measure.n, 11);
  },
);

dockerTest(
  "the help's `ratchet calibrate --trials 20 --write` works after `ratchet init`; --write with an absolute --config writes that file",
  async () => {
    await using repo = await tempRepo({
      "bench.sh": '#!/bin/sh\necho "score: 42"\n',
    });
    await Deno.chmod(join(repo.dir, "bench.sh"), 0o755);
    await repo.commit("executable bench");
    const init = await runCli(["init"], { cwd: repo.dir });
    assert.equal(init.code, 0, init.stderr);
    const help = await runCli(["calibrate", "--help"], { cwd: repo.dir });
    assert.match(help.stdout, /ratchet calibrate --trials 20 --write/);
    // The image is a flag: a repository's file may not choose it.
    const c = await runCli(
      ["calibrate", "--trials", "20", "--write", "--image", "busybox:latest"],
      { cwd: repo.dir },
    );
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout, /Calibration over 20 runs/);
    const text = await Deno.readTextFile(join(repo.dir, "ratchet.jsonc"));
    assert.match(text, /\/\/ Guessed by `ratchet init`/, "comments are kept");
    const written = parse(text) as Record<string, number>;
    assert.equal(written.trials, 1, "a deterministic metric: one trial");
    // Still a valid file for `ratchet run` (max-trials ≥ the start of 3).
    assert.ok(written["max-trials"]! >= 3, text);

    // --config relative to the current directory or absolute; --write goes
    // to that file, not to a path joined onto the current directory.
    await using elsewhere = await tempDir();
    const config = join(elsewhere.dir, "bench.jsonc");
    await Deno.writeTextFile(
      config,
      '{\n  // mine\n  "run-command": "./bench.sh",\n  "metric-name": "score",\n  "report-source": "stdout"\n}\n',
    );
    await Deno.mkdir(join(repo.dir, "sub"));
    const before = await Deno.readTextFile(join(repo.dir, "ratchet.jsonc"));
    const abs = await runCli(
      [
        "calibrate",
        "--trials",
        "5",
        "--write",
        "--config",
        config,
        "--image",
        "busybox:latest",
      ],
      { cwd: join(repo.dir, "sub") },
    );
    assert.equal(abs.code, 0, abs.stderr);
    assert.match(abs.stderr, new RegExp(`into ${config}`));
    const mine = await Deno.readTextFile(config);
    assert.match(mine, /\/\/ mine/);
    assert.equal((parse(mine) as Record<string, number>).trials, 1);
    assert.equal(
      await Deno.readTextFile(join(repo.dir, "ratchet.jsonc")),
      before,
    );
  },
);

dockerTest(
  "an absolute --dockerfile outside the repository is built as it is",
  async () => {
    await using repo = await tempRepo(FILES);
    await using outside = await tempDir();
    const marker = crypto.randomUUID();
    const dockerfile = join(outside.dir, "Dockerfile");
    await Deno.writeTextFile(
      dockerfile,
      `FROM busybox:latest\nLABEL ratchet.test=${marker}\n`,
    );
    const flags = MEASURE.filter((f) =>
      f !== "--image" && f !== "busybox:latest"
    );
    const r = await runCli(
      [
        "measure",
        ...flags,
        "--trials",
        "1",
        "--dockerfile",
        dockerfile,
        "--json",
      ],
      { cwd: repo.dir },
    );
    try {
      assert.equal(r.code, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).n_ok, 1);
    } finally {
      const filters = encodeURIComponent(
        JSON.stringify({ label: [`ratchet.test=${marker}`] }),
      );
      const images = await dockerApi(
        "GET",
        `/images/json?filters=${filters}`,
      ) as {
        Id: string;
      }[];
      for (const image of images ?? []) {
        await dockerApi("DELETE", `/images/${image.Id}?force=1`).catch(
          () => {},
        );
      }
    }
  },
);

dockerTest(
  "measure on a terminal shows each trial once; through a pipe the result still lists every trial",
  async () => {
    await using repo = await tempRepo(FILES);
    const args = ["measure", ...MEASURE, "--trials", "3"];
    const shown = await runCliInTerminal(args, { cwd: repo.dir });
    assert.equal(shown.code, 0, shown.terminal);
    for (const k of [1, 2, 3]) {
      const lines = shown.terminal.split("\n").filter((l) =>
        l.includes(`trial ${k}/3`)
      );
      assert.equal(lines.length, 1, `trial ${k}/3 shown ${lines.length} times`);
    }
    assert.match(shown.terminal, /3 of 3 ok/);
    // A pipe gets the complete result on stdout (and the progress on stderr).
    const piped = await runCli(args, { cwd: repo.dir });
    assert.equal(piped.code, 0, piped.stderr);
    for (const k of [1, 2, 3]) {
      assert.match(piped.stdout, new RegExp(`trial ${k}/3`));
      assert.match(piped.stderr, new RegExp(`trial ${k}/3`));
    }
    assert.match(piped.stdout, /3 of 3 ok/);
  },
);
