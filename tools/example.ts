/**
 * `deno task example` / `deno task example:measure`: copy the bundled example
 * (examples/primes) into a fresh git repository under the temp directory and
 * run ratchet there, so the example works from a clean clone in one command.
 *
 * Usage: deno run -A tools/example.ts <run|measure|…> [ratchet flags]
 */
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "examples", "primes");
const [command = "run", ...rest] = Deno.args;

const dir = Deno.env.get("RATCHET_EXAMPLE_DIR") ??
  await Deno.makeTempDir({ prefix: "ratchet-example-" });
await Deno.mkdir(dir, { recursive: true });
for await (const entry of Deno.readDir(source)) {
  if (entry.isFile) {
    await Deno.copyFile(join(source, entry.name), join(dir, entry.name));
  }
}

async function git(...args: string[]) {
  const out = await new Deno.Command("git", {
    args: ["-c", "commit.gpgsign=false", ...args],
    cwd: dir,
    stdin: "null",
    env: {
      GIT_AUTHOR_NAME: "ratchet example",
      GIT_AUTHOR_EMAIL: "example@localhost",
      GIT_COMMITTER_NAME: "ratchet example",
      GIT_COMMITTER_EMAIL: "example@localhost",
    },
  }).output();
  if (!out.success) {
    throw new Error(
      `git ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`,
    );
  }
}

const isRepo = await Deno.stat(join(dir, ".git")).then(() => true, () => false);
if (!isRepo) {
  await git("init", "-q", "-b", "main");
  await git("add", "-A");
  await git("commit", "-q", "-m", "example: naive prime counter");
}
const log = (s: string) =>
  Deno.stderr.writeSync(new TextEncoder().encode(s + "\n"));
log(`example repository: ${dir}`);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", join(root, "main.ts"), command, ...rest],
  cwd: dir,
  stdin: "inherit",
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const status = await child.status;
log(`example repository: ${dir}`);
Deno.exit(status.code);
