/** `ratchet status` as text. */
import type { StatusJson } from "../status.ts";
import { fmtCi, fmtNum, fmtPct, fmtUsd } from "./format.ts";
import { styles } from "./output.ts";

/** Render the status for a terminal. */
export function renderStatus(
  s: StatusJson,
  options: { color: boolean },
): string {
  const st = styles(options.color);
  const stateText = s.state === "running"
    ? st.green(`running (pid ${s.pid})`)
    : s.state === "interrupted"
    ? st.yellow("interrupted: continue with `ratchet resume`")
    : `finished${s.stop_reason ? ` (${s.stop_reason})` : ""}`;
  const gain = s.best && s.baseline.mean !== null && s.baseline.mean !== 0
    ? ` (${
      fmtPct((s.best.mean - s.baseline.mean) / Math.abs(s.baseline.mean))
    } vs baseline)`
    : "";
  const lines = [
    `${st.bold("run")}       ${s.run_id}`,
    `${st.bold("state")}     ${stateText}`,
    `${st.bold("branch")}    ${s.branch}`,
    `${st.bold("iteration")} ${s.iter ?? "—"}${s.phase ? ` (${s.phase})` : ""}`,
    `${st.bold("baseline")}  ${fmtNum(s.baseline.mean)} ${fmtCi(s.baseline.ci)}`
      .trimEnd(),
    `${st.bold("best")}      ${
      s.best
        ? `${fmtNum(s.best.mean)} ${
          fmtCi(s.best.ci)
        } at iter ${s.best.iter}${gain}`
        : "—"
    }`,
    `${st.bold("kept")}      ${s.kept} change(s)`,
    `${st.bold("cost")}      ${fmtUsd(s.cost_usd)}`,
  ];
  if (s.state === "finished" && s.kept > 0) {
    lines.push(
      "",
      `Take the result with: ratchet apply   (or: git merge --squash ${s.branch})`,
    );
  }
  return lines.join("\n");
}
