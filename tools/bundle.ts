/**
 * `deno task bundle`: the single-file form of ratchet, dist/ratchet.js, which
 * runs with `deno run -A dist/ratchet.js` and needs nothing beside it (the
 * prompts and the default Dockerfile are text imports, so they are inside).
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = Deno.args[0] ?? join(root, "dist", "ratchet.js");
const result = await new Deno.Command(Deno.execPath(), {
  args: [
    "bundle",
    "--quiet",
    "--platform",
    "deno",
    "-o",
    out,
    join(root, "main.ts"),
  ],
  stdout: "inherit",
  stderr: "inherit",
}).output();
if (!result.success) Deno.exit(result.code);
Deno.stdout.writeSync(new TextEncoder().encode(`wrote ${out}\n`));
