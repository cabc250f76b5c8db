import assert from "node:assert/strict";
import { mulberry32 } from "./rng.ts";

Deno.test("mulberry32() repeats its stream for a seed and differs across seeds", () => {
  const a = mulberry32(42);
  const b = mulberry32(42);
  const c = mulberry32(43);
  const xs = Array.from({ length: 5 }, () => a.next());
  assert.deepEqual(xs, Array.from({ length: 5 }, () => b.next()));
  assert.notDeepEqual(xs, Array.from({ length: 5 }, () => c.next()));
  // The reference implementation's first output for seed 42.
  assert.equal(Math.round(mulberry32(42).next() * 4294967296), 2581720956);
});

Deno.test("mulberry32() draws uniforms in [0, 1) and standard normals", () => {
  const rng = mulberry32(1);
  const n = 100000;
  let su = 0;
  let sz = 0;
  let szz = 0;
  let beyond = 0;
  for (let i = 0; i < n; i++) {
    const u = rng.next();
    assert.ok(u >= 0 && u < 1);
    su += u;
    const z = rng.normal();
    sz += z;
    szz += z * z;
    if (Math.abs(z) > 1.959964) beyond++;
  }
  // Standard errors: 0.0009 for the uniform mean, 0.0032 for the normal
  // mean, 0.0045 for its variance, 0.0007 for the 5% two-sided tail.
  assert.ok(Math.abs(su / n - 0.5) < 0.004);
  assert.ok(Math.abs(sz / n) < 0.013);
  assert.ok(Math.abs(szz / n - 1) < 0.018);
  assert.ok(Math.abs(beyond / n - 0.05) < 0.0028);
  const ints = new Set(Array.from({ length: 1000 }, () => rng.int(6)));
  assert.deepEqual([...ints].sort(), [0, 1, 2, 3, 4, 5]);
});
