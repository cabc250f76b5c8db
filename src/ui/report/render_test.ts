import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { renderReport, type ReportInput } from "./render.ts";
import { esc } from "./format.ts";
import { markKind } from "../chart.ts";
import { makeRecord } from "../../core/state.ts";
import {
  buildFixture,
  type Fixture,
  fixtureDir,
  fixtureFiles,
  FIXTURES,
  manyRecords,
} from "../../../tests/fixtures/records/generate.ts";

function input(fixture: Fixture): ReportInput {
  return {
    run: fixture.run,
    records: fixture.records,
    diffs: fixture.diffs,
    environment: { ratchet: "0.1.0", deno: "2.9.6", os: "linux x86_64" },
    generatedAt: "2026-03-02T12:00:00.000Z",
  };
}

function count(html: string, re: RegExp): number {
  return (html.match(re) ?? []).length;
}

Deno.test("renderReport() fixtures on disk are what generate.ts builds", async () => {
  for (const name of FIXTURES) {
    for (const [rel, text] of fixtureFiles(buildFixture(name))) {
      assert.equal(
        await Deno.readTextFile(join(fixtureDir(name), rel)),
        text,
        `${name}/${rel} is stale: run deno run -A tests/fixtures/records/generate.ts`,
      );
    }
  }
});

Deno.test("renderReport() draws one mark per record by kind and one row per record", () => {
  const fixture = buildFixture("mixed");
  const html = renderReport(input(fixture));
  const { records } = fixture;
  for (const kind of ["kept", "reverted", "crashed", "rejected"] as const) {
    const expected = records.filter((r) => markKind(r) === kind).length;
    assert.equal(
      count(html, new RegExp(`class="mark ${kind}" data-iter="\\d+"`, "g")),
      expected,
      kind,
    );
  }
  assert.deepEqual(
    [...html.matchAll(/class="mark \w+" data-iter="(\d+)"/g)]
      .map((m) => Number(m[1])).sort((a, b) => a - b),
    records.map((r) => r.iter),
  );
  assert.deepEqual(
    [...html.matchAll(/<tr id="iter-\d+" data-iter="(\d+)"/g)].map((m) =>
      Number(m[1])
    ),
    records.map((r) => r.iter),
  );
  // Unscored records (3: timeouts, 4 and 11: rejected, 5: no_submit) sit on
  // the "no score" lane; the crash with one good trial (10) at its score.
  const lane =
    /class="mark \w+" data-iter="(\d+)" (?:cx="[\d.]+" cy="322"|d="M[\d.]+ 3[12]\d)/g;
  assert.deepEqual(
    [...html.matchAll(lane)].map((m) => Number(m[1])).sort((a, b) => a - b),
    [3, 4, 5, 11],
  );
  assert.match(html, /kept \(4\)<\/span>/);
  assert.match(html, /crashed \(2\)<\/span>/);
});

Deno.test("renderReport() shows scores, intervals, decisions, tokens, cost and the kept diffs", () => {
  const html = renderReport(input(buildFixture("mixed")));
  const row = (iter: number) =>
    html.match(new RegExp(`<tr id="iter-${iter}"[^]*?</tr>`))![0];
  assert.match(row(1), /10\.94<\/td><td class="num">\[10\.75, 11\.12\]/);
  assert.match(row(1), /<td class="num">&lt;0\.001<\/td>/);
  assert.match(row(1), /-12\.1%<div class="sub">\[-13\.1%, -11\.2%\]/);
  assert.match(row(1), /60,550<\/td><td class="num">\$0\.083/);
  assert.match(
    row(3),
    /crashed_trials<\/code><div class="detail">every trial hit/,
  );
  assert.match(row(3), /0\/3/);
  assert.match(row(12), /critic chose A/);
  // Cards: baseline, best with its interval, gain in the right direction.
  assert.match(html, /baseline<\/div><div class="v ">12\.424</);
  assert.match(html, /best<\/div><div class="v ">8\.833</);
  assert.match(html, /gain<\/div><div class="v good">-28\.9%/);
  // Kept changes with their diffs, coloured by line.
  assert.equal(count(html, /<h3>iter (1|8|12):/g), 3);
  assert.match(html, /<span class="add">\+@cache<\/span>/);
  assert.match(html, /<span class="del">-def parse\(path\):<\/span>/);
  // Totals, configuration and environment.
  assert.match(html, /<td>\$1\.14<\/td><\/tr><\/tbody><\/table>/);
  assert.match(html, /<dt>run-command<\/dt><dd>pytest -q tests\/<\/dd>/);
  assert.match(html, /<dt>deno<\/dt><dd>2\.9\.6<\/dd>/);
  assert.match(html, /<dt>trial image<\/dt><dd>ratchet-trial:3f9c2a1b<\/dd>/);
});

Deno.test("renderReport() escapes everything a model, a diff or a config wrote", () => {
  const fixture = buildFixture("mixed");
  const evil = "<script>alert(1)</script>";
  fixture.records[2] = {
    ...fixture.records[2]!,
    hypothesis: evil,
    description: `"><img src=x onerror=alert(1)>`,
    detail: "</td></tr></table>" + evil,
  };
  fixture.run = {
    ...fixture.run,
    run_id: fixture.run.run_id,
    config: { ...fixture.run.config, "run-command": `echo '${evil}'` },
  };
  fixture.diffs.set(1, `+${evil}\n-</pre>${evil}\n`);
  const html = renderReport({
    ...input(fixture),
    environment: { "docker engine": evil },
  });
  // The only script element is the report's own, at the end.
  assert.equal(count(html, /<script>/g), 1);
  assert.equal(count(html, /<script>\(\(\) =>/g), 1);
  assert.ok(!html.includes("<img"), "no injected element");
  assert.equal(count(html, /<\/pre>/g), 3, "one <pre> per kept diff");
  assert.ok(html.includes(esc(evil)));
  assert.ok(html.includes("&quot;&gt;&lt;img src=x onerror=alert(1)&gt;"));
  // Hypotheses of the fixture itself carry a script tag too.
  assert.ok(html.includes("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;"));
  // The same number of rows as records: nothing broke out of its cell.
  assert.equal(count(html, /<tr id="iter-/g), fixture.records.length);
});

Deno.test("renderReport() is self-contained and allows only its own script", () => {
  const html = renderReport(input(buildFixture("mixed")));
  assert.doesNotMatch(html, /\b(src|href)\s*=/i);
  assert.doesNotMatch(html, /<link\b|@import|url\(|@font-face/i);
  const csp = html.match(
    /<meta http-equiv="Content-Security-Policy" content="([^"]+)">/,
  )?.[1];
  assert.ok(csp, "a CSP");
  const policy = csp.replaceAll("&#39;", "'");
  assert.match(policy, /default-src 'none'/);
  const script = html.match(/<script>([^]*?)<\/script>/)![1]!;
  const hash = createHash("sha256").update(script).digest("base64");
  assert.ok(policy.includes(`script-src 'sha256-${hash}'`), policy);
});

Deno.test("renderReport() draws the incumbent as steps with its interval band", () => {
  const html = renderReport(input(buildFixture("mixed")));
  const path = html.match(/<path class="incumbent" d="([^"]+)"/)![1]!;
  assert.match(path, /^M[\d.]+ [\d.]+H[\d.]+(V[\d.]+H[\d.]+)+$/);
  assert.ok(count(html, /<rect class="band"/g) >= 4);
  assert.match(html, /↓ lower is better/);
});

Deno.test("renderReport() renders a run with only a baseline, or none", () => {
  const base = buildFixture("mixed");
  const one = renderReport({
    ...input(base),
    records: base.records.slice(0, 1),
  });
  assert.equal(count(one, /class="mark kept"/g), 1);
  assert.match(one, /No change was kept/);
  const none = renderReport({ ...input(base), records: [], diffs: new Map() });
  assert.equal(count(none, /class="mark /g), 0);
  assert.match(none, /<tbody>\s*<\/tbody>/);
  const noScore = renderReport({
    ...input(base),
    records: [makeRecord({
      run_id: base.run.run_id,
      iter: 0,
      decision: "crashed",
      timestamp: "t",
      trial_scores: [null],
    })],
  });
  assert.equal(count(noScore, /class="mark crashed"/g), 1);
});

// How long this takes is measured by `deno task bench:readers`
// (bench/readers_bench.ts), not asserted here.
Deno.test("renderReport() renders 10,000 records, one row and one mark each", () => {
  const { run } = buildFixture("long");
  const html = renderReport({
    ...input({ run, records: manyRecords(10_000), diffs: new Map() }),
  });
  assert.equal(count(html, /<tr id="iter-/g), 10_000);
  assert.equal(count(html, /class="mark /g), 10_000);
});

Deno.test("renderReport() uses a log axis, and says so, when scores span more than 10×", () => {
  const fixture = buildFixture("guarded");
  const html = renderReport(input(fixture));
  const chart = html.match(/<svg id="chart"[^]*?<\/svg>/)![0];
  assert.match(chart, /log scale \(scores span \d+(\.\d+)?×\)/);
  // Ticks at powers of ten (and 2, 5 between), each kept change visible:
  // the marks of iterations 1 and 4 are far apart, not both on the floor.
  assert.match(chart, />0\.001</);
  assert.match(chart, />0\.01</);
  const yOf = (iter: number) =>
    Number(
      chart.match(
        new RegExp(`data-iter="${iter}" cx="[\\d.]+" cy="([\\d.]+)"`),
      )![1],
    );
  const y0 = yOf(0);
  const y1 = yOf(1);
  const y4 = yOf(4);
  assert.ok(y1 - y0 > 60 && y4 - y1 > 60, `${y0} ${y1} ${y4}`);
  // The mixed fixture (12.4 to 8.8) keeps its linear axis.
  assert.doesNotMatch(renderReport(input(buildFixture("mixed"))), /log scale/);
});

Deno.test("renderReport() shows the rule, the guards with a chart each, and the claimed gain", () => {
  const fixture = buildFixture("guarded");
  const html = renderReport({
    ...input(fixture),
    confirmation: fixture.confirmation!,
  });
  assert.match(html, /<th>rule<\/th><th>guards<\/th>/);
  assert.match(
    html,
    /<tr id="iter-2"[^]*?<td class="rule">welch<\/td><td class="guards">accuracy -10\.0%<\/td><td><code>guard_regressed<\/code>/,
  );
  assert.equal(
    count(html, /<svg class="guard-chart" data-guard="accuracy"/g),
    1,
  );
  const guardChart = html.match(/<svg class="guard-chart"[^]*?<\/svg>/)![0];
  // A mark per record with a guard value, the kept line and the bound.
  assert.equal(count(guardChart, /<circle class="mark /g), 4);
  assert.match(guardChart, /<path class="bound" d="M/);
  assert.match(guardChart, /iter 2: accuracy 0\.819 \(guard_regressed\)/);
  assert.match(
    html,
    /<div class="k">claimed gain<\/div><div class="v good">-99\.000% \[-99\.017%, -98\.983%\]<\/div>/,
  );
  assert.match(
    html,
    /<p id="claim"><b>-99\.000% \[-99\.017%, -98\.983%\]<\/b>: start commit and iter 4 measured interleaved/,
  );
  // Without the confirmation: the unconfirmed comparison, said so.
  const plain = renderReport(input(fixture));
  assert.match(plain, /best vs baseline, not confirmed/);
  assert.doesNotMatch(plain, /id="claim"/);
});

Deno.test("renderReport() cuts a long check-command output, the whole text one click away", () => {
  const fixture = buildFixture("guarded");
  const html = renderReport(input(fixture));
  const detail = fixture.records[3]!.detail;
  const cell = html.match(/<tr id="iter-3"[^]*?<\/tr>/)![0];
  assert.match(
    cell,
    /<details class="detail long"><summary>--check-command failed: exited 1… <span class="more">\(\d+ characters: show all\)<\/span><\/summary><pre>/,
  );
  // Every line of the output is in the page, escaped, inside <details>.
  assert.ok(cell.includes(esc(detail)));
});

Deno.test("renderReport() names the trial engine and whether it shares this machine's files, after the given environment", () => {
  const fixture = buildFixture("mixed");
  const none = renderReport(input(fixture));
  assert.doesNotMatch(none, /trial engine/);
  const html = renderReport({
    ...input(fixture),
    run: {
      ...fixture.run,
      engine: { endpoint: "ssh://gpu-box", shares_filesystem: false },
    },
  });
  const row = html.match(/<dt>trial engine<\/dt><dd>([^<]*)<\/dd>/);
  assert.ok(row, "a trial engine row");
  assert.match(row[1]!, /^ssh:\/\/gpu-box; /);
  assert.ok(
    html.indexOf("<dt>os</dt>") < html.indexOf("<dt>trial engine</dt>"),
  );
});
