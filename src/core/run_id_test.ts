import assert from "node:assert/strict";
import { isRunId, makeRunId } from "./run_id.ts";

Deno.test("makeRunId() renders the UTC time and the hex suffix", () => {
  // 23:59:07 on Jan 9 in UTC is already Jan 10 in UTC+1: the id must use UTC.
  const now = new Date("2025-01-09T23:59:07.123Z");
  assert.equal(makeRunId(now, "0a9f"), "20250109-235907-0a9f");
});

Deno.test("makeRunId() zero-pads every field", () => {
  const now = new Date(Date.UTC(2026, 1, 3, 4, 5, 6));
  assert.equal(makeRunId(now, "0000"), "20260203-040506-0000");
});

Deno.test("makeRunId() rejects a malformed suffix or an invalid date", () => {
  const now = new Date("2025-01-09T00:00:00Z");
  for (const bad of ["abc", "ABCD", "12345", "zzzz", ""]) {
    assert.throws(() => makeRunId(now, bad), RangeError, bad);
  }
  assert.throws(() => makeRunId(new Date(Number.NaN), "abcd"), RangeError);
});

Deno.test("isRunId() accepts what makeRunId() makes", () => {
  const id = makeRunId(new Date("2024-02-29T12:34:56Z"), "beef");
  assert.equal(isRunId(id), true);
});

Deno.test("isRunId() rejects wrong shapes and impossible dates", () => {
  for (
    const bad of [
      "",
      "20250109-235907",
      "20250109-235907-0A9F",
      "20250109-235907-0a9f ",
      "2025019-235907-0a9f",
      "20250109235907-0a9f",
      "20251309-235907-0a9f", // month 13
      "20250230-120000-0a9f", // Feb 30
      "20250109-246000-0a9f", // hour 24
      "20250109-236000-0a9f", // minute 60
      "runs/20250109-235907-0a9f",
    ]
  ) {
    assert.equal(isRunId(bad), false, bad);
  }
});
