import assert from "node:assert/strict";
import { join } from "node:path";
import { EnvironmentError, ExitCode } from "../errors.ts";
import { removeStaleTemps } from "./atomic.ts";
import { acquireLock, isPidAlive, readLock } from "./lock.ts";

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-lock-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** The PID of a process that has exited (and been reaped). */
async function deadPid(): Promise<number> {
  const child = new Deno.Command("true").spawn();
  await child.status;
  return child.pid;
}

/** Run a TypeScript snippet in a fresh Deno process. */
async function runChild(
  code: string,
  env: Record<string, string>,
): Promise<Deno.CommandOutput & { pid: number }> {
  const dir = await Deno.makeTempDir({ prefix: "ratchet-lock-child-" });
  try {
    const script = join(dir, "child.ts");
    await Deno.writeTextFile(script, code);
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "--no-config", "--no-lock", script],
      env,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    return { ...await child.output(), pid: child.pid };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const held = (pid: number) => (e: unknown) =>
  e instanceof EnvironmentError && e.exitCode === ExitCode.environment &&
  e.message.includes(`PID ${pid}`) && (e.hint ?? "").includes(`kill ${pid}`);

Deno.test("acquireLock() writes the PID and release() removes the lock", async () => {
  await withDir(async (dir) => {
    const path = join(dir, ".ratchet", "lock");
    const lock = await acquireLock(path, { pid: Deno.pid });
    assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
    assert.deepEqual(await readLock(path), { pid: Deno.pid, alive: true });
    await lock.release();
    assert.equal(await readLock(path), null);
    await lock.release(); // idempotent
    assert.deepEqual(
      await Array.fromAsync(Deno.readDir(join(dir, ".ratchet"))),
      [],
      "no temp files left",
    );
  });
});

Deno.test("acquireLock() refuses a live holder with exit 3 naming its PID", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const sleeper = new Deno.Command("sleep", { args: ["30"] }).spawn();
    try {
      await Deno.writeTextFile(path, `${sleeper.pid}\n`);
      await assert.rejects(
        acquireLock(path, { pid: Deno.pid }),
        held(sleeper.pid),
      );
      assert.equal(await Deno.readTextFile(path), `${sleeper.pid}\n`);
      assert.deepEqual(await readLock(path), {
        pid: sleeper.pid,
        alive: true,
      });
    } finally {
      sleeper.kill("SIGKILL");
      await sleeper.status;
    }
  });
});

Deno.test("acquireLock() takes over a lock naming a dead PID and says so", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const dead = await deadPid();
    await Deno.writeTextFile(path, `${dead}\n`);
    assert.deepEqual(await readLock(path), { pid: dead, alive: false });
    const takeovers: number[] = [];
    const lock = await acquireLock(path, {
      pid: Deno.pid,
      onStaleTakeover: (old) => takeovers.push(old),
    });
    assert.deepEqual(takeovers, [dead]);
    assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
    await lock.release();
  });
});

Deno.test("acquireLock() lets exactly one of two racing processes win", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const alive = () => true;
    const results = await Promise.allSettled([
      acquireLock(path, { pid: 1001, isAlive: alive }),
      acquireLock(path, { pid: 1002, isAlive: alive }),
    ]);
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 1);
    const winner = (await readLock(path, { isAlive: alive }))?.pid;
    assert.ok(held(winner ?? -1)((lost[0] as PromiseRejectedResult).reason));
  });
});

Deno.test("acquireLock() lets exactly one of two racing takeovers of a stale lock win", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const alive = (pid: number) => pid === 1001 || pid === 1002;
    for (let round = 0; round < 20; round++) {
      await Deno.writeTextFile(path, "999999\n");
      const results = await Promise.allSettled([
        acquireLock(path, { pid: 1001, isAlive: alive }),
        acquireLock(path, { pid: 1002, isAlive: alive }),
      ]);
      assert.equal(
        results.filter((r) => r.status === "fulfilled").length,
        1,
        `round ${round}`,
      );
      const winner = (await readLock(path, { isAlive: alive }))?.pid;
      assert.ok(winner === 1001 || winner === 1002);
    }
  });
});

Deno.test("acquireLock() treats a lock naming its own PID as a leftover", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    await Deno.writeTextFile(path, `${Deno.pid}\n`);
    const takeovers: number[] = [];
    const lock = await acquireLock(path, {
      pid: Deno.pid,
      onStaleTakeover: (old) => takeovers.push(old),
    });
    assert.deepEqual(takeovers, [Deno.pid]);
    await lock.release();
    assert.equal(await readLock(path), null);
  });
});

Deno.test("acquireLock() rejects a lock file that holds no PID", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    await Deno.writeTextFile(path, "hello\n");
    await assert.rejects(
      acquireLock(path, { pid: Deno.pid }),
      (e: unknown) =>
        e instanceof EnvironmentError && e.message.includes(path) &&
        e.message.includes("hello") && (e.hint ?? "").includes("delete"),
    );
  });
});

Deno.test("RunLock.release() leaves a lock that another process took over", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const lock = await acquireLock(path, { pid: Deno.pid });
    await Deno.writeTextFile(path, "4242\n");
    await lock.release();
    assert.equal(await Deno.readTextFile(path), "4242\n");
  });
});

Deno.test("RunLock is released by await using", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    {
      await using _lock = await acquireLock(path, { pid: Deno.pid });
      assert.notEqual(await readLock(path), null);
    }
    assert.equal(await readLock(path), null);
  });
});

const LOCK_URL = new URL("./lock.ts", import.meta.url).href;
const FAULT_URL = new URL("./fault.ts", import.meta.url).href;

function childAcquiring(path: string): string {
  return `
import { acquireLock } from "${LOCK_URL}";
import { createFaultHook } from "${FAULT_URL}";
const fault = createFaultHook(Deno.env.get("RATCHET_FAULT_POINT"));
await acquireLock(${JSON.stringify(path)}, { pid: Deno.pid, fault });
`;
}

Deno.test("acquireLock() after a holder was killed at lock.acquired takes over", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    const child = await runChild(childAcquiring(path), {
      RATCHET_FAULT_POINT: "lock.acquired",
    });
    assert.equal(child.signal, "SIGKILL");
    assert.deepEqual(await readLock(path), { pid: child.pid, alive: false });
    const takeovers: number[] = [];
    const lock = await acquireLock(path, {
      pid: Deno.pid,
      onStaleTakeover: (old) => takeovers.push(old),
    });
    assert.deepEqual(takeovers, [child.pid]);
    await lock.release();
  });
});

Deno.test("acquireLock() after a takeover was killed midway still works and leaves no litter", async () => {
  await withDir(async (dir) => {
    const path = join(dir, "lock");
    await Deno.writeTextFile(path, `${await deadPid()}\n`);
    const child = await runChild(childAcquiring(path), {
      RATCHET_FAULT_POINT: "lock.stale.moved-aside",
    });
    assert.equal(child.signal, "SIGKILL");
    assert.equal(await readLock(path), null, "the stale lock was moved aside");
    const lock = await acquireLock(path, { pid: Deno.pid });
    assert.equal(await Deno.readTextFile(path), `${Deno.pid}\n`);
    const removed = await removeStaleTemps(dir, isPidAlive);
    assert.equal(removed.length, 2, `aside + temp of the child: ${removed}`);
    assert.deepEqual(
      (await Array.fromAsync(Deno.readDir(dir))).map((e) => e.name),
      ["lock"],
    );
    await lock.release();
  });
});

Deno.test("isPidAlive() tells live from dead and rejects non-PIDs", async () => {
  assert.equal(isPidAlive(Deno.pid), true);
  assert.equal(isPidAlive(await deadPid()), false);
  for (const bad of [0, -1, Number.NaN, 1.5]) {
    assert.equal(isPidAlive(bad), false, String(bad));
  }
});
