/**
 * Where the shell is, and what a typed path means there. The shell's current
 * directory is a full path on the home node; inside `/node/<peer>` (or a chain
 * `/node/hub/node/factory`) absolute paths and module commands act on that peer.
 */

/** Normalises an absolute path: no empty segments, `.` and `..` resolved, never above `/`. */
export function normalizePath(path: string): string {
  const out: string[] = [];
  for (const seg of path.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") out.pop();
    else out.push(seg);
  }
  return "/" + out.join("/");
}

/**
 * The peer prefix of `cwd`: its longest leading run of `/node/<name>` pairs
 * (`/node/factory` for `/node/factory/iot`), or `""` on the home node.
 */
export function contextBase(cwd: string): string {
  const segs = normalizePath(cwd).split("/").filter((s) => s !== "");
  let n = 0;
  while (n + 1 < segs.length && segs[n] === "node") n += 2;
  return n === 0 ? "" : "/" + segs.slice(0, n).join("/");
}

/**
 * What the user typed, as a full path from the home node: `~` and `~/x` from
 * the home node, `/x` from the current peer's root, anything else from `cwd`.
 */
export function resolvePath(cwd: string, input: string): string {
  if (input === "~" || input.startsWith("~/")) return normalizePath(input.slice(1));
  if (input.startsWith("/")) return normalizePath(contextBase(cwd) + input);
  return normalizePath(cwd + "/" + input);
}

/** A module path (`/node/peers`, `/iot/devices`) on the node the shell is on. */
export function inContext(cwd: string, path: string): string {
  return normalizePath(contextBase(cwd) + "/" + path);
}
