/**
 * How a run shows its progress: `--json` prints every event as one JSON
 * line; otherwise plain lines, one per finished iteration and milestone, and
 * on a terminal a live status line (phase, current tool call, trial k of n
 * with a progress bar, incumbent vs baseline, cost, elapsed, remaining).
 */
import { engineLine } from "./engine_text.ts";
import type { RunEvent } from "../core/events.ts";
import type { IterationRecord } from "../core/state.ts";
import { fmtDuration, fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { type Output, styles } from "./output.ts";
import { guardsCell } from "./log_view.ts";
import { confirmationBasis, confirmationGuards, gainText } from "./claim.ts";

/** Renders events; `close()` clears the live line. */
export interface RunView {
  handle(event: RunEvent): void;
  close(): void;
}

/** JSON lines on stdout (spec section 8). */
export function jsonView(output: Output): RunView {
  return {
    handle: (event) => output.out(JSON.stringify(event)),
    close: () => {},
  };
}

const DECISION_COLORS: Record<string, keyof ReturnType<typeof styles>> = {
  baseline: "blue",
  improved: "green",
  regressed: "red",
  no_change: "gray",
  inconclusive: "yellow",
  crashed: "magenta",
  rejected: "red",
};

/** One line summarizing a finished iteration. */
export function iterationLine(
  r: IterationRecord,
  options: { color: boolean },
): string {
  const s = styles(options.color);
  const color = s[DECISION_COLORS[r.decision] ?? "gray"];
  const decision = color(r.decision.padEnd(12));
  const n = r.trial_scores.length;
  const score = r.avg === null ? "—" : fmtNum(r.avg);
  const parts = [
    `iter ${String(r.iter).padStart(3)}`,
    decision,
    `score ${score}${n > 1 ? ` (n=${n})` : ""}`,
  ];
  if (r.effect !== null) parts.push(`effect ${fmtPct(r.effect)}`);
  if (r.p_value !== null) parts.push(`p=${r.p_value.toPrecision(2)}`);
  if (r.cost_usd > 0) parts.push(fmtUsd(r.cost_usd));
  const guards = guardsCell(r);
  if (guards !== "") parts.push(`guards ${guards}`);
  let line = parts.join("  ");
  const why = r.reason ? `${r.reason}${r.detail ? `: ${r.detail}` : ""}` : "";
  if (r.hypothesis) line += `\n          ${s.dim(r.hypothesis.slice(0, 160))}`;
  if (why && r.decision !== "improved") {
    line += `\n          ${s.dim(why.slice(0, 200))}`;
  }
  return line;
}

/** Plain lines; with `live`, a status line redrawn in place on stderr (Output.statusLine). */
export function textView(
  output: Output,
  options: { live: boolean; now: () => number; iterations: number },
): RunView {
  const s = styles(output.colorErr);
  const started = options.now();
  let iter = 0;
  let phase = "";
  let detail = "";
  let baseline: number | null = null;
  let best: number | null = null;
  let cost = 0;
  let perIteration: number | null = null;
  let liveShown = false;

  const clearLive = () => {
    if (liveShown) {
      output.statusLine("");
      liveShown = false;
    }
  };
  const drawLive = () => {
    if (!options.live) return;
    const elapsed = (options.now() - started) / 1000;
    const remaining = perIteration === null
      ? ""
      : ` · ~${
        fmtDuration(perIteration * Math.max(0, options.iterations - iter))
      } left`;
    const gain = baseline !== null && best !== null && baseline !== 0
      ? ` · best ${fmtNum(best)} (${
        fmtPct((best - baseline) / Math.abs(baseline))
      })`
      : "";
    const line = `${s.cyan(`iter ${iter}`)} ${phase}${
      detail ? ` ${detail}` : ""
    }${gain} · ${fmtUsd(cost)} · ${fmtDuration(elapsed)}${remaining}`;
    output.statusLine(line);
    liveShown = true;
  };
  const print = (text: string) => {
    clearLive();
    output.err(text);
    drawLive();
  };
  const bar = (k: number, n: number) => {
    const width = 10;
    const filled = Math.round((k / Math.max(n, 1)) * width);
    return `[${"#".repeat(filled)}${".".repeat(width - filled)}]`;
  };

  return {
    handle(event) {
      switch (event.event) {
        case "run_started":
          print(
            `${event.resumed ? "Resuming" : "Starting"} run ${
              s.bold(event.run_id)
            } on branch ${event.branch}`,
          );
          print(
            s.dim(engineLine({
              product: event.engine.product,
              serverVersion: event.engine.version,
              endpoint: event.engine.endpoint,
              rootless: event.engine.rootless,
            }, event.engine.shares_filesystem)),
          );
          if (event.dirty) {
            print(
              s.yellow(
                "Your working tree has uncommitted changes; the run starts from HEAD and does not include them.",
              ),
            );
          }
          break;
        case "info":
        case "progress":
          print(event.message);
          break;
        case "warning":
          print(s.yellow(`warning: ${event.message}`));
          break;
        case "phase":
          iter = event.iter;
          phase = event.phase;
          detail = event.trial !== undefined && event.of !== undefined
            ? `trial ${event.trial}/${event.of} ${
              bar(event.trial - 1, event.of)
            }`
            : "";
          drawLive();
          break;
        case "tool_call":
          detail = `${
            event.role !== "implementer" ? `${event.role} ` : ""
          }${event.tool} ${event.summary.slice(0, 60)}`;
          drawLive();
          break;
        case "trial":
          detail = `${event.side} ${event.k}/${event.n} ${
            bar(event.k, event.n)
          } ${event.outcome === "ok" ? fmtNum(event.score) : event.outcome}`;
          if (!options.live && iter === 0) {
            print(
              `  baseline trial ${event.k}/${event.n}: ${
                event.outcome === "ok" ? fmtNum(event.score) : event.outcome
              }`,
            );
          }
          drawLive();
          break;
        case "estimate":
          perIteration = event.seconds_per_iteration;
          print(
            `A trial takes about ${
              fmtDuration(event.seconds_per_trial)
            }; an iteration's measurements about ${
              fmtDuration(event.seconds_per_iteration)
            } plus the model's time.`,
          );
          break;
        case "decision":
          break;
        case "confirmed": {
          const c = event.confirmation;
          if (c.result === null) break;
          const guards = confirmationGuards(c.result);
          print(
            `Claimed gain ${gainText(c.result.gain, c.result.ci)}: ${
              confirmationBasis({ ...c, result: c.result })
            }${guards.length > 0 ? `; guards ${guards.join(", ")}` : ""}`,
          );
          break;
        }
        case "iteration": {
          const r = event.record;
          cost += r.cost_usd;
          if (r.iter === 0) {
            baseline = r.avg;
            best = r.avg;
          } else if (r.kept) best = r.avg;
          print(iterationLine(r, { color: output.colorErr }));
          break;
        }
        case "stopped":
          clearLive();
          break;
      }
    },
    close: clearLive,
  };
}
