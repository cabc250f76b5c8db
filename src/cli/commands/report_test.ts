import { testContext } from "../../../tests/_helpers/context.ts";
import assert from "node:assert/strict";
import { join } from "node:path";
import { reportCommand } from "./report.ts";
import { engineVersionLine } from "../../app/report.ts";
import { UsageError } from "../../errors.ts";
import { tempRepo } from "../../../tests/_helpers/git_repo.ts";
import { installFixture } from "../../../tests/fixtures/records/generate.ts";

const context = testContext;

const ENGINE = {
  engine: () => Promise.resolve("27.3.1 at unix:///run/d.sock"),
};

Deno.test("reportCommand() writes .ratchet/report.html and prints its path", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  const ctx = context(repo.dir);
  assert.equal(await reportCommand({ out: null }, ctx, ENGINE), 0);
  const path = join(repo.dir, ".ratchet", "report.html");
  assert.deepEqual(ctx.output.stdout, [path]);
  const html = await Deno.readTextFile(path);
  assert.match(html, /^<!doctype html>/);
  assert.match(html, /generated 2026-03-02T12:00:00\.000Z/);
  assert.match(
    html,
    /<dt>docker engine<\/dt><dd>27\.3\.1 at unix:\/\/\/run\/d\.sock/,
  );
  assert.match(html, /<dt>deno<\/dt><dd>\d+\.\d+\.\d+<\/dd>/);
  // The three kept changes' patches from .ratchet/diffs/.
  assert.match(html, /<span class="add">\+@cache<\/span>/);
  assert.match(html, /once&lt;\/b&gt; &amp; for all/);
  assert.match(html, /out\.write\(&#39;&#39;\.join\(lines\)\)/);
  // Written by rename: nothing else is left beside it.
  const names: string[] = [];
  for await (const e of Deno.readDir(join(repo.dir, ".ratchet"))) {
    names.push(e.name);
  }
  assert.deepEqual(names.sort(), [
    "config.json",
    "diffs",
    "report.html",
    "results.jsonl",
  ]);
});

Deno.test("reportCommand() --out is relative to the repo root (absolute is absolute) and replaces an old report", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  await Deno.mkdir(join(repo.dir, "docs"));
  await Deno.writeTextFile(join(repo.dir, "docs", "run.html"), "old");
  await Deno.remove(join(repo.dir, ".ratchet", "diffs", "iter-0008.patch"));
  // From a subdirectory, as every path flag but --config and
  // --instructions-file (spec section 3).
  const ctx = context(join(repo.dir, "docs"));
  assert.equal(await reportCommand({ out: "docs/run.html" }, ctx, ENGINE), 0);
  const path = join(repo.dir, "docs", "run.html");
  assert.deepEqual(ctx.output.stdout, [path]);
  const html = await Deno.readTextFile(path);
  assert.match(html, /<h3>iter 8:[^]*?no diff found/);
  await assert.rejects(Deno.stat(join(repo.dir, ".ratchet", "report.html")));
  await assert.rejects(Deno.stat(join(repo.dir, "docs", "docs")));
  await using elsewhere = await tempRepo();
  const absolute = join(elsewhere.dir, "abs.html");
  const again = context(join(repo.dir, "docs"));
  assert.equal(await reportCommand({ out: absolute }, again, ENGINE), 0);
  assert.deepEqual(again.output.stdout, [absolute]);
  assert.match(await Deno.readTextFile(absolute), /^<!doctype html>/);
});

Deno.test("reportCommand() refuses an --out it cannot write with exit 2", async () => {
  await using repo = await tempRepo();
  await installFixture("mixed", repo.dir);
  for (const out of ["missing/r.html", "."]) {
    await assert.rejects(
      reportCommand({ out }, context(repo.dir), ENGINE),
      (error) => {
        assert.ok(error instanceof UsageError, String(error));
        assert.equal(error.exitCode, 2);
        assert.ok(error.hint);
        return true;
      },
    );
  }
});

Deno.test("reportCommand() exits 3 when there is no run", async () => {
  await using repo = await tempRepo();
  await assert.rejects(
    reportCommand({ out: null }, context(repo.dir), ENGINE),
    (error) => {
      assert.equal((error as { exitCode?: number }).exitCode, 3);
      return true;
    },
  );
});

Deno.test("engineVersionLine() is null when there is no engine at DOCKER_HOST", async () => {
  await using repo = await tempRepo();
  const line = await engineVersionLine(
    context(repo.dir, {
      DOCKER_HOST: `unix://${join(repo.dir, "no-such.sock")}`,
      HOME: repo.dir,
    }),
  );
  assert.equal(line, null);
});

Deno.test("engineVersionLine() stops waiting for an engine that accepts but never answers", async () => {
  await using repo = await tempRepo();
  const path = join(repo.dir, "silent.sock");
  const listener = Deno.listen({ transport: "unix", path });
  const accepted: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) accepted.push(conn);
  })();
  let guard: ReturnType<typeof setTimeout> | undefined;
  try {
    const line = await Promise.race([
      engineVersionLine(
        context(repo.dir, { DOCKER_HOST: `unix://${path}`, HOME: repo.dir }),
        { waitMs: 50 },
      ),
      // 200 times the wait, so a loaded machine passes; well under the 15 s
      // the runtime's own info() waits, so an engineVersionLine() that relied on
      // that instead of its own wait fails.
      new Promise<never>((_, reject) => {
        guard = setTimeout(
          () => reject(new Error("engineVersionLine() did not give up")),
          10_000,
        );
      }),
    ]);
    assert.equal(line, null);
  } finally {
    clearTimeout(guard);
    listener.close();
    for (const conn of accepted) conn.close();
    await accepting;
  }
});
