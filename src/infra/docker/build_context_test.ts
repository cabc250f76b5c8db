import assert from "node:assert/strict";
import { join } from "node:path";
import { readTar } from "../tar.ts";
import { buildContext, dockerignoreMatcher } from "./build_context.ts";

Deno.test("dockerignoreMatcher() follows .dockerignore: comments, parents, last match wins", () => {
  const ignored = dockerignoreMatcher(
    [
      "# a comment",
      "",
      "node_modules",
      "/build/",
      "./dist",
      "*.log",
      "!keep.log",
      "data/**",
      "!data/small.csv",
    ].join("\r\n"),
  );
  for (
    const path of [
      "node_modules",
      "node_modules/x/index.js",
      "build/out.o",
      "dist/a.js",
      "debug.log",
      "data/big.bin",
    ]
  ) {
    assert.equal(ignored(path), true, path);
  }
  for (
    const path of [
      "src/node_modules_like.ts",
      "keep.log",
      "src/debug.log",
      "data/small.csv",
      "# a comment",
      "Dockerfile",
    ]
  ) {
    assert.equal(ignored(path), false, path);
  }
  assert.equal(dockerignoreMatcher("")("anything"), false);
});

Deno.test("buildContext() sends the context directory as a tar without .ratchet and ignored files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-ctx-" });
  try {
    const write = async (rel: string, text: string) => {
      await Deno.mkdir(join(dir, rel, ".."), { recursive: true });
      await Deno.writeTextFile(join(dir, rel), text);
    };
    await write(".dockerignore", "secrets\n*.log\n!keep.log\n");
    await write("Dockerfile", "FROM on-disk\n");
    await write("app/main.py", "print(1)\n");
    await write("app/run.sh", "#!/bin/sh\n");
    await Deno.chmod(join(dir, "app/run.sh"), 0o755);
    await write("secrets/key", "k\n");
    await write("debug.log", "x\n");
    await write("keep.log", "kept\n");
    await write(".ratchet/state.json", "{}\n");
    await Deno.symlink("app/main.py", join(dir, "link.py"));
    const fifo = await new Deno.Command("mkfifo", {
      args: [join(dir, "pipe")],
    }).output();
    assert.ok(fifo.success);
    const entries = await Array.fromAsync(
      readTar(buildContext(dir, "ratchet.Dockerfile", "FROM given\n"), {
        maxFileBytes: 1 << 20,
        over: "truncate",
      }),
    );
    const text = (path: string) => {
      const data = entries.find((e) => e.path === path)?.data;
      return data ? new TextDecoder().decode(data) : null;
    };
    assert.deepEqual(entries.map((e) => e.path), [
      "ratchet.Dockerfile",
      ".dockerignore",
      "Dockerfile",
      "app",
      "app/main.py",
      "app/run.sh",
      "keep.log",
      "link.py",
    ]);
    assert.equal(text("ratchet.Dockerfile"), "FROM given\n");
    // The engine drops the Dockerfile and .dockerignore after reading them.
    assert.equal(
      text(".dockerignore"),
      "secrets\n*.log\n!keep.log\n\nratchet.Dockerfile\n.dockerignore\n",
    );
    assert.equal(text("app/main.py"), "print(1)\n");
    const run = entries.find((e) => e.path === "app/run.sh")!;
    assert.equal(run.mode & 0o777, 0o755);
    const link = entries.find((e) => e.path === "link.py")!;
    assert.deepEqual([link.kind, link.linkTarget], ["symlink", "app/main.py"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("buildContext() without a directory sends the Dockerfile alone", async () => {
  const entries = await Array.fromAsync(
    readTar(buildContext(null, "Dockerfile", "FROM busybox\n"), {
      maxFileBytes: 1024,
      over: "truncate",
    }),
  );
  assert.deepEqual(
    entries.map((e) => [e.path, new TextDecoder().decode(e.data!)]),
    [["Dockerfile", "FROM busybox\n"]],
  );
});
