import assert from "node:assert/strict";
import { esc, estimateParts } from "./format.ts";

Deno.test("esc() escapes the five characters that matter in HTML text and attributes", () => {
  assert.equal(
    esc(`<a href="x" title='y'>&</a>`),
    "&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;",
  );
});

Deno.test("estimateParts() rounds a mean to what its interval supports", () => {
  assert.deepEqual(estimateParts(null, null, "at iter 0"), ["—", "at iter 0"]);
  const [value, sub] = estimateParts(9.6312, [9.4821, 9.7893], "at iter 8");
  assert.match(sub, /^\[9\.\d+, 9\.\d+\] at iter 8$/);
  assert.ok(value.startsWith("9.6"), value);
});
