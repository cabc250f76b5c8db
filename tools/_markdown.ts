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
