/**
 * In-memory fakes of the loop's ports, for fast tests of the iteration
 * logic. Every path they cover is also covered end to end with real git,
 * Docker and the SDK in tests/e2e/.
 */
import type {
  FileChange,
  OversizedFile,
  TreeLinks,
} from "../../src/core/integrity.ts";
import type { RunEvent } from "../../src/core/events.ts";
import type {
  CurrentIteration,
  IterationRecord,
  Tokens,
} from "../../src/core/state.ts";
import type {
  LoopPorts,
  ProposalInput,
  ProposalSummary,
  TrialSummary,
} from "../../src/app/ports.ts";

/** What a fake proposal does to the fake worktree. */
export interface FakeProposal {
  summary?: Partial<ProposalSummary>;
  /** The candidate tree the proposal leaves (default: a new tree). */
  tree?: string;
  changes?: FileChange[];
  /** Files the worktree had above the cap (left out of the tree). */
  oversized?: OversizedFile[];
  /** Symlinks of the incumbent's and the candidate's trees (default: none). */
  links?: { before: TreeLinks; after: TreeLinks };
  /** Model calls reported through `onSpend`, in order, before it ends. */
  calls?: { tokens: Tokens; costUsd: number }[];
  /** Thrown after the calls instead of returning (an interruption). */
  throws?: Error;
}

/** A scripted trial: a score, a score with guard values, or an outcome. */
export type FakeTrial = number | {
  outcome: TrialSummary["outcome"];
  output?: string;
} | { score: number; guards: Record<string, number | null> };

/** Fakes plus what they observed. */
export interface FakeLoop {
  ports: LoopPorts;
  events: RunEvent[];
  records: IterationRecord[];
  proposals: ProposalInput[];
  trialsRun: { side: string; tree: string; trial: number }[];
  commits: { tree: string; parent: string; message: string }[];
  resets: string[];
  currents: CurrentIteration[];
  /** Each `trials.retain` call's trees, in order. */
  retained: string[][];
  /** The file-size cap each candidateTree() call was given. */
  caps: (number | null)[];
}

/**
 * Build fake ports. `scores(side, k)` gives each trial's result; proposals
 * are consumed in order.
 */
export function fakeLoop(options: {
  proposals: FakeProposal[];
  trial: (side: "incumbent" | "candidate" | "baseline", n: number) => FakeTrial;
  check?: (tree: string) => { passed: boolean; detail: string } | null;
  signal?: AbortSignal;
}): FakeLoop {
  const f: FakeLoop = {
    events: [],
    records: [],
    proposals: [],
    trialsRun: [],
    commits: [],
    resets: [],
    currents: [],
    retained: [],
    caps: [],
    ports: undefined as unknown as LoopPorts,
  };
  let current: FakeProposal | undefined;
  let treeNo = 0;
  const counts = { incumbent: 0, candidate: 0, baseline: 0 };
  f.ports = {
    git: {
      candidateTree: (cap) => {
        f.caps.push(cap);
        return Promise.resolve({
          tree: current?.tree ?? `tree-${++treeNo}`,
          oversized: current?.oversized ?? [],
        });
      },
      treeOf: (c) => Promise.resolve(`tree-of-${c}`),
      commit: (tree, parent, message) => {
        f.commits.push({ tree, parent, message });
        return Promise.resolve(`sha-${f.commits.length}`);
      },
      reset: (c) => {
        f.resets.push(c);
        return Promise.resolve();
      },
      diff: () =>
        Promise.resolve({
          patch: new TextEncoder().encode("diff"),
          stat: { files: 1, insertions: 1, deletions: 1 },
          changes: current?.changes ??
            [{
              path: "src/a.py",
              status: "M",
              newMode: "100644",
              symlinkTarget: null,
              size: 100,
            }],
          links: current?.links ?? { before: new Map(), after: new Map() },
        }),
    },
    trials: {
      trial(input) {
        f.trialsRun.push({
          side: input.side,
          tree: input.tree,
          trial: input.trial,
        });
        const r = options.trial(input.side, ++counts[input.side]);
        const units = (g: Record<string, unknown>) =>
          Object.fromEntries(Object.keys(g).map((k) => [k, null]));
        return Promise.resolve(
          typeof r === "number"
            ? {
              outcome: "ok",
              score: r,
              unit: null,
              wallSeconds: 0.1,
              detail: "",
              outputTail: "",
              guards: {},
              guardUnits: {},
            }
            : "score" in r
            ? {
              outcome: "ok",
              score: r.score,
              unit: null,
              wallSeconds: 0.1,
              detail: "",
              outputTail: "",
              guards: r.guards,
              guardUnits: units(r.guards),
            }
            : {
              outcome: r.outcome,
              score: null,
              unit: null,
              wallSeconds: 0.1,
              detail: `ended ${r.outcome}`,
              outputTail: r.output ?? "",
              guards: {},
              guardUnits: {},
            },
        );
      },
      check: (input) => Promise.resolve(options.check?.(input.tree) ?? null),
      retain: (trees) => {
        f.retained.push([...trees]);
        return Promise.resolve();
      },
    },
    proposer: {
      async propose(input) {
        const { onSpend, ...seen } = input;
        f.proposals.push(structuredClone(seen));
        current = options.proposals.shift();
        if (current === undefined) {
          throw new Error("fake proposer: script ran out");
        }
        for (const call of current.calls ?? []) {
          onSpend?.(call);
          // Let the loop's write of current.json run, as a real call would.
          await Promise.resolve();
        }
        if (current.throws) throw current.throws;
        return await Promise.resolve({
          kind: "submitted",
          hypothesis: "h",
          description: "d",
          tokens: { input: 10, output: 5, cache_write: 0, cache_read: 0 },
          costUsd: 0.01,
          critic: null,
          detail: "",
          oversized: [],
          ...current.summary,
        });
      },
    },
    store: {
      appendRecord: (r) => {
        f.records.push(r);
        return Promise.resolve();
      },
      writeCurrent: (c) => {
        f.currents.push(structuredClone(c));
        return Promise.resolve();
      },
      clearCurrent: () => Promise.resolve(),
      saveDiff: () => Promise.resolve("diff-path"),
      peekUnreadNotes: () => Promise.resolve([]),
      markNotesRead: () => Promise.resolve(),
    },
    events: (e) => f.events.push(e),
    now: () => new Date("2026-01-01T00:00:00Z"),
    fault: () => {},
    signal: options.signal ?? new AbortController().signal,
  };
  return f;
}
