import assert from "node:assert/strict";
import { openWorkspace } from "../../infra/workspace.ts";
import { FakeSandbox } from "../../../tests/_fakes/sandbox.ts";
import {
  runTool,
  type ToolContext,
  type ToolOutcome,
  toolsFor,
} from "./mod.ts";

/** The editor on a sandbox holding a subject and a harness file. */
function setup(readOnly = false) {
  const sandbox = new FakeSandbox({
    "src/a.py": "def f():\n    return 1\n\nx = f()\nx = f()\n",
    "tests/test_a.py": "assert f() == 1\n",
  });
  const workspace = openWorkspace(sandbox, {
    editable: [],
    harness: ["tests/**"],
    scratch: [],
    reportPath: null,
    configPath: null,
  }, { uid: 1000, gid: 1000 });
  const context: ToolContext = {
    workspace,
    sandbox: {
      exec: () => Promise.reject(new Error("no bash in editor tests")),
    },
    bashTimeoutSeconds: 5,
    readOnly,
  };
  const edit = (input: Record<string, unknown>): Promise<ToolOutcome> =>
    runTool(
      toolsFor("implementer"),
      "str_replace_based_edit_tool",
      input,
      context,
    );
  /** A file's text in the sandbox (null when it is not there). */
  const read = (rel: string) => sandbox.text(rel);
  return { sandbox, edit, read };
}

function assertError(outcome: ToolOutcome, pattern: RegExp): void {
  assert.equal(
    outcome.isError,
    true,
    `expected an error result, got: ${outcome.content}`,
  );
  assert.match(outcome.content, pattern);
}

Deno.test("editor view shows a file with line numbers, whole or by view_range", async () => {
  const t = setup();
  const whole = await t.edit({ command: "view", path: "/work/src/a.py" });
  assert.equal(whole.isError, false);
  assert.equal(
    whole.content,
    "     1\tdef f():\n     2\t    return 1\n     3\t\n     4\tx = f()\n     5\tx = f()",
  );
  const part = await t.edit({
    command: "view",
    path: "src/a.py",
    view_range: [4, -1],
  });
  assert.equal(part.content, "     4\tx = f()\n     5\tx = f()");
  assertError(
    await t.edit({ command: "view", path: "src/a.py", view_range: [9, 10] }),
    /outside the file's 5 lines/,
  );
  assertError(
    await t.edit({ command: "view", path: "src/a.py", view_range: [3, 2] }),
    /must be -1 or between 3 and 5/,
  );
  assertError(
    await t.edit({ command: "view", path: "src/a.py", view_range: "1-2" }),
    /two integers/,
  );
});

Deno.test("editor view lists a directory two levels deep", async () => {
  const t = setup();
  t.sandbox.set(".git/HEAD", "ref: refs/heads/main\n");
  const listing = await t.edit({ command: "view", path: "/work" });
  assert.equal(listing.isError, false);
  assert.equal(
    listing.content,
    "Files and directories up to 2 levels deep in /work (excluding .git):\n/work/src/\n/work/src/a.py\n/work/tests/\n/work/tests/test_a.py",
  );
  assertError(
    await t.edit({ command: "view", path: "/work/nope.py" }),
    /does not exist/,
  );
});

Deno.test("editor create writes a new file and overwrites an existing one", async () => {
  const t = setup();
  const created = await t.edit({
    command: "create",
    path: "/work/src/pkg/b.py",
    file_text: "y = 2\n",
  });
  assert.deepEqual(created, {
    content: "Created /work/src/pkg/b.py (2 lines).",
    isError: false,
  });
  assert.equal(t.read("src/pkg/b.py"), "y = 2\n");
  const overwritten = await t.edit({
    command: "create",
    path: "src/pkg/b.py",
    file_text: "y = 3",
  });
  assert.match(overwritten.content, /^Overwrote/);
  assert.equal(t.read("src/pkg/b.py"), "y = 3");
  assertError(
    await t.edit({ command: "create", path: "src/c.py" }),
    /"file_text"/,
  );
});

Deno.test("editor str_replace replaces one exact, unique match and shows the region", async () => {
  const t = setup();
  const outcome = await t.edit({
    command: "str_replace",
    path: "src/a.py",
    old_str: "return 1",
    new_str: "return 2",
  });
  assert.equal(outcome.isError, false);
  assert.match(
    outcome.content,
    /^Edited \/work\/src\/a\.py\. The changed region:\n {5}1\tdef f\(\):\n {5}2\t {4}return 2/,
  );
  assert.equal(
    t.read("src/a.py"),
    "def f():\n    return 2\n\nx = f()\nx = f()\n",
  );
});

Deno.test("editor str_replace reports no match and multiple matches without writing", async () => {
  const t = setup();
  const before = t.read("src/a.py");
  assertError(
    await t.edit({
      command: "str_replace",
      path: "src/a.py",
      old_str: "return  1",
      new_str: "",
    }),
    /No match for old_str/,
  );
  assertError(
    await t.edit({
      command: "str_replace",
      path: "src/a.py",
      old_str: "x = f()",
      new_str: "x = 0",
    }),
    /occurs 2 times in \/work\/src\/a\.py \(lines 4, 5\)/,
  );
  assertError(
    await t.edit({
      command: "str_replace",
      path: "src/a.py",
      old_str: "",
      new_str: "x",
    }),
    /must not be empty/,
  );
  assert.equal(t.read("src/a.py"), before);
});

Deno.test("editor insert adds text after a line, at the top, and at the end", async () => {
  const t = setup();
  const outcome = await t.edit({
    command: "insert",
    path: "src/a.py",
    insert_line: 3,
    insert_text: "# note\n",
  });
  assert.equal(outcome.isError, false);
  assert.match(
    outcome.content,
    /^Inserted 1 line after line 3 of \/work\/src\/a\.py/,
  );
  await t.edit({
    command: "insert",
    path: "src/a.py",
    insert_line: 0,
    new_str: "import os",
  });
  await t.edit({
    command: "insert",
    path: "src/a.py",
    insert_line: 7,
    insert_text: "print(x)\nprint(x)",
  });
  assert.equal(
    t.read("src/a.py"),
    "import os\ndef f():\n    return 1\n\n# note\nx = f()\nx = f()\nprint(x)\nprint(x)\n",
  );
  assertError(
    await t.edit({
      command: "insert",
      path: "src/a.py",
      insert_line: 99,
      insert_text: "x",
    }),
    /use 0 to 9/,
  );
  assertError(
    await t.edit({ command: "insert", path: "src/a.py", insert_text: "x" }),
    /insert_line/,
  );
  assertError(
    await t.edit({ command: "insert", path: "src/a.py", insert_line: 1 }),
    /insert_text/,
  );
});

Deno.test("editor refuses every change to a harness file and leaves it untouched", async () => {
  const t = setup();
  const path = "/work/tests/test_a.py";
  for (
    const input of [
      { command: "create", path, file_text: "" },
      { command: "str_replace", path, old_str: "== 1", new_str: "== f()" },
      {
        command: "insert",
        path,
        insert_line: 0,
        insert_text: "import pytest\n",
      },
      { command: "create", path: "/work/tests/conftest.py", file_text: "" },
    ]
  ) {
    assertError(await t.edit(input), /evaluation harness/);
  }
  assert.equal(t.read("tests/test_a.py"), "assert f() == 1\n");
  const viewed = await t.edit({ command: "view", path });
  assert.equal(viewed.isError, false, "reading the harness is allowed");
});

Deno.test("editor refuses paths outside /work, .. escapes, .git and .ratchet", async () => {
  const t = setup();
  assertError(
    await t.edit({ command: "view", path: "/etc/passwd" }),
    /outside \/work/,
  );
  assertError(
    await t.edit({ command: "create", path: "/tmp/x", file_text: "x" }),
    /outside \/work/,
  );
  assertError(
    await t.edit({ command: "create", path: "../x", file_text: "x" }),
    /climbs out/,
  );
  assertError(
    await t.edit({
      command: "create",
      path: "/work/.git/config",
      file_text: "x",
    }),
    /\.git/,
  );
  assertError(
    await t.edit({
      command: "create",
      path: ".ratchet/results.jsonl",
      file_text: "x",
    }),
    /\.ratchet/,
  );
});

Deno.test("editor rejects unknown commands and undo_edit", async () => {
  const t = setup();
  assertError(
    await t.edit({ command: "undo_edit", path: "src/a.py" }),
    /undo_edit is not available/,
  );
  assertError(
    await t.edit({ command: "delete", path: "src/a.py" }),
    /Unknown command "delete"/,
  );
  assertError(await t.edit({ path: "src/a.py" }), /"command"/);
});

Deno.test("editor in a read-only role allows view and refuses edits", async () => {
  const t = setup(true);
  assert.equal(
    (await t.edit({ command: "view", path: "src/a.py" })).isError,
    false,
  );
  assertError(
    await t.edit({ command: "create", path: "src/new.py", file_text: "x" }),
    /read-only \(view only\)/,
  );
  assertError(
    await t.edit({
      command: "str_replace",
      path: "src/a.py",
      old_str: "1",
      new_str: "2",
    }),
    /read-only/,
  );
  assert.equal(t.read("src/new.py"), null);
  assert.equal(t.sandbox.puts.length, 0);
});
