/**
 * The test command (`deno task test`): runs each suite, prints how long it
 * took, and ends with one `N passed, N failed` line built from Deno's JUnit
 * reports (Deno's own summary is not a line CI recognizes).
 *
 * Suites: unit (src/, tests/*_test.ts, bench/ and tools/, in parallel), integration and e2e
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

/** What one suite (or the whole run) came to. */
export interface Counts {
  passed: number;
  failed: number;
  ignored: number;
  /** One line per failing test: `file:line test name`, plus its failing steps. */
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

/** The attributes of one XML start tag (`name="x" classname="y"` → a map). */
function attributes(tag: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of tag.matchAll(/([A-Za-z_:][\w:.-]*)="([^"]*)"/g)) {
    out.set(m[1]!, decode(m[2]!));
  }
  return out;
}

interface JunitCase {
  file: string;
  name: string;
  line: string;
  outcome: "passed" | "failed" | "ignored";
  /** First line of the failure message, when failed. */
  message: string;
}

/** Every `<testcase>` of a JUnit report, steps included, in file order. */
function junitCases(xml: string): JunitCase[] {
  const out: JunitCase[] = [];
  const caseRe = /<testcase\b([^>]*?)(\/>|>([\s\S]*?)<\/testcase>)/g;
  for (const c of xml.matchAll(caseRe)) {
    const attrs = attributes(c[1]!);
    const body = c[3] ?? "";
    const failure = /<(?:failure|error)\b([^>]*)/.exec(body);
    out.push({
      // Deno writes the test file as `classname` and the test (or
      // "test > step") as `name`.
      file: attrs.get("classname") ?? "?",
      name: attrs.get("name") ?? "?",
      line: attrs.get("line") ?? "",
      outcome: failure
        ? "failed"
        : /<skipped\b/.test(body)
        ? "ignored"
        : "passed",
      message: failure
        ? (attributes(failure[1]!).get("message") ?? "").split("\n")[0]!
        : "",
    });
  }
  return out;
}

/**
 * Count the top-level tests of a Deno JUnit report. A step (Deno names it
 * "test > step") is folded into its test: it is not counted, and a failing
 * step is listed under its test, which Deno marks failed too.
 */
export function countJunit(xml: string): Counts {
  const counts: Counts = { passed: 0, failed: 0, ignored: 0, failures: [] };
  const cases = junitCases(xml);
  const byFile = Map.groupBy(cases, (c) => c.file);
  for (const [file, list] of byFile) {
    const tops = list.filter((c) =>
      !list.some((t) => t !== c && c.name.startsWith(`${t.name} > `))
    );
    for (const top of tops) {
      counts[top.outcome]++;
      if (top.outcome !== "failed") continue;
      const where = top.line === "" ? file : `${file}:${top.line}`;
      const steps = list.filter((s) =>
        s.outcome === "failed" && s.name.startsWith(`${top.name} > `) &&
        // Only the deepest failing steps: a parent step fails with its child.
        !list.some((d) =>
          d.outcome === "failed" && d.name.startsWith(`${s.name} > `)
        )
      );
      counts.failures.push(
        `${where} ${top.name}${
          steps.length === 0 && top.message ? ` (${top.message})` : ""
        }`,
        ...steps.map((s) =>
          `  step ${s.name.slice(top.name.length + 3)}${
            s.message ? ` (${s.message})` : ""
          }`
        ),
      );
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
        ...await listTests("tools", false),
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
  for (const f of total.failures) log(f.startsWith(" ") ? f : `FAILED ${f}`);
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
