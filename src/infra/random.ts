/**
 * Random hex strings (nonces, run-id suffixes, temp-file tags), from the
 * platform's cryptographic generator: the one place ratchet makes them.
 */

/** `bytes` random bytes as lowercase hex (2 digits a byte). */
export function randomHex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}
