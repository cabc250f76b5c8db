/**
 * The bundled example as the README's quick start uses it: `ratchet measure`
 * on examples/primes (copied into a fresh repository by tools/example.ts)
 * builds the default trial image from the embedded Dockerfile and prints the
 * example's metric. No API key is needed.
 */
import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { dockerTest } from "../_helpers/docker.ts";
import { tempDir } from "../_helpers/git_repo.ts";

const EXAMPLE = fileURLToPath(
  new URL("../../tools/example.ts", import.meta.url),
);

dockerTest(
  "deno task example:measure builds the default image and measures the example",
  async () => {
    await using dir = await tempDir("ratchet-example-test-");
    const repo = `${dir.dir}/primes`;
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", EXAMPLE, "measure", "--trials", "2", "--json"],
      env: { RATCHET_EXAMPLE_DIR: repo, NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const stdout = new TextDecoder().decode(out.stdout);
    const stderr = new TextDecoder().decode(out.stderr);
    assert.equal(out.code, 0, stderr);
    const result = JSON.parse(stdout.trim().split("\n").at(-1)!);
    assert.equal(result.n, 2);
    assert.equal(result.n_ok, 2, stderr);
    assert.equal(result.rule, "line");
    assert.ok(result.mean > 0 && result.mean < 60, `seconds: ${result.mean}`);
    // The example is a real repository with the harness committed.
    const log = await new Deno.Command("git", {
      args: ["log", "--oneline"],
      cwd: repo,
    })
      .output();
    assert.match(new TextDecoder().decode(log.stdout), /naive prime counter/);
  },
);
