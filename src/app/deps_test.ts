import assert from "node:assert/strict";
import { EnvironmentError } from "../errors.ts";
import { createDeps } from "./deps.ts";

Deno.test("createDeps() makes git's context once from its env, without GIT_DIR-style variables", () => {
  const deps = createDeps({
    env: {
      PATH: "/usr/bin:/bin",
      GIT_DIR: "/elsewhere/.git",
      GIT_WORK_TREE: "/elsewhere",
      RATCHET_GIT_TIMEOUT_SECONDS: "7",
    },
  });
  assert.equal(deps.git, deps.git);
  assert.equal(deps.git.timeoutMs, 7_000);
  assert.equal(deps.git.env.PATH, "/usr/bin:/bin");
  assert.equal(deps.git.env.GIT_DIR, undefined);
  assert.equal(deps.git.env.GIT_WORK_TREE, undefined);
});

Deno.test("createDeps() refuses a bad git time limit when git is first used, not before", () => {
  const deps = createDeps({ env: { RATCHET_GIT_TIMEOUT_SECONDS: "soon" } });
  assert.throws(() => deps.git, EnvironmentError);
});
