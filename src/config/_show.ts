/** A value as an error message quotes it: JSON where JSON can say it. */
export function show(value: unknown): string {
  const text = JSON.stringify(value);
  return text === undefined ? String(value) : text;
}
