/**
 * The shipped single file: bundled, copied alone into an empty directory and
 * run there, it answers --help and --version.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { VERSION } from "../src/version.ts";

async function run(cwd: string, args: string[]) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1" },
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test({
  name: "bundle: the single file runs alone in an empty directory",
  async fn() {
    const build = await Deno.makeTempDir({ prefix: "ratchet-bundle-" });
    const empty = await Deno.makeTempDir({ prefix: "ratchet-alone-" });
    try {
      const bundled = join(build, "ratchet.cjs");
      const b = await run(Deno.cwd(), [
        "run",
        "-A",
        "tools/bundle.ts",
        bundled,
      ]);
      assert.equal(b.code, 0, b.stderr);
      await Deno.copyFile(bundled, join(empty, "ratchet.cjs"));
      const version = await run(empty, [
        "run",
        "-A",
        "--no-config",
        "ratchet.cjs",
        "--version",
      ]);
      assert.equal(version.code, 0, version.stderr);
      assert.equal(version.stdout.trim(), `ratchet ${VERSION}`);
      const help = await run(empty, [
        "run",
        "-A",
        "--no-config",
        "ratchet.cjs",
        "--help",
      ]);
      assert.equal(help.code, 0, help.stderr);
      assert.match(help.stdout, /Usage: ratchet <command>/);
      const entries = [...Deno.readDirSync(empty)].map((e) => e.name);
      assert.deepEqual(entries, ["ratchet.cjs"]);
    } finally {
      await Deno.remove(build, { recursive: true });
      await Deno.remove(empty, { recursive: true });
    }
  },
});
