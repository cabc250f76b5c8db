/** `ratchet status` as text. */
import { engineModeText } from "./engine_text.ts";
import type { StopReason } from "../core/state.ts";
import type { StatusJson } from "../app/status.ts";
import { fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { gainText } from "./claim.ts";
import { fmtEstimate } from "./log_view.ts";
import { styles } from "./output.ts";

/** What each stop reason means, in words. */
const STOP_TEXT: Record<StopReason, string> = {
  iterations: "the iteration cap was reached",
  threshold: "the threshold was reached",
  patience: "no improvement for --patience iterations",
  crashes: "too many consecutive crashes",
  cost: "the cost cap was reached",
  interrupted: "interrupted",
  upstream: "the API or Docker failed",
};

/**
 * The claimed-gain row: the end-of-run confirmation's result, or how far
 * it has got while it measures; null before it starts.
 */
function claimRow(st: StatusJson): string | null {
  const c = st.confirmation;
  if (c === null) return null;
  if (c.result === null) {
    return `confirming: start commit vs iter ${c.incumbent_iter}, trial ${c.trials} of ${
      2 * c.per_side
    }`;
  }
  const r = c.result;
  return `${
    gainText(r.gain, r.ci)
  } (start commit and iter ${c.incumbent_iter} measured interleaved at the end, ${r.final.n} vs ${r.baseline.n} trials)`;
}

/** One row per guard: baseline mean → the incumbent's, and the change. */
function guardRows(st: StatusJson): [string, string][] {
  if (st.guards === null) return [];
  const claimed = st.confirmation?.result?.guards ?? {};
  return Object.entries(st.guards).map(([name, g], i) => {
    const change = g.baseline !== null && g.best !== null && g.baseline !== 0
      ? ` (${fmtPct((g.best - g.baseline) / Math.abs(g.baseline))})`
      : "";
    const confirmed = claimed[name];
    return [
      i === 0 ? "guards" : "",
      `${name} ${fmtNum(g.baseline)} → ${fmtNum(g.best)}${change}${
        confirmed
          ? `; confirmed ${gainText(confirmed.effect, confirmed.ci)}`
          : ""
      }`,
    ];
  });
}

/** Options of {@linkcode renderStatus}. */
export interface StatusViewOptions {
  color: boolean;
  /** The metric's direction, to say whether the gain is an improvement. */
  direction?: "max" | "min";
}

/**
 * Render the status for a terminal: run, state (with what to do next), the
 * iteration and phase, baseline and best with the gain, kept changes, cost,
 * why the run stopped and, once finished with kept changes, how to take the
 * result.
 */
export function renderStatus(
  st: StatusJson,
  options: StatusViewOptions,
): string {
  const s = styles(options.color);
  const row = (key: string, value: string) =>
    `${s.bold(key.padEnd(10))} ${value}`.trimEnd();
  const state = st.state === "running"
    ? s.green(`running (pid ${st.pid})`)
    : st.state === "interrupted"
    ? s.yellow("interrupted: continue with `ratchet resume`")
    : "finished";

  let best = "—";
  if (st.best !== null) {
    best = `${fmtEstimate(st.best.mean, st.best.ci)} at iter ${st.best.iter}`;
    const base = st.baseline.mean;
    if (base !== null && base !== 0 && st.best.iter > 0) {
      const gain = (st.best.mean - base) / Math.abs(base);
      const better = options.direction === undefined
        ? ""
        : (options.direction === "max" ? gain > 0 : gain < 0)
        ? ", better"
        : ", not better";
      best += `: ${
        (options.direction === undefined || better === ", better"
          ? s.green
          : s.yellow)(fmtPct(gain))
      } vs baseline${better}`;
    }
  }

  const claim = claimRow(st);
  const lines = [
    row("run", st.run_id),
    row("state", state),
    row("branch", st.branch),
    row(
      "iteration",
      st.iter === null
        ? "— (baseline not recorded yet)"
        : `${st.iter}${
          st.phase
            ? ` (${st.phase}${
              st.trial !== null && st.of !== null
                ? `, trial ${st.trial} of ${st.of}`
                : ""
            })`
            : ""
        }`,
    ),
    row(
      "baseline",
      fmtEstimate(st.baseline.mean, st.baseline.ci),
    ),
    row("best", best),
    ...(claim === null ? [] : [row("claimed", claim)]),
    ...guardRows(st).map(([k, v]) => row(k, v)),
    row("kept", `${st.kept} change(s)`),
    row("cost", fmtUsd(st.cost_usd)),
    ...(st.engine === null ? [] : [
      row(
        "engine",
        `${st.engine.endpoint}; ${engineModeText(st.engine.shares_filesystem)}`,
      ),
    ]),
  ];
  if (st.stop_reason !== null && st.state !== "running") {
    lines.push(
      row("stopped", `${st.stop_reason}: ${STOP_TEXT[st.stop_reason]}`),
    );
  }
  if (st.state === "running") {
    lines.push(
      "",
      s.dim(
        'Follow it with `ratchet log`; steer the next proposal with `ratchet instruct "…"`.',
      ),
    );
  } else if (st.state === "finished") {
    lines.push(
      "",
      st.kept > 0
        ? [
          "Take the result onto your current branch (clean tree needed):",
          "  ratchet apply",
          `  or: git merge --squash ${st.branch}`,
          "See it all with `ratchet report`.",
        ].join("\n")
        : "No change was kept; `ratchet report` shows what was tried.",
    );
  }
  return lines.join("\n");
}
