/**
 * Critic mode end to end: proposer A, proposer B, the judge and the
 * implementer, in that order, through the real CLI, SDK, Docker and git.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dockerTest } from "../_helpers/docker.ts";
import {
  type FakeStep,
  roleOf,
  startFakeAnthropic,
} from "../_helpers/fake_anthropic.ts";
import {
  assertBranchMatchesKept,
  assertRecordsWellFormed,
  bash,
  type Block,
  ratchet,
  readRecords,
  readRun,
  removeRunContainers,
  replace,
  runArgs,
  runContainers,
  scoringRepo,
  submit,
} from "./_support.ts";

const PROPOSAL_A = {
  title: "Nudge the value",
  hypothesis: "A slightly larger value scores slightly higher.",
  plan: "In value.txt, change 10 to 11.",
};
const PROPOSAL_B = {
  title: "Jump the value",
  hypothesis: "The score is the value itself, so a much larger value wins.",
  plan: "In value.txt, change 10 to 50.",
};
const RATIONALE = "B's gain is forty times A's for the same risk.";

/** A turn that must come from `role`. */
function step(role: string, ...content: Block[]): FakeStep {
  return { expect_role: role, content };
}

dockerTest(
  "ratchet run --critic asks proposer A, proposer B, the judge and the implementer in that order and records the critic's choice",
  async () => {
    await using repo = await scoringRepo();
    await using server = await startFakeAnthropic([
      step(
        "proposer-a",
        {
          type: "tool_use",
          name: "str_replace_based_edit_tool",
          input: { command: "view", path: "/work/value.txt" },
        },
        // Proposers' bash sees /work read-only.
        bash("echo 99 > /work/value.txt"),
      ),
      step("proposer-a", {
        type: "tool_use",
        name: "submit_proposal",
        input: PROPOSAL_A,
      }),
      step("proposer-b", bash("touch /work/probe && echo made")),
      step("proposer-b", {
        type: "tool_use",
        name: "submit_proposal",
        input: PROPOSAL_B,
      }),
      step("judge", {
        type: "tool_use",
        name: "choose_proposal",
        input: { choice: "B", rationale: RATIONALE },
      }),
      step(
        "implementer",
        replace("/work/value.txt", "10", "50"),
        submit(PROPOSAL_B.hypothesis, "value 50, as proposal B planned"),
      ),
    ]);
    try {
      const r = await ratchet(
        runArgs(
          1,
          "--critic",
          "--decision",
          "mean",
          "--trials",
          "1",
          "--json",
        ),
        repo.dir,
        server,
      );
      assert.deepEqual(server.violations, []);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(server.remaining(), 0);
      assert.deepEqual(server.requests.map((q) => roleOf(q.body)), [
        "proposer-a",
        "proposer-a",
        "proposer-b",
        "proposer-b",
        "judge",
        "implementer",
      ]);

      // The proposers could look but not write.
      const toolResults = (i: number) =>
        JSON.stringify(
          (server.requests[i]!.body!.messages as { content: unknown }[]).at(
            -1,
          )!.content,
        );
      assert.match(toolResults(1), /10/, "view shows the file");
      assert.match(toolResults(1), /Read-only file system/);
      assert.match(toolResults(3), /Read-only file system/);
      assert.doesNotMatch(toolResults(3), /made/);
      // The judge sees both plans; the implementer gets the chosen one.
      assert.ok(server.requests[4]!.raw.includes(PROPOSAL_A.plan));
      assert.ok(server.requests[4]!.raw.includes(PROPOSAL_B.plan));
      assert.ok(server.requests[5]!.raw.includes(PROPOSAL_B.plan));

      const run = await readRun(repo.dir);
      const records = await readRecords(repo.dir);
      assertRecordsWellFormed(records, run.run_id);

      // --json: one event object a line, one iteration event per record.
      const events = r.stdout.trim().split("\n").map((l) =>
        JSON.parse(l) as { event: string; record?: unknown; role?: string }
      );
      assert.equal(events[0]!.event, "run_started");
      assert.equal(events.at(-1)!.event, "stopped");
      assert.deepEqual(
        events.filter((e) => e.event === "iteration").map((e) => e.record),
        records,
      );
      assert.deepEqual(
        [
          ...new Set(
            events.filter((e) => e.event === "tool_call").map((e) => e.role),
          ),
        ],
        ["proposer-a", "proposer-b", "judge", "implementer"],
      );
      assert.equal(records[0]!.critic, null);
      const rec = records[1]!;
      assert.equal(rec.decision, "improved");
      assert.equal(rec.avg, 50);
      assert.deepEqual(rec.critic, {
        proposals: [PROPOSAL_A, PROPOSAL_B],
        choice: "B",
        rationale: RATIONALE,
      });
      assert.equal(rec.tokens.input, 600, "tokens of all six calls");
      await assertBranchMatchesKept(repo, records, run.branch);
      const tree = await repo.git("ls-tree", "--name-only", run.branch);
      assert.doesNotMatch(tree, /probe/);
      assert.equal(await repo.git("show", `${run.branch}:value.txt`), "50");
      assert.equal(
        await Deno.readTextFile(join(repo.dir, "value.txt")),
        "10\n",
      );
      assert.deepEqual(await runContainers(run.run_id), []);
    } finally {
      await removeRunContainers(repo.dir);
    }
  },
);
