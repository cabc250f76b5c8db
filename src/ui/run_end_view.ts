/**
 * What `run` and `resume` print when they end (stderr; the JSON view's
 * stream has its own `stopped` event).
 */
import type { RunEnd } from "../app/run_end.ts";
import { InterruptedError } from "../errors.ts";
import { confirmationBasis, gainText } from "./claim.ts";
import { formatError } from "./errors.ts";
import { fmtNum, fmtPct } from "./format.ts";
import type { Output } from "./output.ts";

/** The closing lines for `end`; null when nothing is said. */
export function runEndText(
  end: RunEnd,
  options: { json: boolean; color: boolean },
): string | null {
  switch (end.kind) {
    case "already_finished":
      return `Run ${end.runId} already finished (${
        end.stopReason ?? "done"
      }). Extend it with --iterations N (or a higher --max-cost-usd, --patience, --threshold), or take the result with: ratchet apply`;
    case "prepare_interrupted":
      return `Run ${end.runId} stopped (interrupted) during --prepare-command; continue with: ratchet resume`;
    case "stopped": {
      const lines = end.error instanceof InterruptedError
        ? []
        : [formatError(end.error, { verbose: false, color: options.color })];
      lines.push(
        `Run ${end.runId} stopped (${end.reason}); continue with: ratchet resume`,
      );
      return lines.join("\n");
    }
    case "finished":
      return options.json ? null : finishedText(end);
  }
}

function finishedText(end: Extract<RunEnd, { kind: "finished" }>): string {
  const gain = end.best !== null && end.baseline !== null &&
      end.baseline !== 0
    ? ` (${
      fmtPct((end.best - end.baseline) / Math.abs(end.baseline))
    } vs baseline ${fmtNum(end.baseline)})`
    : "";
  const lines = [
    `Run ${end.runId} finished: ${end.reason}. ${end.kept} change(s) kept; best ${
      fmtNum(end.best ?? undefined)
    }${end.claim === null ? gain : ""}.`,
  ];
  if (end.claim !== null) {
    lines.push(
      `Claimed gain: ${gainText(end.claim.result.gain, end.claim.result.ci)} (${
        confirmationBasis(end.claim)
      }).`,
    );
  }
  lines.push(
    end.kept > 0
      ? `Take the result with: ratchet apply   (or: git merge --squash ${end.branch})`
      : `No change was kept; the branch ${end.branch} equals the start commit.`,
  );
  return lines.join("\n");
}

/** Print the closing lines of `end` on stderr. */
export function printRunEnd(
  output: Output,
  end: RunEnd,
  json: boolean,
): void {
  const text = runEndText(end, { json, color: output.colorErr });
  if (text !== null) output.err(text);
}
