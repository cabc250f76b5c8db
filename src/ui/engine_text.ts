/**
 * How ratchet names the engine a run or a measure uses, and its mode: one
 * that shares this machine's files, or one that does not (a remote host, a
 * VM that sees only part of the disk), where everything travels through the
 * Engine API (spec section 1).
 */

/** The mode, as `status`, `run`, `measure` and the report say it. */
export function engineModeText(sharesFilesystem: boolean): string {
  return sharesFilesystem
    ? "shares this machine's files"
    : "does not see this machine's files: trees and reports travel through the Engine API";
}

/** The one-line description printed when a run or a measure starts. */
export function engineLine(
  info: {
    product: string;
    serverVersion: string;
    endpoint: string;
    rootless: boolean;
  },
  sharesFilesystem: boolean,
): string {
  return `Engine: ${info.product} ${info.serverVersion} at ${info.endpoint}${
    info.rootless ? ", rootless" : ""
  }; it ${engineModeText(sharesFilesystem)}`;
}
