/**
 * Path patterns: `/iot/devices/:id` matches one segment per `:name`, and a
 * trailing `*name` matches the rest. Matching is pure and separate from
 * dispatch, so the router can sort compiled patterns once, at registration.
 */

/** A pattern split into segments, ready to match. */
export interface Pattern {
  readonly text: string;
  readonly segments: readonly string[];
}

/** Splits an absolute path into segments, resolving nothing (no `..`). */
export function splitPath(path: string): string[] {
  return path.split("/").filter((s) => s.length > 0);
}

/** Compiles `text` (e.g. `/node/:peer/*rest`) into a {@link Pattern}. */
export function compilePattern(text: string): Pattern {
  const segments = splitPath(text);
  const star = segments.findIndex((s) => s.startsWith("*"));
  if (star >= 0 && star !== segments.length - 1) {
    throw new Error(`pattern ${text}: '*' may only stand in the last segment`);
  }
  return { text, segments };
}

/**
 * The parameters `segs` binds in `pattern`, or null when it does not match.
 * `:name` values are %-decoded (throws URIError on a malformed escape);
 * `*name` keeps the rest as a path, still encoded.
 */
export function matchSegments(
  pattern: readonly string[],
  segs: readonly string[],
): Record<string, string> | null {
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i];
    if (p.startsWith("*")) {
      params[p.slice(1)] = "/" + segs.slice(i).join("/");
      return params;
    }
    if (i >= segs.length) return null;
    if (p.startsWith(":")) params[p.slice(1)] = decodeURIComponent(segs[i]);
    else if (p !== segs[i]) return null;
  }
  return pattern.length === segs.length ? params : null;
}

/** Orders the more specific pattern first: segment by segment, static > `:param` > `*rest`. */
export function comparePatterns(a: Pattern, b: Pattern): number {
  const rank = (s: string | undefined) =>
    s === undefined ? 0 : s.startsWith("*") ? 1 : s.startsWith(":") ? 2 : 3;
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = rank(b.segments[i]) - rank(a.segments[i]);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether a segment is a literal name (not `:param` or `*rest`). */
export function isStatic(segment: string): boolean {
  return !segment.startsWith(":") && !segment.startsWith("*");
}
