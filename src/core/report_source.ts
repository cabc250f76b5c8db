/**
 * `--report-source`: where a trial's metric is read. Two streams and the
 * wall time name no file; anything else is a path relative to the
 * repository root (the config checks it; the trial reads it back, and the
 * model may not change it).
 */

/** The sources that are not a file. */
export const REPORT_STREAMS: readonly string[] = ["stdout", "stderr", "wall"];

/** The report file `source` names, or null for a stream or the wall time. */
export function reportFileOf(source: string): string | null {
  return REPORT_STREAMS.includes(source) ? null : source;
}
