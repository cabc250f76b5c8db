/**
 * The flags every end-to-end `ratchet run` on a scoring repository starts
 * with: the harness script score.sh prints `score: N` on stdout, to be
 * maximised, in busybox. Each suite adds its own decision, trial and
 * iteration flags.
 */
export function scoreRunFlags(
  options: { harness?: string[]; image?: string } = {},
): string[] {
  return [
    "run",
    "--run-command",
    "sh score.sh",
    "--direction",
    "max",
    "--metric-name",
    "score",
    "--report-source",
    "stdout",
    "--image",
    options.image ?? "busybox:latest",
    ...(options.harness ?? ["score.sh"]).flatMap((h) => ["--harness", h]),
  ];
}
