/** tools/security_report.ts counts attacks, positive controls and known limits apart. */
import assert from "node:assert/strict";
import { render, tally, tallyText } from "./security_report.ts";
import type {
  Kind,
  Scenario,
  SecurityResults,
} from "../tests/e2e/security_support.ts";

function kase(id: string, kind: Kind, held = true): Scenario {
  return {
    id,
    kind,
    attack: `attack ${id}`,
    vector: "trial",
    layer: "a layer",
    recorded: "crashed (crashed_trials)",
    held,
    evidence: `evidence of ${id}`,
  };
}

function results(
  groups: Record<string, Scenario[]>,
): SecurityResults {
  return {
    schema_version: 1,
    environment: { deno: "2.9.6", docker: "20.10.24" },
    groups: Object.fromEntries(
      Object.entries(groups).map(([key, scenarios]) => [key, {
        title: `Group ${key}`,
        about: `About ${key}.`,
        test: `tests/e2e/security_${key}_test.ts`,
        finished_at: "2026-01-01T10:00:00.000Z",
        seconds: 4.2,
        scenarios,
      }]),
    ),
  };
}

Deno.test("tally() and tallyText() count each kind and what held", () => {
  const cases = [
    kase("a", "attack"),
    kase("b", "attack", false),
    kase("c", "control"),
    kase("d", "limit"),
  ];
  assert.deepEqual(tally(cases), {
    attack: { n: 2, held: 1 },
    control: { n: 1, held: 1 },
    limit: { n: 1, held: 1 },
  });
  assert.equal(
    tallyText(cases),
    "2 attacks, 1 stopped; 1 positive control, 1 as expected; 1 known limit, 1 shown as documented",
  );
  assert.equal(tallyText([kase("a", "attack")]), "1 attack, 1 stopped");
  assert.equal(tallyText([]), "no cases");
});

Deno.test("render() never counts a control or a known limit as an attack held", () => {
  const page = render(results({
    tamper: [kase("t1", "attack"), kase("t2", "attack"), kase("t3", "limit")],
    resources: [kase("r1", "attack"), kase("r2", "control")],
  }));
  assert.match(
    page,
    /\*\*3 attacks, 3 stopped; 1 positive control, 1 as expected; 1 known limit, 1 shown as documented\.\*\*/,
  );
  assert.doesNotMatch(page, /5 cases/);
  // The summary table: attacks, controls and limits in their own columns.
  assert.match(
    page,
    /\| \[Group tamper\]\(#group-tamper\) \| 2 \/ 2 \| — \| 1 \/ 1 \| `tests\/e2e\/security_tamper_test\.ts` \|/,
  );
  assert.match(
    page,
    /\| \[Group resources\]\(#group-resources\) \| 1 \/ 1 \| 1 \/ 1 \| — \|/,
  );
  // Each group says what it holds, kind by kind.
  assert.match(
    page,
    /^2 attacks, 2 stopped; 1 known limit, 1 shown as documented, in 4\.2 s/m,
  );
  assert.match(page, /^\| ✅ control \| attack r2 \|/m);
  assert.match(page, /^\| ✅ ⚠️ limit \| attack t3 \|/m);
  assert.match(page, /^\| ✅ \| attack t1 \|/m);
  // Known limits are listed again under what the filesystem cannot stop.
  assert.match(page, /^- ✅ \*\*attack t3\*\* → crashed/m);
  assert.doesNotMatch(page, /^- ✅ \*\*attack t1\*\*/m);
});

Deno.test("render() lists what did not hold, kind named, and masks run-specific ids", () => {
  const failed = {
    ...kase("lock", "attack", false),
    recorded:
      "exit 0: Another run holds /tmp/ratchet-repo-c7863cc9c6729370/.ratchet/lock: PID 3949 is alive",
    evidence: "kept as 83f1de218450; listener 172.17.0.1:37183",
  };
  const page = render(results({
    environment: [failed, kase("ctl", "control", false)],
  }));
  assert.match(
    page,
    /\*\*1 attack, 0 stopped; 1 positive control, 0 as expected\.\*\*/,
  );
  assert.match(page, /What did not hold:/);
  assert.match(
    page,
    /^- \*\*lock\*\* \(attack\): kept as ID; listener 172\.17\.0\.1:PORT$/m,
  );
  assert.match(page, /^- \*\*ctl\*\* \(control\): evidence of ctl$/m);
  assert.match(page, /\/tmp\/ratchet-repo-XXXX\/\.ratchet\/lock: PID NNNN/);
  assert.doesNotMatch(page, /c7863cc9c6729370|3949|83f1de218450|37183/);
});

Deno.test("render() reads a case recorded without a kind as an attack", () => {
  const legacy = { ...kase("old", "attack") } as Partial<Scenario>;
  delete legacy.kind;
  const page = render(results({ tamper: [legacy as Scenario] }));
  assert.match(page, /\*\*1 attack, 1 stopped\.\*\*/);
});

Deno.test("render() masks a temp directory's suffix whatever its length", () => {
  const page = render(results({
    input: [{
      ...kase("no-commit", "attack"),
      recorded:
        "exit 3: the repository at /tmp/ratchet-sec-case-1532714210516b1 has no commits; /tmp/ratchet-sec-host-61fc21f97ba660a0/forged.txt",
    }],
  }));
  assert.match(
    page,
    /the repository at \/tmp\/ratchet-sec-case-XXXX has no commits; \/tmp\/ratchet-sec-host-XXXX\/forged\.txt/,
  );
});
