import assert from "node:assert/strict";
import { join } from "node:path";
import { matchesAny } from "../core/protect.ts";
import { findMatches, snapshotHarness } from "./harness_snapshot.ts";

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-harness-" });
  for (const [path, content] of Object.entries(files)) {
    await Deno.mkdir(join(dir, path, ".."), { recursive: true });
    await Deno.writeTextFile(join(dir, path), content);
  }
  return dir;
}

Deno.test("findMatches() agrees with matchesAny, stops at matched dirs, never follows symlinks", async () => {
  const dir = await tree({
    "tests/a_test.py": "",
    "tests/sub/b.py": "",
    "src/x_test.py": "",
    "src/deep/y_test.py": "",
    "src/z.py": "",
    "data/gold.csv": "",
    "data/other.txt": "",
    ".git/config": "",
    ".git/hooks/pre_test.py": "",
    ".ratchet/tmp/x_test.py": "",
    "score.py": "",
  });
  try {
    await Deno.symlink(join(dir, "src"), join(dir, "linked"));
    await Deno.symlink("/etc", join(dir, "data/etc_test.py"));
    const globs = [
      "tests/",
      "**/*_test.py",
      "data/*.csv",
      "score.py",
      "missing/**",
    ];
    const found = await findMatches(dir, globs);
    assert.deepEqual(found, [
      { path: "data/etc_test.py", kind: "symlink" },
      { path: "data/gold.csv", kind: "file" },
      { path: "score.py", kind: "file" },
      { path: "src/deep/y_test.py", kind: "file" },
      { path: "src/x_test.py", kind: "file" },
      { path: "tests", kind: "dir" },
    ]);
    // Every file matchesAny protects is covered by a found entry.
    for (
      const f of [
        "tests/a_test.py",
        "tests/sub/b.py",
        "src/x_test.py",
        "src/deep/y_test.py",
        "src/z.py",
        "data/gold.csv",
        "data/other.txt",
        "score.py",
      ]
    ) {
      const covered = found.some((e) =>
        f === e.path || f.startsWith(e.path + "/")
      );
      assert.equal(covered, matchesAny(f, globs), f);
    }
    assert.deepEqual(await findMatches(dir, []), []);
    assert.deepEqual(await findMatches(dir, ["./", ""]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("findMatches() does not walk through a symlink on a glob's literal prefix", async () => {
  const dir = await tree({ "real/eval/gold.txt": "", "other/x.txt": "" });
  try {
    await Deno.symlink(join(dir, "real"), join(dir, "alias"));
    // The literal prefix passes through the link: nothing is matched there.
    assert.deepEqual(await findMatches(dir, ["alias/eval/**"]), []);
    // The link itself is matched (as a symlink) when a glob names it.
    assert.deepEqual(await findMatches(dir, ["alias"]), [
      { path: "alias", kind: "symlink" },
    ]);
    // `dir/**` matches the directory itself, which covers its contents.
    assert.deepEqual(await findMatches(dir, ["real/eval/**"]), [
      { path: "real/eval", kind: "dir" },
    ]);
    assert.deepEqual(await findMatches(dir, ["real/eval/*.txt"]), [
      { path: "real/eval/gold.txt", kind: "file" },
    ]);
    assert.deepEqual(await findMatches(dir, ["nowhere/deep/*.txt"]), []);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("snapshotHarness() copies the harness matches, keeping modes, times and symlinks", async () => {
  const dir = await tree({
    "tests/a.py": "a",
    "tests/sub/b.py": "b",
    "score.sh": "s",
    "src/main.py": "m",
    "src/deep/c_test.py": "c",
  });
  const dest = await Deno.makeTempDir();
  try {
    await Deno.symlink("../score.sh", join(dir, "tests/link.py"));
    await Deno.chmod(join(dir, "score.sh"), 0o755);
    const mtime = new Date("2020-01-02T03:04:05Z");
    await Deno.utime(join(dir, "score.sh"), mtime, mtime);
    const copied = await snapshotHarness(
      dir,
      ["tests", "score.sh", "**/*_test.py"],
      join(dest, "h"),
    );
    assert.deepEqual(copied.map((e) => e.path), [
      "score.sh",
      "src/deep/c_test.py",
      "tests",
    ]);
    assert.equal(await Deno.readTextFile(join(dest, "h/tests/sub/b.py")), "b");
    assert.equal(
      await Deno.readTextFile(join(dest, "h/src/deep/c_test.py")),
      "c",
    );
    assert.equal(
      await Deno.readLink(join(dest, "h/tests/link.py")),
      "../score.sh",
    );
    const info = await Deno.stat(join(dest, "h/score.sh"));
    assert.equal(info.mode! & 0o777, 0o755);
    assert.equal(info.mtime?.getTime(), mtime.getTime());
    assert.equal(
      await Deno.stat(join(dest, "h/src/main.py")).catch(() => null),
      null,
    );
    // A second snapshot over the first overwrites it.
    await Deno.writeTextFile(join(dir, "tests/a.py"), "a2");
    await snapshotHarness(dir, ["tests"], join(dest, "h"));
    assert.equal(await Deno.readTextFile(join(dest, "h/tests/a.py")), "a2");
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(dest, { recursive: true });
  }
});
