/** Decoding what git printed. */

const decoder = new TextDecoder();

/** Decode git's output as text. */
export function text(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}
