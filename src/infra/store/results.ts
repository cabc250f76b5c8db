/**
 * `results.jsonl`: one record per iteration, dense from 0, all of one run.
 * Records grow by fsynced appends; a torn last line is cut before the next
 * append.
 */

import { z } from "zod";
import { type IterationRecord, makeRecord } from "../../core/state.ts";
import { ExitCode, RatchetError } from "../../errors.ts";
import { appendLineDurable } from "../atomic.ts";
import { readBytes } from "./_fs.ts";
import { damaged } from "./_json.ts";
import { checkLine, parseJsonLines } from "./jsonl.ts";
import type { StoreContext } from "./paths.ts";

/**
 * A record's shape: every key the constructor that fills them all gives
 * (any value), with `run_id` and `iter` typed because the log relies on
 * them. Records written before guards existed have no `guards`: they had
 * none, and read as null.
 */
const RECORD = z.looseObject({
  ...Object.fromEntries(
    Object.keys(
      makeRecord({ run_id: "", iter: 0, decision: "baseline", timestamp: "" }),
    ).map((key) => [key, z.unknown().nonoptional()]),
  ),
  guards: z.unknown(),
  run_id: z.string(),
  iter: z.number(),
});

function checkRecord(
  path: string,
  line: number,
  value: unknown,
  index: number,
): IterationRecord {
  const record = checkLine<Record<string, unknown>>(path, line, value, RECORD);
  if (!("guards" in record)) record.guards = null;
  if (record.iter !== index) {
    throw damaged(
      path,
      `line ${line}: iter is ${record.iter} where ${index} was expected (iterations are dense from 0)`,
    );
  }
  return record as unknown as IterationRecord;
}

/** The run's `results.jsonl`, remembering its last record between appends. */
export class ResultsLog {
  readonly #ctx: StoreContext;
  /**
   * Iter and run id of the last record (-1 / null: none); `#lastIter` is
   * undefined until results.jsonl was read.
   */
  #lastIter: number | undefined;
  #lastRunId: string | null = null;

  constructor(ctx: StoreContext) {
    this.#ctx = ctx;
  }

  /** Forget the last record: the file was moved away (archive) and must be read again. */
  forget(): void {
    this.#lastIter = undefined;
  }

  /**
   * Append one record and fsync. Refuses (internal error) a record whose
   * `iter` is not the next dense iteration or whose `run_id` differs from the
   * records before it. The first call reads the file once (and cuts a torn
   * last line, see `repairTornTail`); later calls are O(1).
   */
  async append(r: IterationRecord): Promise<void> {
    const { paths, fault } = this.#ctx;
    if (this.#lastIter === undefined) {
      await this.repairTornTail();
      const records = await this.read();
      this.#lastRunId = records.at(-1)?.run_id ?? null;
      this.#lastIter = records.length - 1;
    }
    if (this.#lastRunId !== null && this.#lastRunId !== r.run_id) {
      throw new RatchetError(
        `refusing to append a record of run ${r.run_id} to ${paths.results}, which holds run ${this.#lastRunId}`,
        ExitCode.internal,
        {
          hint: "Each run has its own results.jsonl; this is a bug in ratchet.",
        },
      );
    }
    const expected = this.#lastIter + 1;
    if (r.iter !== expected) {
      throw new RatchetError(
        `refusing to append iteration ${r.iter} to ${paths.results}: the next iteration is ${expected}`,
        ExitCode.internal,
        { hint: "Iterations are dense from 0; this is a bug in ratchet." },
      );
    }
    // Unknown until the append succeeds: a failed append may have left a
    // partial line, so the next call must re-read and repair.
    this.#lastIter = undefined;
    await Deno.mkdir(paths.root, { recursive: true });
    await appendLineDurable(paths.results, JSON.stringify(r), {
      fault,
      points: {
        midLine: "results.append.mid-line",
        beforeFsync: "results.append.before-fsync",
        afterFsync: "results.append.after-fsync",
      },
    });
    this.#lastIter = r.iter;
    this.#lastRunId = r.run_id;
  }

  /**
   * Every finalized record, in order. A torn last line is ignored; a damaged
   * line elsewhere, a missing key or a gap in `iter` is an EnvironmentError
   * naming the line.
   */
  async read(): Promise<IterationRecord[]> {
    const path = this.#ctx.paths.results;
    const bytes = await readBytes(path);
    if (bytes === null) return [];
    const { entries } = parseJsonLines(path, bytes);
    return entries.map((e, index) => checkRecord(path, e.line, e.value, index));
  }

  /**
   * Cut a torn last line off `results.jsonl` so the next append starts on a
   * fresh line. Returns the discarded text, or null when there was none.
   * Fault point: `results.repair.before-truncate`.
   */
  async repairTornTail(): Promise<string | null> {
    const path = this.#ctx.paths.results;
    const bytes = await readBytes(path);
    if (bytes === null) return null;
    const { goodBytes, torn } = parseJsonLines(path, bytes);
    if (torn === null) return null;
    this.#lastIter = undefined;
    this.#ctx.fault("results.repair.before-truncate");
    const file = await Deno.open(path, { write: true });
    try {
      await file.truncate(goodBytes);
      await file.sync();
    } finally {
      file.close();
    }
    return torn;
  }
}
