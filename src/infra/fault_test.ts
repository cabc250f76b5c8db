import assert from "node:assert/strict";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.ts";
import {
  createFaultHook,
  FAULT_POINTS,
  noFault,
  parseFaultSpec,
} from "./fault.ts";

const FAULT_URL = new URL("./fault.ts", import.meta.url).href;

/** Run a TypeScript snippet in a fresh Deno process. */
async function runChild(
  code: string,
  env: Record<string, string>,
): Promise<{ code: number; signal: Deno.Signal | null; stdout: string }> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-fault-" });
  try {
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(script, code);
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).output();
    return {
      code: out.code,
      signal: out.signal,
      stdout: new TextDecoder().decode(out.stdout),
    };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const CHILD = `
import { createFaultHook } from "${FAULT_URL}";
const fault = createFaultHook(Deno.env.get("RATCHET_FAULT_POINT"));
const say = (s: string) => Deno.stdout.writeSync(new TextEncoder().encode(s + "\\n"));
for (let i = 1; i <= 3; i++) {
  say("at " + i);
  fault("archive.mid");
  say("past " + i);
}
say("done");
`;

Deno.test("createFaultHook() kills the process with SIGKILL at the N-th arrival", async () => {
  const out = await runChild(CHILD, { RATCHET_FAULT_POINT: "archive.mid:2" });
  assert.equal(out.signal, "SIGKILL");
  assert.equal(out.stdout, "at 1\npast 1\nat 2\n");
});

Deno.test("createFaultHook() fires at the first arrival when no count is given", async () => {
  const out = await runChild(CHILD, { RATCHET_FAULT_POINT: "archive.mid" });
  assert.equal(out.signal, "SIGKILL");
  assert.equal(out.stdout, "at 1\n");
});

Deno.test("createFaultHook() is a no-op for a point that is not armed", async () => {
  const out = await runChild(CHILD, {
    RATCHET_FAULT_POINT: "archive.before-finish",
  });
  assert.equal(out.signal, null);
  assert.equal(out.code, 0);
  assert.equal(out.stdout.trim().split("\n").at(-1), "done");
});

Deno.test("createFaultHook() counts only the armed point", () => {
  const fired: string[] = [];
  const hook = createFaultHook("lock.acquired:2", {
    kill: (p) => fired.push(p),
  });
  hook("archive.mid");
  hook("lock.acquired");
  hook("archive.mid");
  assert.deepEqual(fired, []);
  hook("lock.acquired");
  assert.deepEqual(fired, ["lock.acquired"]);
  hook("lock.acquired");
  assert.deepEqual(fired, ["lock.acquired"], "fires once, not every time");
});

Deno.test("createFaultHook() returns noFault when the variable is unset or empty", () => {
  assert.equal(createFaultHook(undefined), noFault);
  assert.equal(createFaultHook(""), noFault);
});

Deno.test("parseFaultSpec() reads name and name:N", () => {
  assert.deepEqual(parseFaultSpec("archive.mid"), {
    point: "archive.mid",
    hit: 1,
  });
  assert.deepEqual(parseFaultSpec("archive.mid:12"), {
    point: "archive.mid",
    hit: 12,
  });
});

Deno.test("parseFaultSpec() rejects unknown points and bad counts, naming the value", () => {
  for (const bad of ["archive.mdi", "archive.mid:0", "archive.mid:x", ":2"]) {
    assert.throws(
      () => parseFaultSpec(bad),
      (e: unknown) =>
        e instanceof UsageError && e.message.includes(`"${bad}"`) &&
        e.hint !== undefined,
      bad,
    );
  }
});

Deno.test("FAULT_POINTS names are unique and well formed", () => {
  assert.equal(new Set(FAULT_POINTS).size, FAULT_POINTS.length);
  for (const p of FAULT_POINTS) assert.match(p, /^[a-z]+(\.[a-z-]+)+$/);
});

const SRC = fileURLToPath(new URL("../", import.meta.url));

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const entry of Deno.readDir(dir)) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) {
      files.push(path);
    }
  }
  return files;
}

Deno.test("FAULT_POINTS matches the points the source code reaches", async () => {
  const texts = new Map<string, string>();
  for (const file of await sourceFiles(SRC)) {
    if (file.endsWith(join("infra", "fault.ts"))) continue;
    texts.set(relative(SRC, file), await Deno.readTextFile(file));
  }
  const all = [...texts.values()].join("\n");
  for (const point of FAULT_POINTS) {
    // Atomic writes take a prefix ("config.write") and add the suffix.
    const prefix = point.slice(0, point.lastIndexOf("."));
    assert.ok(
      all.includes(`"${point}"`) || all.includes(`point: "${prefix}"`),
      `${point} is listed in FAULT_POINTS but no source file uses it`,
    );
  }
  // Every point a source file reaches (`fault("x")`, or an optional hook
  // `o.fault?.("x")`) must be listed, or RATCHET_FAULT_POINT refuses it.
  const unlisted: string[] = [];
  for (const [file, text] of texts) {
    for (const m of text.matchAll(/fault(?:\?\.)?\(\s*"([^"]+)"\s*\)/g)) {
      if (!FAULT_POINTS.includes(m[1] ?? "")) unlisted.push(`${file}: ${m[1]}`);
    }
  }
  assert.deepEqual(
    unlisted.sort(),
    [],
    "fault points reached but missing from FAULT_POINTS in src/infra/fault.ts",
  );
});
