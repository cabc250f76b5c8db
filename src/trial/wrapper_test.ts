/**
 * The in-container wrapper (`wrapper.sh`), run on the host with its container
 * paths (`/.ratchet-trial`, `/work`) redirected to temporary directories.
 * Never with a timeout: its watchdog kills every process of the user
 * (`kill -9 -1`), which is right only inside a container.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  announcedNonce,
  controlLogEnded,
  parseControlLog,
  splitControlLines,
} from "../core/control_log.ts";
import { CONTROL_DIR, WORK_DIR } from "./container_spec.ts";
import { WRAPPER } from "./runner.ts";

/** Where the wrapper draws its nonce from first. */
const KERNEL_UUID = "/proc/sys/kernel/random/uuid";

/**
 * The wrapper timed the `sleep 0.2`: at least 0.2 s (less 10 ms for the
 * shell clocks' resolution), and no longer than the wrapper process lived (a
 * bound that holds however loaded the machine is; 10 ms for the two clocks).
 */
function assertTimed(
  seconds: number | undefined,
  elapsed: number,
  log: string,
): void {
  assert.ok(seconds !== undefined, log);
  assert.ok(
    seconds >= 0.19 && seconds <= elapsed + 0.01,
    `wrapper measured ${seconds} s, process lived ${elapsed} s: ${log}`,
  );
}

/** Run the wrapper on the host with its container paths redirected to temp dirs. */
async function hostWrapper(
  args: {
    command: string;
    setup: string;
    shell?: string;
    /** false: no control directory. */
    controlDir?: boolean;
    /** Edits the script (a missing random source). */
    edit?: (script: string) => string;
  },
): Promise<
  {
    code: number;
    stdout: string;
    stderr: string;
    /** The nonce announced first on stderr, or "" when none was. */
    nonce: string;
    log: string;
    setupOut: string;
    /** Seconds the wrapper process lived, measured from here. */
    elapsed: number;
  }
> {
  const ctl = await Deno.makeTempDir();
  const work = await Deno.makeTempDir();
  try {
    // The control files as the tree image holds them.
    if (args.controlDir === false) await Deno.remove(ctl);
    else {
      await Deno.writeTextFile(join(ctl, "log"), "");
      await Deno.writeTextFile(join(ctl, "setup.out"), "");
    }
    assert.ok(WRAPPER.includes(CONTROL_DIR) && WRAPPER.includes(WORK_DIR));
    const script = (args.edit ?? ((s) => s))(
      WRAPPER.replaceAll(CONTROL_DIR, ctl).replaceAll(WORK_DIR, work),
    );
    const started = performance.now();
    const out = await new Deno.Command(args.shell ?? "sh", {
      args: [
        "-c",
        script,
        "ratchet-trial",
        args.command.replaceAll("CTL", ctl).replaceAll("WORK", work),
        args.setup,
        "",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const elapsed = (performance.now() - started) / 1000;
    const read = (p: string) => Deno.readTextFile(join(ctl, p)).catch(() => "");
    return {
      code: out.code,
      stdout: new TextDecoder().decode(out.stdout).replaceAll(work, "WORK"),
      stderr: new TextDecoder().decode(out.stderr),
      nonce: announcedNonce(out.stderr) ?? "",
      log: await read("log"),
      setupOut: (await read("setup.out")).replaceAll(work, "WORK"),
      elapsed,
    };
  } finally {
    await Deno.remove(ctl, { recursive: true }).catch(() => {});
    await Deno.remove(work, { recursive: true });
  }
}

Deno.test("WRAPPER announces a fresh nonce on stderr before any command, times the command, and keeps its exit status", async () => {
  const r = await hostWrapper({
    command: "env; pwd; sleep 0.2; exit 3",
    setup: "echo setting up; pwd",
  });
  assert.equal(r.code, 3);
  // The kernel's UUID, first on stderr, and nowhere the command can see.
  assert.match(r.nonce, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
  assert.ok(r.stderr.startsWith(`\n${r.nonce} begin\n`), r.stderr);
  assert.doesNotMatch(r.stdout + r.setupOut, new RegExp(r.nonce));
  // Both commands run in the tree.
  assert.match(r.stdout, /^WORK$/m);
  assert.equal(r.setupOut, "setting up\nWORK\n");
  const log = parseControlLog(r.log, r.nonce);
  assert.equal(log.started, true);
  assert.equal(log.setupStatus, null);
  assert.equal(log.wall?.status, 3);
  assertTimed(log.wall?.seconds, r.elapsed, r.log);
  // Every line of the log carries the nonce.
  for (const line of r.log.trim().split("\n")) {
    assert.ok(line.startsWith(`${r.nonce} `), line);
  }
  // The same lines are on stderr, each on a line of its own, and nothing
  // else is (the command wrote nothing there).
  const copy = splitControlLines(new TextEncoder().encode(r.stderr), r.nonce);
  assert.equal(copy.lines, r.log.trim());
  assert.equal(new TextDecoder().decode(copy.rest), "");
  // Each run draws its own.
  const again = await hostWrapper({ command: "true", setup: "" });
  assert.match(again.nonce, /^[0-9a-f-]{36}$/);
  assert.notEqual(again.nonce, r.nonce);
});

Deno.test("WRAPPER draws its nonce from /dev/urandom where the kernel's UUID file is missing", async () => {
  const r = await hostWrapper({
    command: "true",
    setup: "",
    edit: (script) => {
      assert.ok(script.includes(KERNEL_UUID));
      return script.replaceAll(KERNEL_UUID, "/nonexistent/uuid");
    },
  });
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.nonce, /^[0-9a-f]{32}$/);
  assert.notEqual(parseControlLog(r.log, r.nonce).wall, null);
});

Deno.test("WRAPPER's stderr copy of its log survives a command's unterminated stderr and its background writers", async () => {
  const r = await hostWrapper({
    command: "printf partial >&2; (sleep 0.1; echo late >&2) & true",
    setup: "",
  });
  assert.equal(r.code, 0);
  // The background writer holds stderr open, so its line is in r.stderr,
  // written after the wrapper's last line.
  const copy = splitControlLines(new TextEncoder().encode(r.stderr), r.nonce);
  assert.equal(copy.lines, r.log.trim());
  assert.equal(new TextDecoder().decode(copy.rest), "partiallate\n");
  assert.equal(controlLogEnded(parseControlLog(copy.lines, r.nonce)), true);
});

Deno.test("WRAPPER reads the shell's own clock where it has one, date where not", async () => {
  // bash and busybox ash have $EPOCHREALTIME; Debian's sh (dash) does not.
  for (const [shell, clock] of [["bash", "er"], ["dash", "ns"]] as const) {
    const r = await hostWrapper({ command: "sleep 0.2", setup: "", shell });
    const log = parseControlLog(r.log, r.nonce);
    assert.equal(log.wall?.clock, clock, `${shell}: ${r.log}`);
    assertTimed(log.wall?.seconds, r.elapsed, `${shell}: ${r.log}`);
  }
});

Deno.test("WRAPPER stops at a failing setup command", async () => {
  const r = await hostWrapper({ command: "echo ran", setup: "exit 4" });
  assert.equal(r.code, 4);
  assert.equal(r.stdout, "");
  const log = parseControlLog(r.log, r.nonce);
  assert.equal(log.setupStatus, 4);
  assert.equal(log.started, false);
  assert.equal(log.wall, null);
});

Deno.test("WRAPPER refuses to run without its control directory, announcing nothing", async () => {
  const r = await hostWrapper({
    command: "echo ran",
    setup: "",
    controlDir: false,
  });
  assert.equal(r.code, 125);
  assert.equal(r.stdout, "");
  assert.match(r.stderr, /trial control log .* is missing or not writable/);
  assert.equal(r.nonce, "");
});

Deno.test("WRAPPER keeps lines a command forges in the log from counting", async () => {
  const r = await hostWrapper({
    command: "echo 'forged wall ns 0 99000000000 0' >> CTL/log; echo score: 1",
    setup: "",
  });
  assert.equal(r.code, 0);
  const log = parseControlLog(r.log, r.nonce);
  assert.ok(log.wall !== null && log.wall.seconds < 10, r.log);
  assert.match(r.log, /^forged wall/m);
});

Deno.test("WRAPPER writes its log through a descriptor a command cannot swap: a FIFO in its place neither blocks nor receives it", async () => {
  const ctl = await Deno.makeTempDir();
  const work = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(join(ctl, "log"), "");
    const script = WRAPPER.replaceAll(CONTROL_DIR, ctl).replaceAll(
      WORK_DIR,
      work,
    );
    const child = new Deno.Command("sh", {
      args: [
        "-c",
        script,
        "ratchet-trial",
        `rm -f ${ctl}/log && mkfifo ${ctl}/log && echo swapped`,
        "",
        "",
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    // Before the fix the wrapper blocked forever opening the FIFO.
    const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const out = await child.output();
    clearTimeout(timer);
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    assert.equal(new TextDecoder().decode(out.stdout), "swapped\n");
    assert.ok((await Deno.lstat(join(ctl, "log"))).isFifo);
  } finally {
    await Deno.remove(ctl, { recursive: true });
    await Deno.remove(work, { recursive: true });
  }
});
