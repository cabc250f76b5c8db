import assert from "node:assert/strict";
import {
  memoryOutput,
  statusLineText,
  streamState,
  terminalOutput,
} from "./output.ts";

Deno.test("streamState() colours each stream only when it is a terminal itself", () => {
  const cases: [boolean, boolean, boolean, string][] = [
    // stdout, stderr, NO_COLOR → colorOut colorErr interactive sameTerminal
    [true, true, false, "1111"],
    [false, true, false, "0110"], // ratchet status > f
    [true, false, false, "1000"], // ratchet run 2> log
    [false, false, false, "0000"],
    [true, true, true, "0011"],
  ];
  for (const [stdout, stderr, noColor, expected] of cases) {
    const s = streamState({ stdout, stderr }, noColor);
    const got = [s.colorOut, s.colorErr, s.interactive, s.sameTerminal]
      .map((b) => (b ? "1" : "0")).join("");
    assert.equal(got, expected, `stdout ${stdout}, stderr ${stderr}`);
  }
});

Deno.test("statusLineText() erases the line and cuts the text to the terminal's width", () => {
  assert.equal(statusLineText("", () => 80), "\r\x1b[2K");
  assert.equal(
    statusLineText("iter 3 trial", () => 80),
    "\r\x1b[2Kiter 3 trial",
  );
  assert.equal(statusLineText("abcdefghij", () => 5), "\r\x1b[2Kabcd");
  let asked = 0;
  statusLineText("", () => ++asked);
  assert.equal(asked, 0, "a clear needs no width");
});

Deno.test("terminalOutput() writes lines and the status line to its streams, without a newline for the status", () => {
  const decoder = new TextDecoder();
  const written = { stdout: "", stderr: "" };
  const writer = (name: "stdout" | "stderr") => ({
    writeSync(p: Uint8Array): number {
      // Short writes: terminalOutput must write the rest.
      const n = Math.min(p.length, 3);
      written[name] += decoder.decode(p.subarray(0, n), { stream: true });
      return n;
    },
  });
  const output = terminalOutput({
    noColor: true,
    terminals: { stdout: false, stderr: true },
    streams: { stdout: writer("stdout"), stderr: writer("stderr") },
    columns: () => 10,
  });
  output.out("result");
  output.statusLine("iter 1 measuring");
  output.statusLine("");
  output.err("done\n");
  assert.equal(written.stdout, "result\n");
  assert.equal(written.stderr, "\r\x1b[2Kiter 1 me\r\x1b[2Kdone\n");
});

Deno.test("terminalOutput() drops the status line when the terminal has gone away", () => {
  const gone = {
    writeSync(): number {
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  };
  const output = terminalOutput({
    noColor: true,
    terminals: { stdout: false, stderr: true },
    streams: { stdout: gone, stderr: gone },
    columns: () => 80,
  });
  output.statusLine("iter 1");
  output.err("x");
});

Deno.test("memoryOutput() keeps status lines apart from stderr", () => {
  const output = memoryOutput();
  output.statusLine("iter 1");
  output.statusLine("");
  output.err("line");
  assert.deepEqual(output.statusLines, ["iter 1", ""]);
  assert.deepEqual(output.stderr, ["line"]);
});
