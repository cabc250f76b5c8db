import assert from "node:assert/strict";
import plugin from "./lint_plugin.ts";

/** The messages the plugin reports for `source` as the file `filename`. */
function lint(filename: string, source: string): string[] {
  return Deno.lint.runPlugin(plugin, filename, source).map((d) => d.message);
}

const SDK = 'import Anthropic from "@anthropic-ai/sdk";\n';
const SDK_TYPE = 'import type Anthropic from "@anthropic-ai/sdk";\n';

Deno.test("one-adapter: the Anthropic SDK is imported only in src/agent/anthropic/", () => {
  for (
    const file of [
      "/repo/src/agent/anthropic/client.ts",
      "/repo/src/agent/anthropic/error_map.ts",
      "/repo/src/agent/anthropic/stream_assembly_test.ts",
    ]
  ) {
    assert.deepEqual(lint(file, SDK), [], file);
    assert.deepEqual(lint(file, SDK_TYPE), [], file);
  }
  for (
    const file of [
      "/repo/src/agent/session.ts",
      "/repo/src/agent/anthropic.ts",
      "/repo/src/ui/anthropic/x.ts",
      "/repo/tests/_helpers/fake_anthropic.ts",
    ]
  ) {
    assert.deepEqual(
      lint(file, SDK),
      ['"@anthropic-ai/sdk" may be imported only in src/agent/anthropic/'],
      file,
    );
    assert.equal(lint(file, SDK_TYPE).length, 1, file);
  }
});

Deno.test("one-adapter: dockerode is imported only in src/infra/docker/", () => {
  const source = 'import Docker from "dockerode";\n';
  assert.deepEqual(lint("/repo/src/infra/docker/runtime.ts", source), []);
  assert.deepEqual(lint("/repo/src/infra/engine.ts", source), [
    '"dockerode" may be imported only in src/infra/docker/',
  ]);
});

Deno.test("composition-root: adapters are constructed only in src/app/deps.ts", () => {
  const source = "const c = new AnthropicClient({ apiKey: 'k' });\n";
  assert.deepEqual(lint("/repo/src/app/deps.ts", source), []);
  assert.deepEqual(lint("/repo/src/app/loop_test.ts", source), []);
  assert.deepEqual(lint("/repo/tests/_helpers/fake_anthropic.ts", source), []);
  assert.match(
    lint("/repo/src/cli/commands/run.ts", source).join("\n"),
    /AnthropicClient is built only in src\/app\/deps\.ts/,
  );
});

Deno.test("pure-core: src/core imports only core and pure libraries, and no Deno.*", () => {
  assert.deepEqual(
    lint(
      "/repo/src/core/x.ts",
      'import { a } from "./y.ts";\nimport pm from "picomatch";\n',
    ),
    [],
  );
  assert.equal(
    lint("/repo/src/core/x.ts", 'import { a } from "../infra/git.ts";\n')
      .length,
    1,
  );
  assert.equal(lint("/repo/src/core/x.ts", 'import z from "zod";\n').length, 1);
  assert.equal(lint("/repo/src/core/x.ts", "Deno.exit(1);\n").length, 1);
  assert.deepEqual(lint("/repo/src/core/x_test.ts", "Deno.exit(1);\n"), []);
});
