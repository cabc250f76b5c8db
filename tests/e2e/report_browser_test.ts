/**
 * `ratchet report` rendered in headless Chromium: in the rendered page, the
 * chart's marks of each kind and the table's rows match what results.jsonl
 * says, the page's own script ran under its Content Security Policy, and
 * model text stayed text. Screenshots are kept in tests/artifacts/ for a
 * human to look at.
 *
 * Chromium is Debian's package, driven directly (no npm browser download):
 * `apt-get install -y --no-install-recommends chromium` (.ci/run does it).
 * Under CI=true a missing Chromium fails the test; elsewhere it is skipped
 * with the reason printed.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { runCli } from "../_helpers/cli.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { markKind } from "../../src/ui/chart.ts";
import type { IterationRecord } from "../../src/core/state.ts";
import {
  type FixtureName,
  installFixture,
} from "../fixtures/records/generate.ts";

const ARTIFACTS = fileURLToPath(new URL("../artifacts/", import.meta.url));
const KINDS = ["kept", "reverted", "crashed", "rejected"] as const;

/** The Chromium binary: $CHROMIUM, else the first of the usual names on PATH. */
function findChromium(): string | null {
  const explicit = Deno.env.get("CHROMIUM");
  if (explicit) return explicit;
  const dirs = (Deno.env.get("PATH") ?? "").split(":").filter((d) => d !== "");
  for (const name of ["chromium", "chromium-browser", "google-chrome"]) {
    for (const dir of dirs) {
      try {
        if (Deno.statSync(join(dir, name)).isFile) return join(dir, name);
      } catch {
        // not in this directory
      }
    }
  }
  return null;
}

const chromium = findChromium();
const inCI = Deno.env.get("CI") === "true";
if (chromium === null && !inCI) {
  // deno-lint-ignore no-console
  console.error(
    "report browser test skipped: chromium is not installed (apt-get install -y --no-install-recommends chromium)",
  );
}

/** Run headless Chromium with a throwaway profile; returns its stdout. */
async function headless(args: string[]): Promise<string> {
  const profile = await Deno.makeTempDir({ prefix: "ratchet-chromium-" });
  try {
    const out = await new Deno.Command(chromium!, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        `--user-data-dir=${profile}`,
        ...args,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(90_000),
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

/** Count a pattern in the dumped DOM. */
function count(dom: string, re: RegExp): number {
  return (dom.match(re) ?? []).length;
}

/** Install a fixture, run `ratchet report`, and return the report's path and records. */
async function report(
  name: FixtureName,
  dir: string,
): Promise<{ path: string; records: IterationRecord[] }> {
  await installFixture(name, dir);
  const r = await runCli(["report"], {
    cwd: dir,
    // An engine that is not there: the report must not wait for it.
    env: { DOCKER_HOST: `unix://${join(dir, "no-docker.sock")}` },
  });
  assert.equal(r.code, 0, r.stderr);
  const path = r.stdout.trim();
  assert.equal(path, join(dir, ".ratchet", "report.html"));
  const records = (await Deno.readTextFile(join(dir, ".ratchet/results.jsonl")))
    .trim().split("\n").map((l) => JSON.parse(l) as IterationRecord);
  return { path, records };
}

/** Check the rendered page against the records. */
function checkDom(dom: string, records: IterationRecord[]): void {
  const expected = Object.fromEntries(
    KINDS.map((k) => [k, records.filter((r) => markKind(r) === k).length]),
  );
  for (const kind of KINDS) {
    assert.equal(
      count(dom, new RegExp(`class="mark ${kind}" data-iter="\\d+"`, "g")),
      expected[kind],
      `${kind} marks in the DOM`,
    );
  }
  // Every record has its mark and its row, by iteration.
  const iters = records.map((r) => r.iter);
  assert.deepEqual(
    [...dom.matchAll(/class="mark \w+" data-iter="(\d+)"/g)]
      .map((m) => Number(m[1])).sort((a, b) => a - b),
    iters,
  );
  const tbody = dom.slice(dom.indexOf("<tbody>"), dom.indexOf("</tbody>"));
  assert.deepEqual(
    [...tbody.matchAll(/<tr id="iter-\d+" data-iter="(\d+)"/g)].map((m) =>
      Number(m[1])
    ),
    iters,
  );
  // The page's script counted the same in the live DOM, so it ran (the
  // CSP allowed it by hash) and the SVG parsed into real elements.
  const marks = dom.match(/data-marks="([^"]+)"/)?.[1];
  assert.ok(marks, "the page's script ran");
  assert.deepEqual(JSON.parse(marks.replaceAll("&quot;", '"')), expected);
  assert.match(dom, new RegExp(`data-rows="${records.length}"`));
}

Deno.test({
  name:
    "ratchet report renders in Chromium with one mark and one row per record of results.jsonl",
  ignore: chromium === null && !inCI,
  async fn() {
    assert.ok(chromium, "CI=true but chromium is not installed");
    await Deno.mkdir(ARTIFACTS, { recursive: true });

    await using mixed = await tempRepo();
    const { path, records } = await report("mixed", mixed.dir);
    assert.ok(records.some((r) => markKind(r) === "crashed"));
    assert.ok(records.some((r) => markKind(r) === "rejected"));
    const dom = await headless(["--dump-dom", `file://${path}`]);
    checkDom(dom, records);
    // Model text stayed text: the fixture's hypothesis holds a script tag.
    assert.match(dom, /&lt;script&gt;alert\("x"\)&lt;\/script&gt;/);
    assert.equal(count(dom, /<script\b/g), 1, "only the report's own script");
    // The kept changes' diffs from .ratchet/diffs/ are in the page.
    assert.match(dom, /<span class="add">\+@cache<\/span>/);

    const png = join(ARTIFACTS, "report.png");
    await Deno.remove(png).catch(() => {});
    await headless([
      `--screenshot=${png}`,
      "--window-size=1400,2000",
      `file://${path}`,
    ]);
    assert.ok((await Deno.stat(png)).size > 20_000, "a real screenshot");

    // A long run: marks shrink but every record still has one.
    await using long = await tempRepo();
    const longRun = await report("long", long.dir);
    checkDom(
      await headless(["--dump-dom", `file://${longRun.path}`]),
      longRun.records,
    );
    await headless([
      `--screenshot=${join(ARTIFACTS, "report-long.png")}`,
      "--window-size=1400,1000",
      `file://${longRun.path}`,
    ]);
  },
});
