/**
 * The editor tool's view of the sandbox (`openWorkspace`), against an
 * in-memory sandbox that answers like the Engine API (tests/_fakes/sandbox.ts):
 * every refusal is checked to leave the sandbox untouched.
 */
import assert from "node:assert/strict";
import type { ProtectionPolicy } from "../core/protect.ts";
import { FakeSandbox, type FakeSpec } from "../../tests/_fakes/sandbox.ts";
import {
  MAX_LIST_ENTRIES,
  MAX_READ_BYTES,
  modelPathToRel,
  openWorkspace,
  repoOverview,
  toModelPath,
  WorkspaceError,
} from "./workspace.ts";

const policy: ProtectionPolicy = {
  editable: [],
  harness: ["tests/**"],
  scratch: [],
  reportPath: "out/report.json",
  configPath: "ratchet.jsonc",
};

const OWNER = { uid: 1234, gid: 1235 };

/** A sandbox with a subject, a harness file, and a secret outside /work. */
function fixture(
  extra: Record<string, FakeSpec> = {},
  p: ProtectionPolicy = policy,
) {
  const sandbox = new FakeSandbox({
    "src/a.py": "x = 1\n",
    "tests/test_a.py": "assert x == 1\n",
    ...extra,
  });
  // Outside the working copy, as the image has it.
  sandbox.nodes.set("/outside", { kind: "dir", mode: 0o755, uid: 0, gid: 0 });
  sandbox.nodes.set("/outside/secret.txt", {
    kind: "file",
    data: new TextEncoder().encode("secret\n"),
    mode: 0o644,
    uid: 0,
    gid: 0,
  });
  return { sandbox, ws: openWorkspace(sandbox, p, OWNER) };
}

async function refused(
  promise: Promise<unknown>,
  pattern: RegExp,
): Promise<void> {
  const error = await promise.then(() => null, (e) => e);
  assert.ok(
    error instanceof WorkspaceError,
    `expected a refusal, got ${error}`,
  );
  assert.match(error.message, pattern);
}

Deno.test("modelPathToRel() maps /work paths and relative paths into the tree", () => {
  assert.equal(modelPathToRel("/work/src/a.py"), "src/a.py");
  assert.equal(modelPathToRel("src/a.py"), "src/a.py");
  assert.equal(modelPathToRel("./src//a.py"), "src/a.py");
  assert.equal(modelPathToRel("  src/a.py\n"), "src/a.py");
  assert.equal(modelPathToRel("/work"), "");
  assert.equal(modelPathToRel("/work/"), "");
  assert.equal(modelPathToRel("/work/src/../src/a.py"), "src/a.py");
  assert.equal(modelPathToRel("\\work\\src\\a.py"), "src/a.py");
  assert.equal(toModelPath(""), "/work");
  assert.equal(toModelPath("src/a.py"), "/work/src/a.py");
});

Deno.test("modelPathToRel() refuses absolute paths outside /work, .. escapes, NUL and empty paths", () => {
  for (
    const path of [
      "/etc/passwd",
      "/workfoo/a",
      "/",
      "../x",
      "src/../../x",
      "/work/../etc/passwd",
      "",
      "  ",
      "src/a\0.py",
    ]
  ) {
    assert.throws(() => modelPathToRel(path), WorkspaceError, path);
  }
});

Deno.test("Workspace.resolve() reads harness files but refuses to write them", async () => {
  const { sandbox, ws } = fixture();
  const read = await ws.resolve("/work/tests/test_a.py", "read");
  assert.equal(read.kind, "file");
  assert.equal(read.target, "/work/tests/test_a.py");
  assert.equal(read.display, "/work/tests/test_a.py");
  await refused(
    ws.resolve("/work/tests/test_a.py", "write"),
    /protected: .*Change the code under optimization, never the evaluation harness/,
  );
  await refused(ws.writeText("tests/new_test.py", "x"), /evaluation harness/);
  assert.equal(sandbox.puts.length, 0);
  assert.equal(sandbox.text("tests/test_a.py"), "assert x == 1\n");
});

Deno.test("Workspace.resolve() refuses .git, .ratchet, the report path and the root", async () => {
  const { sandbox, ws } = fixture({ ".git/HEAD": "ref: refs/heads/main\n" });
  await refused(ws.resolve("/work/.git/HEAD", "read"), /inside \.git/);
  await refused(ws.resolve(".ratchet/config.json", "write"), /\.ratchet/);
  await refused(ws.writeText(".ratchet/results.jsonl", "x"), /\.ratchet/);
  await refused(ws.resolve("/work/out/report.json", "write"), /report file/);
  await refused(ws.writeText("out/report.json", "score: 1"), /report file/);
  await refused(ws.resolve("/work", "write"), /root of the tree/);
  await refused(ws.writeText("/etc/passwd", "x"), /outside \/work/);
  await refused(ws.writeText("../x", "x"), /climbs out of \/work/);
  assert.equal(sandbox.puts.length, 0);
});

Deno.test("Workspace.resolve() lets the model read but never write ratchet's config file", async () => {
  const { sandbox, ws } = fixture({
    "ratchet.jsonc": "{}\n",
    // Through a link, and as a --config file elsewhere in the tree.
    "src/cfg": { symlink: "../ratchet.jsonc" },
    "conf/bench.jsonc": "{}\n",
  });
  const read = await ws.resolve("/work/ratchet.jsonc", "read");
  assert.equal(read.kind, "file");
  await refused(
    ws.writeText("ratchet.jsonc", '{"harness": []}'),
    /ratchet\.jsonc is ratchet's config file/,
  );
  await refused(
    ws.writeText("src/cfg", "{}"),
    /resolves to \/work\/ratchet\.jsonc;.*ratchet\.jsonc is ratchet's config file/,
  );
  const custom = openWorkspace(
    sandbox,
    { ...policy, configPath: "conf/bench.jsonc" },
    OWNER,
  );
  await refused(
    custom.writeText("conf/bench.jsonc", "{}"),
    /conf\/bench\.jsonc is ratchet's config file/,
  );
  assert.equal(sandbox.puts.length, 0);
});

Deno.test("Workspace.resolve() refuses .git and .ratchet by the name the model uses, even as links into the tree", async () => {
  const { sandbox, ws } = fixture({
    ".git": { symlink: "src" },
    ".ratchet": { symlink: "src" },
  });
  await refused(ws.writeText(".git/a.py", "x"), /\.git\/a\.py is inside \.git/);
  await refused(ws.readText(".ratchet/a.py"), /inside \.ratchet/);
  assert.equal(sandbox.puts.length, 0);
});

Deno.test("Workspace.resolve() refuses symlinks that lead outside /work, absolute or relative", async () => {
  const { sandbox, ws } = fixture({
    "src/abs_link": { symlink: "/outside/secret.txt" },
    // Climbs past the container's root, which stops it at "/".
    "src/rel_link": { symlink: "../../../../outside/secret.txt" },
    "dir_link": { symlink: "/outside" },
    "up_link": { symlink: ".." },
    "etc_link": { symlink: "/etc/passwd" },
  });
  for (
    const path of [
      "/work/src/abs_link",
      "src/rel_link",
      "/work/dir_link/secret.txt",
      "up_link/outside/secret.txt",
      "etc_link",
    ]
  ) {
    await refused(
      ws.resolve(path, "read"),
      /resolves outside \/work \(through the symlink .* -> \/.*\)/,
    );
    await refused(ws.readText(path), /resolves outside \/work/);
    await refused(ws.writeText(path, "pwned"), /resolves outside \/work/);
  }
  // A new file under a symlinked directory that leads out is refused too.
  await refused(
    ws.writeText("/work/dir_link/new.txt", "x"),
    /resolves outside/,
  );
  await refused(ws.list("/work/dir_link", 1), /resolves outside/);
  assert.equal(sandbox.puts.length, 0);
  assert.equal(sandbox.nodes.has("/outside/new.txt"), false);
});

Deno.test("Workspace.resolve() refuses a link through a link that leads outside", async () => {
  const { sandbox, ws } = fixture({
    "a": { symlink: "b" },
    "b": { symlink: "src/c" },
    "src/c": { symlink: "../../outside" },
  });
  await refused(ws.resolve("a/secret.txt", "read"), /resolves outside \/work/);
  await refused(ws.writeText("a/secret.txt", "x"), /resolves outside \/work/);
  await refused(ws.writeText("/work/a", "x"), /resolves outside \/work/);
  assert.equal(sandbox.puts.length, 0);
  assert.equal(
    new TextDecoder().decode(
      (sandbox.nodes.get("/outside/secret.txt") as { data: Uint8Array }).data,
    ),
    "secret\n",
  );
});

Deno.test("Workspace.resolve() judges the target of an in-tree symlink by its own path", async () => {
  const { sandbox, ws } = fixture({
    ".git/HEAD": "ref\n",
    "src/to_harness": { symlink: "../tests/test_a.py" },
    "src/to_git": { symlink: "../.git/HEAD" },
    "src/to_report": { symlink: "/work/out/report.json" },
    "alias": { symlink: "src" },
    // Absolute inside the container: /work is where the tree is.
    "src/abs_inside": { symlink: "/work/src/a.py" },
  });
  await refused(
    ws.writeText("src/to_harness", "x"),
    /resolves to \/work\/tests\/test_a\.py; that path is protected.*harness/,
  );
  await refused(
    ws.resolve("src/to_git", "read"),
    /resolves to \/work\/\.git\/HEAD; \.git\/HEAD is inside \.git/,
  );
  await refused(ws.writeText("src/to_report", "score: 9"), /report file/);
  assert.equal(sandbox.puts.length, 0);
  const alias = await ws.resolve("/work/alias/a.py", "write");
  assert.equal(alias.realRel, "src/a.py");
  assert.equal(alias.rel, "alias/a.py");
  assert.equal(alias.target, "/work/src/a.py");
  const inside = await ws.readText("src/abs_inside");
  assert.equal(inside.text, "x = 1\n");
  assert.equal(inside.resolved.realRel, "src/a.py");
  // Reading the harness through a link is allowed.
  assert.equal(
    (await ws.readText("src/to_harness")).text,
    "assert x == 1\n",
  );
});

Deno.test("Workspace.resolve() refuses a symlink loop", async () => {
  const { ws } = fixture({
    "loop_a": { symlink: "loop_b" },
    "loop_b": { symlink: "loop_a" },
  });
  await refused(ws.resolve("loop_a", "read"), /\/work\/loop_a/);
  await refused(ws.writeText("loop_b/x", "y"), /\/work\/loop_b\/x/);
});

Deno.test("Workspace.writeText() creates parents owned by the trial user", async () => {
  const { sandbox, ws } = fixture();
  const created = await ws.writeText("/work/src/pkg/deep/new.py", "y = 2\n");
  assert.equal(created.kind, "missing");
  assert.equal(sandbox.text("src/pkg/deep/new.py"), "y = 2\n");
  assert.equal(sandbox.puts.length, 1);
  const put = sandbox.puts[0]!;
  // Put under the deepest directory that exists.
  assert.equal(put.dir, "/work/src");
  assert.deepEqual(
    put.entries.map((e) =>
      `${e.kind} ${e.path} ${e.mode.toString(8)} ${e.uid}:${e.gid}`
    ),
    [
      "dir pkg 755 1234:1235",
      "dir pkg/deep 755 1234:1235",
      "file pkg/deep/new.py 644 1234:1235",
    ],
  );
});

Deno.test("Workspace.writeText() writes through an in-tree dangling symlink and keeps an executable's mode", async () => {
  const { sandbox, ws } = fixture({
    "src/dangling": { symlink: "later.py" },
    "run.sh": { file: "#!/bin/sh\n", mode: 0o755 },
  });
  const through = await ws.writeText("src/dangling", "z = 3\n");
  assert.equal(through.realRel, "src/later.py");
  assert.equal(sandbox.text("src/later.py"), "z = 3\n");
  // The link itself stays a link.
  assert.equal(sandbox.nodes.get("/work/src/dangling")?.kind, "symlink");
  await ws.writeText("run.sh", "#!/bin/sh\necho hi\n");
  const node = sandbox.nodes.get("/work/run.sh");
  assert.equal(node?.kind === "file" ? node.mode : null, 0o755);
});

Deno.test("Workspace.writeText() refuses directories, special files and paths under a file", async () => {
  const { sandbox, ws } = fixture({ "pipe": { fifo: true } });
  await refused(ws.writeText("src", "x"), /\/work\/src is a directory/);
  await refused(ws.writeText("pipe", "x"), /not a regular file/);
  await refused(
    ws.writeText("src/a.py/inner.py", "x"),
    /\/work\/src\/a\.py is not a directory/,
  );
  assert.equal(sandbox.puts.length, 0);
});

Deno.test("Workspace with --editable refuses everything outside the allowlist", async () => {
  const { sandbox, ws } = fixture({ "README.md": "r\n" }, {
    ...policy,
    editable: ["src/**"],
  });
  await ws.writeText("src/a.py", "x = 2\n");
  assert.equal(sandbox.text("src/a.py"), "x = 2\n");
  await refused(ws.writeText("README.md", "x"), /not in the editable set/);
  assert.equal(sandbox.text("README.md"), "r\n");
});

Deno.test("Workspace.readText() refuses directories, missing, special, binary and too large files", async () => {
  const { ws } = fixture({
    "src/blob.bin": new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
    "pipe": { fifo: true },
    "big.txt": "x".repeat(MAX_READ_BYTES + 1),
    "max.txt": "y".repeat(MAX_READ_BYTES),
  });
  await refused(ws.readText("src"), /not a regular file/);
  await refused(ws.readText("src/missing.py"), /does not exist/);
  await refused(ws.readText("pipe"), /not a regular file/);
  await refused(ws.readText("src/blob.bin"), /not UTF-8/);
  await refused(ws.readText("big.txt"), /larger than 4194304 bytes.*use bash/);
  assert.equal((await ws.readText("max.txt")).text.length, MAX_READ_BYTES);
});

Deno.test("Workspace.list() lists two levels without .git and .ratchet and shows symlinks unfollowed", async () => {
  const { ws } = fixture({
    ".git/HEAD": "ref\n",
    ".ratchet/x": "",
    ".hidden": "",
    "src/deep/deeper/x.py": "",
    "out_link": { symlink: "/outside" },
  });
  const { entries, truncated, resolved } = await ws.list("/work", 2);
  assert.equal(resolved.kind, "directory");
  assert.equal(truncated, false);
  assert.deepEqual(entries, [
    "/work/.hidden",
    "/work/out_link -> /outside",
    "/work/src/",
    "/work/src/a.py",
    "/work/src/deep/",
    "/work/tests/",
    "/work/tests/test_a.py",
  ]);
  await refused(ws.list("src/a.py", 1), /not a directory/);
});

Deno.test("Workspace.list() of a linked directory names entries by where they are", async () => {
  const { ws } = fixture({ "alias": { symlink: "src" } });
  assert.deepEqual((await ws.list("/work/alias", 1)).entries, [
    "/work/src/a.py",
  ]);
});

Deno.test("Workspace.list() stops at MAX_LIST_ENTRIES and says so", async () => {
  const many: Record<string, string> = {};
  for (let i = 0; i < MAX_LIST_ENTRIES + 5; i++) {
    many[`gen/f${String(i).padStart(5, "0")}`] = "";
  }
  const { ws } = fixture(many);
  const listed = await ws.list("gen", 1);
  assert.equal(listed.truncated, true);
  assert.equal(listed.entries.length, MAX_LIST_ENTRIES);
  assert.equal(listed.entries[0], "/work/gen/f00000");
});

Deno.test("repoOverview() lists three levels, marks read-only paths and says what it left out", () => {
  const paths = [
    { path: "src", kind: "dir" as const },
    { path: "src/a.py", kind: "file" as const },
    { path: "src/x/y/z.py", kind: "file" as const },
    { path: "tests", kind: "dir" as const },
    { path: "tests/test_a.py", kind: "file" as const },
    { path: "link", kind: "symlink" as const },
  ];
  const overview = repoOverview(paths, policy);
  assert.equal(
    overview,
    [
      "/work/link",
      "/work/src/",
      "/work/src/a.py",
      "/work/tests/  (read-only)",
      "/work/tests/test_a.py  (read-only)",
    ].join("\n"),
  );
  const short = repoOverview(paths, policy, 2);
  assert.equal(
    short,
    "/work/link\n/work/src/\n… 3 more entries (view a directory to see them)",
  );
});
