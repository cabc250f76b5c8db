/** Helpers shared by the tools that render docs/*.md from test results. */

/** `markdown` as `deno fmt` leaves it, so a generated page passes `deno fmt --check`. */
export async function formatMarkdown(markdown: string): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["fmt", "--ext=md", "-"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(markdown));
  await writer.close();
  const out = await child.output();
  if (!out.success) {
    throw new Error(`deno fmt failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Text made safe for one cell of a Markdown table. */
export function tableCell(text: string): string {
  return text.replaceAll("|", "\\|").replaceAll("\n", " ").replaceAll(
    "<",
    "&lt;",
  );
}

/**
 * `text` with what differs from one test run to the next for reasons that
 * are not ratchet's behaviour replaced by placeholders: the random suffix of
 * temp directories (XXXX), git and container ids (SHA, ID), process ids
 * (NNNN) and listener ports (PORT).
 * The pages show these through it, so a page rendered from two runs differs
 * only in timings and versions (which `tools/_page_check.ts` ignores).
 */
export function stableText(text: string): string {
  return text
    // Deno.makeTempDir's random suffix, up to 16 hex digits (leading zeros
    // dropped): /tmp/ratchet-sec-case-f70dc871821ea2f2
    .replace(/(\/[\w.-]*?-)[0-9a-f]{8,16}(?![\w-])/g, "$1XXXX")
    .replace(/\b[0-9a-f]{40}\b/g, "SHA")
    // Short commit shas and container ids (hostnames): 12 hex digits with at
    // least one letter and one digit.
    .replace(/\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{12}\b/g, "ID")
    .replace(/\b(PID|pid|kill) \d+\b/g, "$1 NNNN")
    .replace(/\b(\d{1,3}(?:\.\d{1,3}){3}):\d{2,5}\b/g, "$1:PORT");
}
