/**
 * `str_replace_based_edit_tool`: Anthropic's text editor tool
 * (`text_editor_20250728`), carried out on the host through the Workspace so
 * every path is confined to the tree and checked against the protection
 * policy. Commands: `view`, `create`, `str_replace`, `insert` (this version of
 * the tool has no `undo_edit`).
 */
import {
  type AgentTool,
  fail,
  ok,
  optionalString,
  requireString,
  type ToolContext,
  ToolInputError,
  type ToolOutcome,
} from "./_common.ts";

/** Characters of a `view` shown before the rest is cut (the model can use view_range). */
export const MAX_VIEW_CHARS = 100_000;
/** Lines of context shown around an edit. */
const SNIPPET_CONTEXT = 4;

/** `text` with 1-based line numbers, starting at `first`. */
function numbered(lines: readonly string[], first: number): string {
  return lines.map((line, i) => `${String(first + i).padStart(6)}\t${line}`)
    .join("\n");
}

/** The lines of `text`; a final newline does not make an extra empty line. */
function splitLines(text: string): string[] {
  if (text === "") return [];
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  return lines;
}

/** The edited region of `text` (lines `from`..`to`, 1-based) with context. */
function snippet(text: string, from: number, to: number): string {
  const lines = splitLines(text);
  const start = Math.max(1, from - SNIPPET_CONTEXT);
  const end = Math.min(lines.length, to + SNIPPET_CONTEXT);
  return numbered(lines.slice(start - 1, end), start);
}

function lineOf(text: string, offset: number): number {
  let line = 1;
  for (
    let i = text.indexOf("\n");
    i !== -1 && i < offset;
    i = text.indexOf("\n", i + 1)
  ) line++;
  return line;
}

function countLines(text: string): number {
  return text === "" ? 0 : text.split("\n").length;
}

async function view(
  input: Record<string, unknown>,
  context: ToolContext,
): Promise<ToolOutcome> {
  const path = requireString(input, "path");
  const resolved = await context.workspace.resolve(path, "read");
  if (resolved.kind === "missing") {
    return fail(`${resolved.display} does not exist.`);
  }
  if (resolved.kind === "directory") {
    if (input.view_range !== undefined && input.view_range !== null) {
      return fail("view_range applies to files, not directories.");
    }
    const { entries, truncated } = await context.workspace.list(path, 2);
    const body = entries.length === 0
      ? "(empty directory)"
      : entries.join("\n");
    const note = truncated
      ? `\n[listing truncated after ${entries.length} entries; view a subdirectory]`
      : "";
    return ok(
      `Files and directories up to 2 levels deep in ${resolved.display} (excluding .git):\n${body}${note}`,
    );
  }
  const { text } = await context.workspace.readText(path);
  const lines = splitLines(text);
  let first = 1;
  let last = lines.length;
  const range = input.view_range;
  if (range !== undefined && range !== null) {
    if (
      !Array.isArray(range) || range.length !== 2 ||
      !range.every((n) => Number.isInteger(n))
    ) {
      return fail(
        "view_range must be two integers [start, end]; end may be -1 for the end of the file.",
      );
    }
    const [start, end] = range as [number, number];
    if (start < 1 || start > Math.max(lines.length, 1)) {
      return fail(
        `view_range start ${start} is outside the file's ${lines.length} lines.`,
      );
    }
    if (end !== -1 && (end < start || end > lines.length)) {
      return fail(
        `view_range end ${end} must be -1 or between ${start} and ${lines.length} (the file's last line).`,
      );
    }
    first = start;
    last = end === -1 ? lines.length : end;
  }
  if (lines.length === 0) return ok(`${resolved.display} is empty.`);
  let body = numbered(lines.slice(first - 1, last), first);
  if (body.length > MAX_VIEW_CHARS) {
    const shownLines = body.slice(0, MAX_VIEW_CHARS).split("\n").length - 1;
    body = `${
      body.slice(0, MAX_VIEW_CHARS).replace(/\n[^\n]*$/, "")
    }\n[output truncated after line ${
      first + shownLines - 1
    } of ${lines.length}; use view_range to see the rest]`;
  }
  return ok(body);
}

async function create(
  input: Record<string, unknown>,
  context: ToolContext,
): Promise<ToolOutcome> {
  const path = requireString(input, "path");
  const text = requireString(input, "file_text");
  const before = await context.workspace.resolve(path, "write");
  const resolved = await context.workspace.writeText(path, text);
  const verb = before.kind === "file" ? "Overwrote" : "Created";
  return ok(`${verb} ${resolved.display} (${countLines(text)} lines).`);
}

async function strReplace(
  input: Record<string, unknown>,
  context: ToolContext,
): Promise<ToolOutcome> {
  const path = requireString(input, "path");
  const oldStr = requireString(input, "old_str");
  const newStr = optionalString(input, "new_str") ?? "";
  if (oldStr === "") {
    return fail("old_str must not be empty; use insert or create to add text.");
  }
  // Resolve for writing first, so a protected file is refused before it is read.
  await context.workspace.resolve(path, "write");
  const { resolved, text } = await context.workspace.readText(path);
  const first = text.indexOf(oldStr);
  if (first === -1) {
    return fail(
      `No match for old_str in ${resolved.display}. It must match the file exactly, including whitespace and indentation; view the file and copy the text.`,
    );
  }
  const second = text.indexOf(oldStr, first + 1);
  if (second !== -1) {
    const lines: number[] = [];
    for (let i = first; i !== -1; i = text.indexOf(oldStr, i + 1)) {
      lines.push(lineOf(text, i));
    }
    return fail(
      `old_str occurs ${lines.length} times in ${resolved.display} (lines ${
        lines.join(", ")
      }); include more surrounding lines to make it unique.`,
    );
  }
  const updated = text.slice(0, first) + newStr +
    text.slice(first + oldStr.length);
  await context.workspace.writeText(path, updated);
  const from = lineOf(updated, first);
  const to = from + Math.max(0, countLines(newStr) - 1);
  return ok(
    `Edited ${resolved.display}. The changed region:\n${
      snippet(updated, from, to)
    }`,
  );
}

async function insert(
  input: Record<string, unknown>,
  context: ToolContext,
): Promise<ToolOutcome> {
  const path = requireString(input, "path");
  const line = input.insert_line;
  if (typeof line !== "number" || !Number.isInteger(line)) {
    return fail(
      'Missing or non-integer parameter "insert_line" (0 inserts at the top).',
    );
  }
  // The documentation names the text `new_str`; the models send `insert_text`.
  const newText = optionalString(input, "insert_text") ??
    optionalString(input, "new_str");
  if (newText === undefined) {
    return fail('Missing parameter "insert_text" (the text to insert).');
  }
  await context.workspace.resolve(path, "write");
  const { resolved, text } = await context.workspace.readText(path);
  const lines = splitLines(text);
  if (line < 0 || line > lines.length) {
    return fail(
      `insert_line ${line} is outside ${resolved.display}, which has ${lines.length} lines (use 0 to ${lines.length}).`,
    );
  }
  const inserted = newText === "" ? [""] : splitLines(newText);
  const updatedLines = [
    ...lines.slice(0, line),
    ...inserted,
    ...lines.slice(line),
  ];
  // Keep the file's own choice about a final newline (an empty file gets one).
  const updated = updatedLines.join("\n") +
    (text === "" || text.endsWith("\n") ? "\n" : "");
  await context.workspace.writeText(path, updated);
  return ok(
    `Inserted ${inserted.length} line${
      inserted.length === 1 ? "" : "s"
    } after line ${line} of ${resolved.display}:\n${
      snippet(updated, line + 1, line + inserted.length)
    }`,
  );
}

const COMMANDS = ["view", "create", "str_replace", "insert"] as const;

/** The text editor tool. */
export const editorTool: AgentTool = {
  definition: {
    type: "text_editor_20250728",
    name: "str_replace_based_edit_tool",
  },
  async run(input, context) {
    const command = requireString(input, "command");
    if (!(COMMANDS as readonly string[]).includes(command)) {
      if (command === "undo_edit") {
        throw new ToolInputError(
          "undo_edit is not available; use str_replace to change the text back.",
        );
      }
      throw new ToolInputError(
        `Unknown command "${command}"; use one of ${COMMANDS.join(", ")}.`,
      );
    }
    if (context.readOnly && command !== "view") {
      return fail(
        `${command} is not allowed in this role: your tools are read-only (view only). Describe the change in your plan instead.`,
      );
    }
    switch (command) {
      case "view":
        return await view(input, context);
      case "create":
        return await create(input, context);
      case "str_replace":
        return await strReplace(input, context);
      default:
        return await insert(input, context);
    }
  },
};
