/** Turning thrown values into the one-line sentences Portal logs and answers with. */

/**
 * A short text for an unknown thrown value: its message on one line, else its
 * name. With `causes`, the messages of up to three nested `cause`s follow,
 * joined by ": " (fetch reports socket errors only there).
 */
export function errorText(e: unknown, options: { causes?: boolean } = {}): string {
  const one = (v: unknown) => {
    if (!(v instanceof Error)) return String(v);
    const m = v.message.replace(/\s+/g, " ").trim();
    return m.length > 0 ? m : v.name;
  };
  if (!options.causes) return one(e);
  const parts: string[] = [];
  let cur: unknown = e;
  for (let depth = 0; depth < 4 && cur !== undefined && cur !== null; depth++) {
    parts.push(one(cur));
    cur = cur instanceof Error ? cur.cause : undefined;
  }
  return parts.join(": ");
}
