import assert from "node:assert/strict";
import { join } from "node:path";
import { EnvironmentError, ExitCode } from "../errors.ts";
import { FakeRuntime } from "../../tests/_fakes/runtime.ts";
import { testConfig } from "../../tests/_helpers/config.ts";
import type { SpecContext } from "./container_spec.ts";
import {
  cleanupScript,
  PREPARED_KEPT,
  preparedRoots,
  prepareImage,
  type PrepareInput,
  repoKeyOf,
} from "./prepare.ts";
import { listSource, type SourceEntry } from "./tree_source.ts";
import { testGit } from "../../tests/_helpers/git_context.ts";

const USER = { uid: 4321, gid: 4322 };

function entry(path: string, kind: SourceEntry["kind"] = "file"): SourceEntry {
  return { path, kind, executable: false, size: 0 };
}

/**
 * Run `script` with sh, its /work and /.ratchet-prepare taken to `work` and
 * `own` (the script's own directory, which it removes).
 */
async function runScript(
  script: string,
  work: string,
  own: string,
): Promise<Deno.CommandOutput> {
  assert.ok(script.includes("cd /work ||"));
  const text = script.replaceAll("/.ratchet-prepare", own).replaceAll(
    "/work",
    work,
  );
  return await new Deno.Command("sh", {
    args: ["-c", text],
    cwd: work,
    stdout: "piped",
    stderr: "piped",
  }).output();
}

/** Every path under `dir`, relative, sorted ("/" after directories). */
async function walk(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for await (const e of Deno.readDir(rel === "" ? dir : join(dir, rel))) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory && !e.isSymlink) {
      out.push(`${path}/`, ...await walk(dir, path));
    } else out.push(path);
  }
  return out.sort();
}

const WEIRD = [
  'it\'s "quoted".txt',
  "new\nline.txt",
  "-rf",
  "$(touch pwned)",
  "`touch pwned2`",
  "sp ace;and&more|x",
  "*",
  "ünï cødé.py",
];

Deno.test("cleanupScript() removes exactly the tree's files, whatever their names, and keeps the rest", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-cleanup-" });
  try {
    const work = join(dir, "work");
    const own = join(dir, "own");
    await Deno.mkdir(join(work, "src", "gen dir"), { recursive: true });
    await Deno.mkdir(join(work, "empty_in_tree"));
    await Deno.mkdir(join(work, "weird 'dir'\n"));
    await Deno.mkdir(own);
    await Deno.writeTextFile(join(own, "cleanup"), "");
    const tree: SourceEntry[] = [
      entry("src", "dir"),
      entry("src/gen dir", "dir"),
      entry("empty_in_tree", "dir"),
      entry("weird 'dir'\n", "dir"),
      entry("src/a.py"),
      entry("package-lock.json"),
      entry("link", "symlink"),
      ...WEIRD.map((name) => entry(name)),
      ...WEIRD.map((name) => entry(`weird 'dir'\n/${name}`)),
    ];
    for (const e of tree) {
      if (e.kind === "file") await Deno.writeTextFile(join(work, e.path), "t");
    }
    await Deno.symlink("src/a.py", join(work, "link"));
    // What the prepare command made: kept.
    await Deno.mkdir(join(work, "node_modules", ".bin"), { recursive: true });
    await Deno.writeTextFile(join(work, "node_modules", "x.js"), "x");
    await Deno.symlink("../x.js", join(work, "node_modules", ".bin", "x"));
    await Deno.writeTextFile(join(work, "src", "gen dir", "out.c"), "gen");
    await Deno.writeTextFile(join(work, "it's new"), "n");

    const script = cleanupScript(tree, { uid: 0, gid: 0 });
    const out = await runScript(script, work, own);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(await walk(work), [
      "it's new",
      "node_modules/",
      "node_modules/.bin/",
      "node_modules/.bin/x",
      "node_modules/x.js",
      "src/",
      "src/gen dir/",
      "src/gen dir/out.c",
    ]);
    // Nothing in a name ran, and the script's own directory is gone.
    assert.equal(await Deno.stat(join(dir, "own")).catch(() => null), null);
    assert.equal(await Deno.stat(join(work, "pwned")).catch(() => null), null);
    assert.equal(await Deno.stat("pwned").catch(() => null), null);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cleanupScript() splits long lists into several commands and still removes everything", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-cleanup-" });
  try {
    const work = join(dir, "work");
    const own = join(dir, "own");
    await Deno.mkdir(own);
    const tree: SourceEntry[] = [];
    for (let d = 0; d < 250; d++) {
      tree.push(entry(`d${d}`, "dir"), entry(`d${d}/sub`, "dir"));
      await Deno.mkdir(join(work, `d${d}`, "sub"), { recursive: true });
      for (const f of ["a", "b"]) {
        tree.push(entry(`d${d}/sub/${f}`));
        await Deno.writeTextFile(join(work, `d${d}`, "sub", f), f);
      }
    }
    const script = cleanupScript(tree, { uid: 0, gid: 0 });
    assert.ok(
      script.split("\n").filter((l) => l.startsWith("rm -f")).length > 1,
    );
    assert.ok(
      script.split("\n").filter((l) => l.startsWith("rmdir")).length > 1,
    );
    const out = await runScript(script, work, own);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.deepEqual(await walk(work), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cleanupScript() gives what remains to the trial user", () => {
  const script = cleanupScript([entry("a")], USER);
  assert.match(script, /^chown -R 4321:4322 \/work \|\| exit 1$/m);
  assert.doesNotMatch(cleanupScript([entry("a")], { uid: 0, gid: 0 }), /chown/);
  assert.match(script, /\nexit 0\n$/);
});

Deno.test({
  name:
    "cleanupScript() as root chowns what the command left to the trial user",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "ratchet-cleanup-" });
    try {
      const work = join(dir, "work");
      const own = join(dir, "own");
      await Deno.mkdir(join(work, "node_modules"), { recursive: true });
      await Deno.mkdir(own);
      await Deno.writeTextFile(join(work, "node_modules", "x.js"), "x");
      const out = await runScript(cleanupScript([], USER), work, own);
      assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
      for (const p of [work, join(work, "node_modules", "x.js")]) {
        const info = await Deno.lstat(p);
        assert.equal(`${info.uid}:${info.gid}`, "4321:4322", p);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("preparedRoots() names the top of what the command added under /work", () => {
  const tree = [
    entry("src", "dir"),
    entry("src/a.py"),
    entry("a", "dir"),
    entry("a/b", "dir"),
    entry("README.md"),
  ];
  assert.deepEqual(
    preparedRoots([
      { path: "/work", kind: "modified" },
      { path: "/work/node_modules", kind: "added" },
      { path: "/work/node_modules/x/index.js", kind: "added" },
      { path: "/work/src", kind: "added" },
      { path: "/work/src/gen.js", kind: "added" },
      { path: "/work/a/b", kind: "modified" },
      { path: "/work/a/b/c", kind: "added" },
      { path: "/work/a/b/c/d/e", kind: "added" },
      { path: "/work/README.md", kind: "deleted" },
      { path: "/work/.venv", kind: "modified" },
      { path: "/workspace", kind: "added" },
      { path: "/usr/lib/python3/dist-packages/numpy", kind: "added" },
      { path: "/root/.npm", kind: "added" },
    ], tree),
    [".venv", "a/b/c", "node_modules", "src/gen.js"],
  );
  assert.deepEqual(preparedRoots([], tree), []);
});

/** A checkout to prepare, a fake engine holding its base image, and the input. */
async function prepared(overrides: Partial<PrepareInput> = {}) {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-prepare-" });
  await Deno.mkdir(join(dir, "src"));
  await Deno.writeTextFile(join(dir, "src", "a.py"), "import numpy\n");
  await Deno.writeTextFile(join(dir, "package-lock.json"), "{}\n");
  await Deno.writeTextFile(join(dir, "run.sh"), "#!/bin/sh\n");
  await Deno.chmod(join(dir, "run.sh"), 0o755);
  const runtime = new FakeRuntime();
  runtime.addImage("base:1");
  const host: Record<string, string> = { TOKEN: "t1" };
  const spec: SpecContext = {
    runId: "run-1",
    config: testConfig({ passEnv: ["TOKEN"] }),
    user: "4321:4322",
    env: (n) => host[n],
    extraMounts: [],
  };
  const lines: string[] = [];
  const input: PrepareInput = {
    runtime,
    spec,
    baseImage: "base:1",
    command: "npm ci",
    source: { kind: "dir", dir },
    git: testGit,
    trialUser: USER,
    repoKey: repoKeyOf(dir),
    onProgress: (l) => lines.push(l),
    ...overrides,
  };
  return {
    dir,
    runtime,
    input,
    host,
    lines,
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
}

Deno.test("prepareImage() runs the command on the start tree as root with network and commits it", async () => {
  await using p = await prepared();
  p.runtime.onRun = () => ({
    changes: [
      { path: "/work/node_modules", kind: "added" },
      { path: "/work/node_modules/x.js", kind: "added" },
      { path: "/work/src", kind: "added" },
    ],
  });
  const result = await prepareImage(p.input);
  assert.equal(result.reused, false);
  assert.match(result.image, /^ratchet-prepared:[0-9a-f]{24}$/);
  assert.deepEqual(result.roots, ["node_modules"]);
  const [run] = p.runtime.runs;
  assert.ok(run);
  assert.equal(run.spec.image, "base:1");
  assert.equal(run.spec.user, "0:0");
  assert.equal(run.spec.network, "bridge");
  assert.equal(run.spec.capabilities, "default");
  assert.equal(run.spec.cmd.at(-1), "npm ci");
  assert.equal(run.options.changes, true);
  // The start tree at /work, all of it the trial user's.
  assert.deepEqual(
    run.content!.map((e) =>
      `${e.kind} ${e.path} ${e.uid}:${e.gid} ${e.mode.toString(8)} ${
        e.data?.length ?? "-"
      }`
    ),
    [
      "dir work 4321:4322 755 -",
      "file work/package-lock.json 4321:4322 644 3",
      "file work/run.sh 4321:4322 755 10",
      "dir work/src 4321:4322 755 -",
      "file work/src/a.py 4321:4322 644 13",
    ],
  );
  // The cleanup script: the tree's own files go again before the commit.
  const listing = await listSource(testGit, p.input.source);
  const cleanup = run.files.find((f) => f.kind === "file");
  assert.equal(cleanup?.path, ".ratchet-prepare/cleanup");
  assert.equal(
    new TextDecoder().decode(cleanup?.data),
    cleanupScript(listing.entries, USER),
  );
  const image = p.runtime.images.get(result.image);
  assert.deepEqual(image?.labels, {
    "ratchet.run": "",
    "ratchet.role": "prepared",
    "ratchet.repo": p.input.repoKey,
    "ratchet.prepare-key": result.image.split(":")[1],
    "ratchet.prepared-roots": '["node_modules"]',
  });
  assert.match(p.lines.join("\n"), /Running --prepare-command .*npm ci/);
});

Deno.test("prepareImage() reuses the image of the same base, command, tree, user and environment", async () => {
  await using p = await prepared();
  p.runtime.onRun = () => ({
    changes: [{ path: "/work/.venv", kind: "added" }],
  });
  const first = await prepareImage(p.input);
  p.lines.length = 0;
  const again = await prepareImage(p.input);
  assert.deepEqual(again, {
    image: first.image,
    reused: true,
    roots: [".venv"],
  });
  assert.equal(p.runtime.runs.length, 1);
  assert.match(p.lines.join("\n"), /^Reusing the prepared image/);

  const other = async (change: () => void | Promise<void>) => {
    await change();
    const r = await prepareImage(p.input);
    assert.equal(r.reused, false);
    assert.notEqual(r.image, first.image);
    return r;
  };
  await other(() => {
    p.input.command = "pip install .";
  });
  await other(() => {
    p.host.TOKEN = "t2";
  });
  await other(() => Deno.writeTextFile(join(p.dir, "src", "b.py"), "b\n"));
  await other(() => {
    p.input.trialUser = { uid: 1000, gid: 1000 };
  });
});

Deno.test("prepareImage() fails with exit 3 and the output's tail, and leaves no image", async () => {
  for (
    const [result, words, hint] of [
      [
        { exitCode: 2 },
        /--prepare-command exited with code 2: npm ci\nLast lines of its output:\n\[stdout\]\ninstalling\ndone\n\[stderr\]\nwarning: x/,
        /docker run --rm -it base:1 sh/,
      ],
      [{ exitCode: null, timedOut: true }, /timed out/, /Fix the command/],
      [{ exitCode: 137, oomKilled: true }, /lack of memory/, /--memory/],
    ] as const
  ) {
    await using p = await prepared();
    p.runtime.onRun = () => ({
      stdout: new TextEncoder().encode("installing\ndone\n"),
      stderr: new TextEncoder().encode("warning: x\n"),
      ...result,
    });
    const error = await prepareImage(p.input).catch((e) => e);
    assert.ok(error instanceof EnvironmentError, String(error));
    assert.equal(error.exitCode, ExitCode.environment);
    assert.match(error.message, words);
    assert.match(error.hint ?? "", hint);
    assert.deepEqual([...p.runtime.images.keys()], ["base:1"]);
  }
});

Deno.test("prepareImage() fails with exit 3 when the base image is gone", async () => {
  await using p = await prepared({ baseImage: "gone:1" });
  await assert.rejects(
    prepareImage(p.input),
    (e: unknown) => e instanceof EnvironmentError && /gone:1/.test(e.message),
  );
});

Deno.test("prepareImage() keeps the newest prepared images of the repository only", async () => {
  await using p = await prepared();
  const labels = (repo: string) => ({
    "ratchet.role": "prepared",
    "ratchet.repo": repo,
  });
  p.runtime.addImage("ratchet-prepared:old1", labels(p.input.repoKey));
  p.runtime.addImage("ratchet-prepared:old2", labels(p.input.repoKey));
  p.runtime.addImage("ratchet-prepared:old3", labels(p.input.repoKey));
  p.runtime.addImage("ratchet-prepared:elsewhere", labels("another-repo"));
  const { image } = await prepareImage(p.input);
  const left = [...p.runtime.images.keys()].filter((n) =>
    p.runtime.images.get(n)?.labels["ratchet.repo"] === p.input.repoKey
  );
  assert.equal(left.length, PREPARED_KEPT);
  assert.deepEqual(left.sort(), [image, "ratchet-prepared:old3"].sort());
  assert.ok(p.runtime.images.has("ratchet-prepared:elsewhere"));
});

Deno.test("repoKeyOf() names a repository by its path", () => {
  assert.match(repoKeyOf("/a/repo"), /^[0-9a-f]{16}$/);
  assert.equal(repoKeyOf("/a/repo"), repoKeyOf("/a/repo"));
  assert.notEqual(repoKeyOf("/a/repo"), repoKeyOf("/b/repo"));
});
