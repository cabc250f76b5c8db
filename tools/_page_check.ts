/**
 * Compare a committed docs page with the page rendered from the test run
 * that just ended, ignoring only timings and versions: CI regenerates
 * docs/reliability.md and docs/security.md and fails when they differ in
 * anything else (a scenario added, a check that no longer holds, a count).
 *
 * Both pages are compared as `deno fmt` lays them out, but not line by line
 * of the file: a paragraph is one line (a longer duration re-wraps it) and a
 * table row is its trimmed cells (a longer cell re-pads the whole table).
 * Then these are masked on both sides:
 * - timings: durations (`12.1 s`, `713 ms`), dates (`2026-11-28 14:30 UTC`)
 *   and the run ids made from them (`20261128-143002-4c8b`),
 *   the `s` column of a table, and what is marked `†` (it depends on
 *   timing: where a timed kill landed, how a race or a poll fell): a number
 *   written `497†`, or a whole table cell ending in ` †`;
 * - versions: `deno X`, `docker X`, `podman X`, and the machine's `cpus N`.
 */

/** One comparable line of a page and where it starts in the file. */
export interface PageLine {
  /** 1-based line of the file where the paragraph or row starts. */
  line: number;
  text: string;
}

/** What differs: lines only in the committed page, and only in the new one. */
export interface PageDifference {
  kind: "committed" | "regenerated";
  /** Line in the file it comes from. */
  line: number;
  text: string;
}

const TIME_COLUMN = new Set(["s", "seconds", "ms", "wall s"]);

function maskTimingsAndVersions(text: string): string {
  return text
    .replace(
      /\d{4}-\d\d-\d\d[ T]\d\d:\d\d(?::\d\d(?:\.\d+)?)?( ?UTC|Z)?/g,
      "<time>",
    )
    .replace(/\b\d{8}-\d{6}-[0-9a-f]{4}\b/g, "<run id>")
    .replace(/\d+(?:\.\d+)?(?:[–-]\d+(?:\.\d+)?)? ?(s|ms)\b/g, "<t> $1")
    .replace(/[\d./]+ ?†/g, "<timed> †")
    .replace(/\b(deno|docker|podman) \d[\w.+~-]*/gi, "$1 <version>")
    .replace(/\bcpus \d+/g, "cpus <n>");
}

/** Split a table row into its cells (a `\|` inside a cell is not a border). */
function cells(row: string): string[] {
  const out: string[] = [];
  let cell = "";
  const body = row.trim().replace(/^\|/, "").replace(/\|$/, "");
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c === "\\" && body[i + 1] === "|") {
      cell += "\\|";
      i++;
    } else if (c === "|") {
      out.push(cell.trim());
      cell = "";
    } else {
      cell += c;
    }
  }
  out.push(cell.trim());
  return out;
}

/** The page as comparable lines, timings and versions masked. */
export function normalizePage(page: string): PageLine[] {
  const lines = page.split("\n");
  const out: PageLine[] = [];
  let paragraph: { line: number; parts: string[] } | null = null;
  let timeColumns = new Set<number>();
  let inTable = false;
  let fence = false;
  const flush = () => {
    if (paragraph !== null) {
      out.push({
        line: paragraph.line,
        text: maskTimingsAndVersions(paragraph.parts.join(" ")),
      });
    }
    paragraph = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.trim();
    if (line.startsWith("```")) {
      flush();
      fence = !fence;
      out.push({ line: i + 1, text: line });
      continue;
    }
    if (fence) {
      out.push({ line: i + 1, text: raw });
      continue;
    }
    if (line.startsWith("|")) {
      flush();
      const row = cells(line);
      if (!inTable) {
        // The header: remember which columns hold timings.
        timeColumns = new Set(
          row.flatMap((c, j) => TIME_COLUMN.has(c) ? [j] : []),
        );
        inTable = true;
      }
      if (row.every((c) => /^:?-+:?$/.test(c))) continue;
      const masked = row.map((c, j) =>
        timeColumns.has(j) && /^[\d.]+$/.test(c)
          ? "<t>"
          : /\s†$/.test(c)
          ? "<timed> †"
          : maskTimingsAndVersions(c)
      );
      out.push({ line: i + 1, text: `| ${masked.join(" | ")} |` });
      continue;
    }
    inTable = false;
    if (line === "") {
      flush();
      continue;
    }
    // A list item or heading starts its own line.
    if (/^([-*] |\d+\. |#+ )/.test(line)) flush();
    if (paragraph === null) paragraph = { line: i + 1, parts: [] };
    paragraph.parts.push(line);
  }
  flush();
  return out;
}

/**
 * The lines of `committed` and `regenerated` that do not match, after
 * normalizing both (longest common subsequence; committed lines first).
 */
export function comparePages(
  committed: string,
  regenerated: string,
): PageDifference[] {
  const a = normalizePage(committed);
  const b = normalizePage(regenerated);
  // lcs[i][j]: length of the LCS of a[i..] and b[j..].
  const lcs = Array.from(
    { length: a.length + 1 },
    () => new Uint32Array(b.length + 1),
  );
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i]!.text === b[j]!.text
        ? lcs[i + 1]![j + 1]! + 1
        : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: PageDifference[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i]!.text === b[j]!.text) {
      i++;
      j++;
    } else if (
      j >= b.length || (i < a.length && lcs[i + 1]![j]! >= lcs[i]![j + 1]!)
    ) {
      out.push({ kind: "committed", line: a[i]!.line, text: a[i]!.text });
      i++;
    } else {
      out.push({ kind: "regenerated", line: b[j]!.line, text: b[j]!.text });
      j++;
    }
  }
  return out;
}

/** The differences as lines for a terminal, at most `max` of them. */
export function formatDifferences(
  name: string,
  differences: PageDifference[],
  max = 40,
): string {
  const shown = differences.slice(0, max).map((d) =>
    d.kind === "committed"
      ? `- ${name}:${d.line} (committed) ${d.text}`
      : `+ regenerated:${d.line} ${d.text}`
  );
  if (differences.length > max) {
    shown.push(`… and ${differences.length - max} more`);
  }
  return shown.join("\n");
}
