import assert from "node:assert/strict";
import { streamState } from "./output.ts";

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
