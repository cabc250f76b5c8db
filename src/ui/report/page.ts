/**
 * The page around the report's sections: the document head with its
 * Content Security Policy, the stylesheet, and the one inline script.
 *
 * The policy forbids every fetch and allows only this script (by its hash),
 * so even a mistake in escaping could not run injected script or phone home.
 */
import { createHash } from "node:crypto";
import { MARK_KINDS, type MarkKind } from "../chart.ts";
import { esc } from "./format.ts";

/** The colour of each kind of mark, shared by the charts, legend and rows. */
export const COLORS: Record<MarkKind, string> = {
  kept: "#15803d",
  reverted: "#94a3b8",
  crashed: "#a21caf",
  rejected: "#dc2626",
};

/**
 * The whole document: head (policy, viewport, title, style), `body` inside
 * <body>, and the script at the end. `records` is the number of records, read
 * by a browser test.
 */
export function pageHtml(title: string, records: number, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${esc(CSP)}">
<meta name="viewport" content="width=device-width,initial-scale=1">
<title>${esc(title)}</title><style>${CSS}</style></head>
<body data-records="${records}">
${body}
<script>${SCRIPT}</script>
</body></html>
`;
}

/**
 * Inline behaviour: clicking a mark highlights its table row, and the page
 * records what it rendered (marks of each kind, table rows) on <body> so a
 * browser test can read the counts the DOM really holds.
 */
const SCRIPT = `(() => {
  const counts = {};
  for (const k of ${JSON.stringify(MARK_KINDS)}) {
    counts[k] = document.querySelectorAll("#chart .mark." + k).length;
  }
  document.body.dataset.marks = JSON.stringify(counts);
  document.body.dataset.rows = String(
    document.querySelectorAll("#iterations tbody tr[data-iter]").length,
  );
  document.getElementById("chart").addEventListener("click", (e) => {
    const mark = e.target.closest(".mark");
    const row = mark && document.getElementById("iter-" + mark.dataset.iter);
    if (!row) return;
    for (const r of document.querySelectorAll("tr.hl")) r.classList.remove("hl");
    row.classList.add("hl");
    row.scrollIntoView({ block: "center", behavior: "smooth" });
  });
})();`;

const SCRIPT_HASH = createHash("sha256").update(SCRIPT).digest("base64");

const CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  `script-src 'sha256-${SCRIPT_HASH}'`,
  "img-src data:",
].join("; ");

const CSS = `
:root{--fg:#1e293b;--muted:#64748b;--line:#e2e8f0;--soft:#f8fafc}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0 auto;max-width:1320px;color:var(--fg);padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h3{font-size:14px;margin:18px 0 6px}
.sub{color:var(--muted);font-size:12px}code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.cards{display:grid;grid-template-columns:repeat(auto-fit,minmax(170px,1fr));gap:12px;margin:18px 0}
.card{border:1px solid var(--line);border-radius:8px;padding:10px 14px;background:#fff}
.card .k{color:var(--muted);font-size:12px;text-transform:uppercase;letter-spacing:.04em}
.card .v{font-size:20px;font-weight:600;margin:2px 0}.good{color:#15803d}.bad{color:#b91c1c}
#chart{width:100%;height:auto;border:1px solid var(--line);border-radius:8px;background:#fff}
#chart .grid{stroke:#eef2f6}#chart .axis{stroke:#94a3b8}#chart .lane{stroke:#e2e8f0;stroke-dasharray:3 4}
#chart .label{font-size:12px;fill:var(--muted)}#chart .dir{font-weight:600}
#chart .band{fill:#3b82f6;opacity:.14}#chart .incumbent{fill:none;stroke:#2563eb;stroke-width:2}
#chart .mark{cursor:pointer}#chart .mark.kept{fill:${COLORS.kept};stroke:#fff;stroke-width:1.5}
#chart .mark.reverted{fill:${COLORS.reverted}}#chart .mark.rejected{fill:${COLORS.rejected}}
#chart .mark.crashed{fill:none;stroke:${COLORS.crashed};stroke-width:2.5;stroke-linecap:round}
.legend{display:flex;flex-wrap:wrap;gap:6px 18px;margin:8px 2px;font-size:13px}
.legend svg{vertical-align:-2px;margin-right:5px}
.table-wrap{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:13px}
th,td{border-bottom:1px solid var(--line);padding:6px 7px;text-align:left;vertical-align:top}
th{background:var(--soft);position:sticky;top:0;font-weight:600;white-space:nowrap}
td.num{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}
td.text{min-width:180px;max-width:340px;overflow-wrap:anywhere}
tr.kept td:first-child{box-shadow:inset 3px 0 ${COLORS.kept}}tr.crashed td:first-child{box-shadow:inset 3px 0 ${COLORS.crashed}}
tr.rejected td:first-child{box-shadow:inset 3px 0 ${COLORS.rejected}}
tr.hl td,tr:target td{background:#fef9c3}
.detail{color:var(--muted);font-size:12px;max-width:300px;overflow-wrap:anywhere}
details.detail summary{cursor:pointer}details.detail .more{color:#2563eb}details.detail pre{max-height:320px;white-space:pre-wrap}
td.rule,td.guards{white-space:nowrap;font-size:12px}
.guard-charts{display:flex;flex-wrap:wrap;gap:12px}.guard-chart{width:480px;max-width:100%;height:auto;border:1px solid var(--line);border-radius:8px;background:#fff}
.guard-chart .grid{stroke:#eef2f6}.guard-chart .label{font-size:11px;fill:var(--muted)}.guard-chart .dir{font-weight:600}
.guard-chart .incumbent{fill:none;stroke:#2563eb;stroke-width:2}.guard-chart .bound{fill:none;stroke:#dc2626;stroke-width:1.2;stroke-dasharray:4 3}
.guard-chart .mark.kept{fill:${COLORS.kept}}.guard-chart .mark.reverted{fill:${COLORS.reverted}}.guard-chart .mark.crashed{fill:${COLORS.crashed}}.guard-chart .mark.rejected{fill:${COLORS.rejected}}
.badge{border-radius:4px;padding:1px 7px;font-size:12px;background:#f1f5f9;white-space:nowrap}
.badge.improved,.badge.baseline{background:#dcfce7;color:#14532d}.badge.regressed{background:#ffedd5;color:#7c2d12}
.badge.rejected{background:#fee2e2;color:#7f1d1d}.badge.crashed{background:#fae8ff;color:#701a75}
.badge.inconclusive{background:#fef9c3;color:#713f12}
details.critic{margin-top:4px;font-size:12px}details.critic ol{margin:4px 0;padding-left:20px}li.chosen{font-weight:600}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 12px;overflow:auto;font:12px/1.5 ui-monospace,SFMono-Regular,Menlo,monospace;max-height:520px}
pre .add{color:#166534;background:#f0fdf4;display:inline-block;width:100%}pre .del{color:#991b1b;background:#fef2f2;display:inline-block;width:100%}
pre .hunk{color:#6d28d9}pre .meta{color:var(--muted);font-weight:600}
dl{display:grid;grid-template-columns:max-content 1fr;gap:3px 18px;margin:0}dt{color:var(--muted)}
dd{margin:0;font:12px/1.6 ui-monospace,SFMono-Regular,Menlo,monospace;overflow-wrap:anywhere}
.totals td,.totals th{text-align:right}.totals{width:auto}
footer{margin-top:36px;color:var(--muted);font-size:12px}
`;
