/**
 * The HTML report rendered in headless Chromium: the chart's marks and the
 * table's rows in the rendered page match results.jsonl, and a screenshot is
 * kept in tests/artifacts/report.png. Chromium comes from Debian's package
 * (installed by .ci/run); under CI=true its absence fails the test.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli } from "../_helpers/cli.ts";
import { tempRepo } from "../_helpers/git_repo.ts";
import { Store } from "../../src/infra/store.ts";
import { markKind } from "../../src/ui/chart.ts";
import { sampleRecords, sampleRun } from "../_fakes/records.ts";

const chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].find(
  (p) => {
    try {
      return Deno.statSync(p).isFile;
    } catch {
      return false;
    }
  },
);
const inCI = Deno.env.get("CI") === "true";
if (!chromium && !inCI) {
  // deno-lint-ignore no-console
  console.error(
    "report browser test skipped: chromium is not installed (apt-get install chromium)",
  );
}

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
        `--user-data-dir=${profile}`,
        ...args,
      ],
      stdin: "null",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    return new TextDecoder().decode(out.stdout);
  } finally {
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "ratchet report renders in Chromium with one mark and one row per record",
  ignore: !chromium && !inCI,
  sanitizeResources: false,
  async fn() {
    assert.ok(chromium, "CI=true but chromium is not installed");
    await using repo = await tempRepo();
    const store = new Store(repo.dir);
    await store.init();
    await store.writeRun(sampleRun());
    for (const r of sampleRecords()) await store.appendRecord(r);
    await store.saveDiff(1, "--- a/x\n+++ b/x\n+memo\n");
    const r = await runCli(["report"], { cwd: repo.dir });
    assert.equal(r.code, 0, r.stderr);
    const html = r.stdout.trim();
    assert.equal(html, store.paths.reportHtml);

    const records = (await Deno.readTextFile(store.paths.results)).trim().split(
      "\n",
    )
      .map((l) => JSON.parse(l));
    const dom = await headless(["--dump-dom", `file://${html}`]);
    const count = (re: RegExp) => (dom.match(re) ?? []).length;
    for (const kind of ["kept", "reverted", "crashed", "rejected"] as const) {
      const expected = records.filter((rec) => markKind(rec) === kind).length;
      assert.equal(
        count(new RegExp(`class="mark ${kind}"`, "g")),
        expected,
        kind,
      );
    }
    assert.equal(count(/<circle class="mark /g), records.length);
    assert.equal(count(/<tr data-iter="/g), records.length);
    assert.match(dom, /memo/);

    const artifacts = new URL("../artifacts/", import.meta.url);
    await Deno.mkdir(artifacts, { recursive: true });
    const png = join(artifacts.pathname, "report.png");
    await headless([
      `--screenshot=${png}`,
      "--window-size=1300,1800",
      `file://${html}`,
    ]);
    assert.ok((await Deno.stat(png)).size > 10_000);
  },
});
