import assert from "node:assert/strict";
import { join } from "node:path";
import type { ProtectionPolicy } from "../core/protect.ts";
import { tempDir } from "../../tests/_helpers/git_repo.ts";
import {
  modelPathToRel,
  openWorkspace,
  repoOverview,
  WorkspaceError,
} from "./workspace.ts";

const policy: ProtectionPolicy = {
  editable: [],
  harness: ["tests/**"],
  scratch: [],
  reportPath: "out/report.json",
  configPath: "ratchet.jsonc",
};

/** A tree with a subject, a harness file, and a directory outside it. */
async function fixture() {
  const tmp = await tempDir();
  const root = join(tmp.dir, "tree");
  const outside = join(tmp.dir, "outside");
  await Deno.mkdir(join(root, "src"), { recursive: true });
  await Deno.mkdir(join(root, "tests"), { recursive: true });
  await Deno.mkdir(join(root, ".git"), { recursive: true });
  await Deno.mkdir(outside);
  await Deno.writeTextFile(join(root, "src", "a.py"), "x = 1\n");
  await Deno.writeTextFile(join(root, "tests", "test_a.py"), "assert x == 1\n");
  await Deno.writeTextFile(
    join(root, ".git", "HEAD"),
    "ref: refs/heads/main\n",
  );
  await Deno.writeTextFile(join(outside, "secret.txt"), "secret\n");
  const ws = await openWorkspace(root, policy);
  return {
    tmp,
    root,
    outside,
    ws,
    [Symbol.asyncDispose]: () => tmp[Symbol.asyncDispose](),
  };
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
  assert.equal(modelPathToRel("/work"), "");
  assert.equal(modelPathToRel("/work/"), "");
  assert.equal(modelPathToRel("/work/src/../src/a.py"), "src/a.py");
});

Deno.test("modelPathToRel() refuses absolute paths outside /work and .. escapes", () => {
  for (
    const path of [
      "/etc/passwd",
      "/workfoo/a",
      "/",
      "../x",
      "src/../../x",
      "/work/../etc/passwd",
      "",
    ]
  ) {
    assert.throws(() => modelPathToRel(path), WorkspaceError, path);
  }
});

Deno.test("Workspace.resolve() reads harness files but refuses to write them", async () => {
  await using f = await fixture();
  const read = await f.ws.resolve("/work/tests/test_a.py", "read");
  assert.equal(read.kind, "file");
  assert.equal(read.host, join(f.ws.root, "tests", "test_a.py"));
  await refused(
    f.ws.resolve("/work/tests/test_a.py", "write"),
    /evaluation harness/,
  );
  await refused(f.ws.writeText("tests/new_test.py", "x"), /evaluation harness/);
});

Deno.test("Workspace.resolve() refuses .git, .ratchet and the report path", async () => {
  await using f = await fixture();
  await refused(f.ws.resolve("/work/.git/HEAD", "read"), /inside \.git/);
  await refused(f.ws.resolve(".ratchet/config.json", "write"), /\.ratchet/);
  await refused(f.ws.resolve("/work/out/report.json", "write"), /report file/);
  await refused(f.ws.resolve("/work", "write"), /root of the tree/);
});

Deno.test("Workspace.resolve() lets the model read but never write ratchet's config file", async () => {
  await using f = await fixture();
  await Deno.writeTextFile(join(f.root, "ratchet.jsonc"), "{}\n");
  const read = await f.ws.resolve("/work/ratchet.jsonc", "read");
  assert.equal(read.kind, "file");
  await refused(
    f.ws.writeText("ratchet.jsonc", '{"harness": []}'),
    /ratchet\.jsonc is ratchet's config file/,
  );
  // Through a link, and as a --config file elsewhere in the tree.
  await Deno.symlink("../ratchet.jsonc", join(f.root, "src", "cfg"));
  await refused(
    f.ws.writeText("src/cfg", "{}"),
    /resolves to \/work\/ratchet\.jsonc;.*ratchet\.jsonc is ratchet's config file/,
  );
  const custom = await openWorkspace(f.root, {
    ...policy,
    configPath: "conf/bench.jsonc",
  });
  await refused(
    custom.writeText("conf/bench.jsonc", "{}"),
    /conf\/bench\.jsonc is ratchet's config file/,
  );
});

Deno.test("Workspace.resolve() refuses symlinks that lead outside the tree, absolute or relative", async () => {
  await using f = await fixture();
  await Deno.symlink(
    join(f.outside, "secret.txt"),
    join(f.root, "src", "abs_link"),
  );
  await Deno.symlink(
    "../../outside/secret.txt",
    join(f.root, "src", "rel_link"),
  );
  await Deno.symlink(
    "/work/src/a.py",
    join(f.root, "src", "sandbox_style_link"),
  );
  await Deno.symlink(f.outside, join(f.root, "dir_link"));
  for (
    const path of [
      "/work/src/abs_link",
      "src/rel_link",
      "src/sandbox_style_link",
      "/work/dir_link/secret.txt",
    ]
  ) {
    await refused(
      f.ws.resolve(path, "read"),
      /resolves outside \/work.*symlink/,
    );
    await refused(f.ws.writeText(path, "pwned"), /resolves outside \/work/);
  }
  assert.equal(
    await Deno.readTextFile(join(f.outside, "secret.txt")),
    "secret\n",
  );
  // A new file under a symlinked directory that leads out is refused too.
  await refused(
    f.ws.writeText("/work/dir_link/new.txt", "x"),
    /resolves outside/,
  );
  await assert.rejects(
    Deno.stat(join(f.outside, "new.txt")),
    Deno.errors.NotFound,
  );
});

Deno.test("Workspace.resolve() judges the target of an in-tree symlink by its own path", async () => {
  await using f = await fixture();
  await Deno.symlink("../tests/test_a.py", join(f.root, "src", "to_harness"));
  await Deno.symlink("../.git/HEAD", join(f.root, "src", "to_git"));
  await Deno.symlink("src", join(f.root, "alias"));
  await refused(
    f.ws.writeText("src/to_harness", "x"),
    /resolves to \/work\/tests\/test_a\.py.*harness/,
  );
  await refused(
    f.ws.resolve("src/to_git", "read"),
    /resolves to \/work\/\.git\/HEAD; \.git\/HEAD is inside \.git/,
  );
  const alias = await f.ws.resolve("/work/alias/a.py", "write");
  assert.equal(alias.realRel, "src/a.py");
  assert.equal(alias.rel, "alias/a.py");
});

Deno.test("Workspace.resolve() detects symlink loops", async () => {
  await using f = await fixture();
  await Deno.symlink("loop_b", join(f.root, "loop_a"));
  await Deno.symlink("loop_a", join(f.root, "loop_b"));
  await refused(f.ws.resolve("loop_a", "read"), /too many levels of symlinks/);
});

Deno.test("Workspace.writeText() creates parents and writes through an in-tree dangling symlink", async () => {
  await using f = await fixture();
  const created = await f.ws.writeText("/work/src/pkg/new.py", "y = 2\n");
  assert.equal(created.kind, "missing");
  assert.equal(
    await Deno.readTextFile(join(f.root, "src", "pkg", "new.py")),
    "y = 2\n",
  );
  await Deno.symlink("later.py", join(f.root, "src", "dangling"));
  await f.ws.writeText("src/dangling", "z = 3\n");
  assert.equal(
    await Deno.readTextFile(join(f.root, "src", "later.py")),
    "z = 3\n",
  );
});

Deno.test("Workspace with --editable refuses everything outside the allowlist", async () => {
  await using f = await fixture();
  const ws = await openWorkspace(f.root, { ...policy, editable: ["src/**"] });
  await ws.writeText("src/a.py", "x = 2\n");
  await refused(ws.writeText("README.md", "x"), /not in the editable set/);
});

Deno.test("Workspace.readText() refuses directories, missing and binary files", async () => {
  await using f = await fixture();
  await Deno.writeFile(
    join(f.root, "src", "blob.bin"),
    new Uint8Array([0xff, 0xfe, 0x00, 0x80]),
  );
  await refused(f.ws.readText("src"), /not a regular file/);
  await refused(f.ws.readText("src/missing.py"), /does not exist/);
  await refused(f.ws.readText("src/blob.bin"), /not UTF-8/);
});

Deno.test("Workspace.list() lists two levels without .git and shows symlinks unfollowed", async () => {
  await using f = await fixture();
  await Deno.mkdir(join(f.root, "src", "deep", "deeper"), { recursive: true });
  await Deno.writeTextFile(join(f.root, "src", "deep", "deeper", "x.py"), "");
  await Deno.symlink(f.outside, join(f.root, "out_link"));
  const { entries, truncated } = await f.ws.list("/work", 2);
  assert.equal(truncated, false);
  assert.deepEqual(entries, [
    `/work/out_link -> ${f.outside}`,
    "/work/src/",
    "/work/src/a.py",
    "/work/src/deep/",
    "/work/tests/",
    "/work/tests/test_a.py",
  ]);
});

Deno.test("repoOverview() marks read-only paths", async () => {
  await using f = await fixture();
  const overview = await repoOverview(f.ws);
  assert.match(overview, /^\/work\/src\/a\.py$/m);
  assert.match(overview, /^\/work\/tests\/test_a\.py {2}\(read-only\)$/m);
  assert.doesNotMatch(overview, /\.git/);
});
