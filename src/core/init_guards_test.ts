import assert from "node:assert/strict";
import {
  benchmarkFiles,
  guessDirection,
  printedNames,
  suggestGuards,
} from "./init_guards.ts";

Deno.test("benchmarkFiles() finds the tracked files the run command runs", () => {
  const files = ["bench.py", "bench/run.js", "src/a.py", "package.json"];
  assert.deepEqual(benchmarkFiles("python3 bench.py --fast", files, null), [
    "bench.py",
  ]);
  assert.deepEqual(
    benchmarkFiles(
      "npm run -s bench",
      files,
      JSON.stringify({ scripts: { bench: "node ./bench/run.js" } }),
    ),
    ["bench/run.js"],
  );
  assert.deepEqual(benchmarkFiles("make test", files, null), []);
});

Deno.test("printedNames() reads the names of printed numbers across languages", () => {
  assert.deepEqual(
    printedNames(
      [
        'print(f"time: {t:.3f}")',
        'print(f"accuracy: {acc}")',
        'print("loss:", loss)',
        'x = {"a": 1}  # not printed',
        'print(json.dumps({"val_f1": f1, "peak_mb": mem}))',
        'echo "score=$score"',
        "console.log(`rss: ${process.memoryUsage().rss}`);",
        'printf("errors=%d\\n", n);',
        'print("done")',
      ].join("\n"),
    ),
    ["time", "accuracy", "loss", "val_f1", "peak_mb", "score", "rss", "errors"],
  );
});

Deno.test("guessDirection() tells max from min by the name, or not at all", () => {
  assert.equal(guessDirection("accuracy"), "max");
  assert.equal(guessDirection("val_f1"), "max");
  assert.equal(guessDirection("peak_mb"), "min");
  assert.equal(guessDirection("loss"), "min");
  assert.equal(guessDirection("latency_ms"), "min");
  assert.equal(guessDirection("widgets"), null);
});

Deno.test("suggestGuards() suggests the other printed numbers whose direction is clear", () => {
  const sources = [{
    file: "bench.py",
    text:
      'print(f"seconds: {t}")\nprint(f"accuracy: {acc}")\nprint(f"elapsed: {e}")\nprint(f"items: {n}")\n',
  }];
  const s = suggestGuards(sources, "seconds");
  assert.deepEqual(s.map((x) => x.guard), [
    { name: "accuracy", direction: "max", tolerance: 0.02 },
  ]);
  assert.equal(s[0]!.file, "bench.py");
  // A benchmark that prints only its metric: nothing to guard.
  assert.deepEqual(
    suggestGuards([{ file: "b", text: 'print(f"score: {s}")' }], "score"),
    [],
  );
});
