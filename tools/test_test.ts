/**
 * tools/test.ts counts what Deno's own JUnit report says: the fixture tests
 * below are run by the real `deno test --junit-path`, so a change in Deno's
 * report format shows up here, not as a wrong count in CI.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { countJunit } from "./test.ts";

const TEST_TOOL = fileURLToPath(new URL("./test.ts", import.meta.url));

/** A test file with a pass, a failure, failing and passing steps, and an ignored test. */
const MIXED = `
Deno.test("passes", () => {});
Deno.test("fails <here> & \\"quoted\\"", () => { throw new Error("boom"); });
Deno.test("with steps", async (t) => {
  await t.step("step one", () => {});
  await t.step("step two fails", () => { throw new Error("step boom"); });
  await t.step("nested", async (t) => {
    await t.step("inner fails", () => { throw new Error("inner boom"); });
  });
});
Deno.test("steps all pass", async (t) => {
  await t.step("s1", () => {});
});
Deno.test({ name: "ignored one", ignore: true, fn: () => {} });
`;

const OTHER = `
Deno.test("other passes", () => {});
Deno.test("other fails", () => { throw new Error("other boom"); });
`;

/** A temp directory holding `files`, removed on dispose. */
async function tempTree(
  files: Record<string, string>,
): Promise<{ dir: string } & AsyncDisposable> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-junit-" });
  for (const [path, text] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), text);
  }
  return {
    dir,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

async function deno(
  cwd: string,
  args: string[],
  env: Record<string, string> = {},
) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd,
    env: { NO_COLOR: "1", CI: "false", ...env },
    clearEnv: false,
    stdin: "null",
  }).output();
  const dec = new TextDecoder();
  return {
    code: out.code,
    stdout: dec.decode(out.stdout),
    stderr: dec.decode(out.stderr),
  };
}

Deno.test("countJunit() reads Deno's report: test names, files, lines, steps folded", async () => {
  await using tree = await tempTree({
    "a_test.ts": MIXED,
    "sub/b_test.ts": OTHER,
  });
  const xml = join(tree.dir, "report.xml");
  const run = await deno(tree.dir, [
    "test",
    "--no-config",
    `--junit-path=${xml}`,
    "./a_test.ts",
    "./sub/b_test.ts",
  ]);
  assert.notEqual(run.code, 0, "the fixture has failing tests");
  const counts = countJunit(await Deno.readTextFile(xml));
  // Top-level tests only: 5 in a_test.ts, 2 in b_test.ts; the 5 steps are
  // folded into their tests.
  assert.deepEqual(
    { passed: counts.passed, failed: counts.failed, ignored: counts.ignored },
    { passed: 3, failed: 3, ignored: 1 },
  );
  assert.deepEqual(counts.failures.toSorted(), [
    "  step nested > inner fails (Uncaught Error: inner boom)",
    "  step step two fails (Uncaught Error: step boom)",
    './a_test.ts:3 fails <here> & "quoted" (Uncaught Error: boom)',
    "./a_test.ts:4 with steps",
    "./sub/b_test.ts:3 other fails (Uncaught Error: other boom)",
  ]);
  // A test's failing steps follow it.
  const at = counts.failures.indexOf("./a_test.ts:4 with steps");
  assert.match(counts.failures[at + 1]!, /^ {2}step /);
  assert.match(counts.failures[at + 2]!, /^ {2}step /);
});

Deno.test("countJunit() counts a report with no failures and no steps", () => {
  const xml = `<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="deno test" tests="1" failures="0" errors="0" time="0.001">
    <testsuite name="./x_test.ts" tests="1" disabled="0" errors="0" failures="0">
        <testcase name="x" classname="./x_test.ts" time="0.001" line="1" col="6">
        </testcase>
    </testsuite>
</testsuites>`;
  assert.deepEqual(countJunit(xml), {
    passed: 1,
    failed: 0,
    ignored: 0,
    failures: [],
  });
});

Deno.test("deno task test names each failing test and ends with the real count", async () => {
  await using tree = await tempTree({
    "src/a_test.ts": MIXED,
    "tests/b_test.ts": OTHER,
  });
  // Under CI=true the ignored test counts as a failure too.
  const run = await deno(tree.dir, ["run", "-A", TEST_TOOL, "unit"], {
    CI: "true",
  });
  const lines = run.stdout.trimEnd().split("\n");
  assert.equal(run.code, 1, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /^suite unit: 3 passed, 3 failed, 1 ignored in [\d.]+s$/m,
  );
  assert.equal(lines.at(-1), "3 passed, 4 failed");
  assert.ok(
    lines.includes("FAILED ./src/a_test.ts:4 with steps"),
    run.stdout,
  );
  assert.ok(
    lines.includes("  step step two fails (Uncaught Error: step boom)"),
    run.stdout,
  );
  assert.ok(
    lines.includes(
      "FAILED ./tests/b_test.ts:3 other fails (Uncaught Error: other boom)",
    ),
    run.stdout,
  );
});
