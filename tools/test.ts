/**
 * The test command (`deno task test`): runs each suite, prints how long it
 * took, and ends with one `N passed, N failed` line built from Deno's JUnit
 * reports (Deno's own summary is not a line CI recognizes).
 *
 * Suites: unit (src/ and tests/*_test.ts, in parallel), integration and e2e
 * (one file at a time: they share one Docker daemon). Under CI=true any
 * ignored test fails the run, because Docker and git tests must never skip
 * there.
 *
 * Usage: deno task test [unit|integration|e2e ...] [-- extra deno test args]
 */
import { join } from "node:path";

interface Suite {
  name: string;
  paths: string[];
  parallel: boolean;
}

interface Counts {
  passed: number;
  failed: number;
  ignored: number;
  failures: string[];
}

async function listTests(dir: string, recursive: boolean): Promise<string[]> {
  const out: string[] = [];
  try {
    for await (const entry of Deno.readDir(dir)) {
      const path = join(dir, entry.name);
      if (entry.isDirectory && recursive && !entry.name.startsWith("_")) {
        out.push(...await listTests(path, true));
      } else if (entry.isFile && /_test\.ts$/.test(entry.name)) {
        out.push(path);
      }
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
  return out.sort();
}

function decode(text: string): string {
  return text.replaceAll("&quot;", '"').replaceAll("&apos;", "'")
    .replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&amp;", "&");
}

/** Count top-level tests in a JUnit report; steps ("parent > step") are folded into their test. */
export function countJunit(xml: string): Counts {
  const counts: Counts = { passed: 0, failed: 0, ignored: 0, failures: [] };
  const suiteRe =
    /<testsuite\b[^>]*name="([^"]*)"[^>]*>([\s\S]*?)<\/testsuite>/g;
  for (const suite of xml.matchAll(suiteRe)) {
    const tops: string[] = [];
    const caseRe =
      /<testcase\b[^>]*name="([^"]*)"[^>]*?(\/>|>([\s\S]*?)<\/testcase>)/g;
    for (const c of suite[2]!.matchAll(caseRe)) {
      const name = decode(c[1]!);
      if (tops.some((t) => name.startsWith(`${t} > `))) continue;
      tops.push(name);
      const body = c[3] ?? "";
      if (/<failure\b/.test(body) || /<error\b/.test(body)) {
        counts.failed++;
        counts.failures.push(`${decode(suite[1]!)}: ${name}`);
      } else if (/<skipped\b/.test(body)) counts.ignored++;
      else counts.passed++;
    }
  }
  return counts;
}

async function runSuite(suite: Suite, extra: string[]): Promise<Counts> {
  const junit = await Deno.makeTempFile({ suffix: ".xml" });
  const args = [
    "test",
    "-A",
    "--no-prompt",
    `--junit-path=${junit}`,
    ...(suite.parallel ? ["--parallel"] : []),
    ...extra,
    ...suite.paths,
  ];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  const status = await child.status;
  let counts: Counts = { passed: 0, failed: 0, ignored: 0, failures: [] };
  try {
    counts = countJunit(await Deno.readTextFile(junit));
  } catch {
    // No report: the run died before writing one (a module failed to load).
  }
  await Deno.remove(junit).catch(() => {});
  if (!status.success && counts.failed === 0) {
    counts.failed = 1;
    counts.failures.push(
      `${suite.name}: deno test exited with ${status.code} (a module failed to load?)`,
    );
  }
  return counts;
}

async function main(argv: string[]): Promise<number> {
  const dash = argv.indexOf("--");
  const names = dash === -1 ? argv : argv.slice(0, dash);
  const extra = dash === -1 ? [] : argv.slice(dash + 1);
  const suites: Suite[] = [
    {
      name: "unit",
      paths: [
        ...await listTests("src", true),
        ...await listTests("tests", false),
        ...await listTests("bench", false),
      ],
      parallel: true,
    },
    {
      name: "integration",
      paths: await listTests("tests/integration", true),
      parallel: false,
    },
    { name: "e2e", paths: await listTests("tests/e2e", true), parallel: false },
  ];
  const chosen = names.length === 0
    ? suites
    : suites.filter((s) => names.includes(s.name));
  const total: Counts = { passed: 0, failed: 0, ignored: 0, failures: [] };
  const lines: string[] = [];
  for (const suite of chosen) {
    if (suite.paths.length === 0) continue;
    const started = performance.now();
    const c = await runSuite(suite, extra);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    lines.push(
      `suite ${suite.name}: ${c.passed} passed, ${c.failed} failed, ${c.ignored} ignored in ${seconds}s`,
    );
    total.passed += c.passed;
    total.failed += c.failed;
    total.ignored += c.ignored;
    total.failures.push(...c.failures);
  }
  const log = (s: string) =>
    Deno.stdout.writeSync(new TextEncoder().encode(s + "\n"));
  log("");
  for (const line of lines) log(line);
  for (const f of total.failures) log(`FAILED ${f}`);
  const ci = Deno.env.get("CI") === "true";
  if (ci && total.ignored > 0) {
    log(
      `${total.ignored} test(s) were ignored under CI=true; Docker and git tests must run in CI`,
    );
    total.failed += total.ignored;
  }
  log(`${total.passed} passed, ${total.failed} failed`);
  return total.failed === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main(Deno.args));
