/** Event topics are paths: a subscription to a prefix receives every topic at or below it. */

/** Names under /node that are paths of this node, not peers (PATHS.md). */
const RESERVED: ReadonlySet<string> = new Set(["peers", "status", "audit"]);

/** Whether `topic` is `prefix` itself or a path below it (`/` covers everything). */
export function isUnder(topic: string, prefix: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return p === "/" || topic === p || topic.startsWith(p + "/");
}

/**
 * Splits a path as a local listener gives it: `/node/<peer>/<rest>` names
 * `<rest>` on that peer; anything else is a path of this node.
 */
export function splitRemote(
  path: string,
  self: string,
): { readonly node: string | null; readonly prefix: string } {
  const m = /^\/node\/([^/]+)(\/.*)?$/.exec(path);
  if (!m || RESERVED.has(m[1])) return { node: null, prefix: path };
  const node = decodeURIComponent(m[1]);
  return { node: node === self ? null : node, prefix: m[2] ?? "/" };
}
