/**
 * `deno task bundle`: the single-file form of ratchet, dist/ratchet.cjs,
 * which runs with `deno run -A dist/ratchet.cjs` and needs nothing beside it
 * (the prompts and the default Dockerfile are text imports, so they are
 * inside).
 *
 * CommonJS because dockerode's SSH dependency (ssh2) uses `__dirname` and
 * optional native modules: in CJS `__dirname` exists, and the native modules
 * stay external, where ssh2's own try/require falls back to pure JS.
 *
 * Usage: deno run -A tools/bundle.ts [OUT.cjs]
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = Deno.args[0] ?? join(root, "dist", "ratchet.cjs");
if (!out.endsWith(".cjs")) {
  Deno.stderr.writeSync(
    new TextEncoder().encode(
      `bundle: the output must end in .cjs (Deno runs it as CommonJS), got ${out}\n`,
    ),
  );
  Deno.exit(2);
}
const result = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "--format",
    "cjs",
    "--external",
    "cpu-features",
    "--external",
    "*.node",
    "-o",
    out,
    join(root, "main.ts"),
  ],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!result.success) Deno.exit(result.code);
Deno.stdout.writeSync(new TextEncoder().encode(`wrote ${out}\n`));
