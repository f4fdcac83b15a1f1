/**
 * The path router: every path a node offers, served the same way to the
 * federation, the HTTP API and the shell (PATHS.md). Modules register handlers
 * on patterns; `:name` matches one segment, a trailing `*name` the rest.
 */
import { Status } from "../wire/constants.ts";
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";

/** A request for a path, from whichever way in. */
export interface PathRequest {
  readonly method: Method;
  readonly path: string;
  readonly args: JsonObject;
  /** Node that sent it; null when it came from this node's own API or shell. */
  readonly origin: string | null;
  /** Aborted when nobody waits for the answer any more (deadline passed, link lost). */
  readonly signal?: AbortSignal;
  /**
   * The ttl for a request this one makes again (`/node/<peer>/…` asked by
   * another node): the ttl it arrived with minus one, as a relay would pass
   * it on; negative means spent. Chains of nested forwards end this way.
   */
  readonly hops?: number;
}

/** The answer: `body` on success, `error` (one sentence) on failure. */
export interface PathResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly error?: string;
}

/** Values captured by `:name` and `*name` in a pattern. */
export type Params = Readonly<Record<string, string>>;

/** Serves one method on one pattern. */
export type PathHandler = (
  req: PathRequest,
  params: Params,
) => Promise<PathResponse> | PathResponse;

interface Route {
  readonly method: Method;
  readonly pattern: string;
  readonly segments: readonly string[];
  readonly handler: PathHandler;
}

/** A success response. */
export function ok(body: unknown): PathResponse {
  return { status: Status.OK, body };
}

/** An error response with one readable sentence. */
export function fail(status: number, error: string): PathResponse {
  return { status, error };
}

/** Splits an absolute path into segments, resolving nothing (no `..`). */
export function splitPath(path: string): string[] {
  return path.split("/").filter((s) => s.length > 0);
}

/** Holds the routes of all modules and dispatches requests to them. */
export class PathRouter {
  readonly #routes: Route[] = [];

  /** Registers `handler` for `method` on `pattern` (e.g. `/iot/devices/:id`). */
  on(method: Method, pattern: string, handler: PathHandler): void {
    const segments = splitPath(pattern);
    if (this.#routes.some((r) => r.method === method && r.pattern === pattern)) {
      throw new Error(`route ${method} ${pattern} registered twice`);
    }
    this.#routes.push({ method, pattern, segments, handler });
  }

  /** Serves a request: the most specific matching route, else 404/405. */
  async handle(req: PathRequest): Promise<PathResponse> {
    if (!req.path.startsWith("/")) {
      return fail(Status.BadRequest, `path '${req.path}' must start with '/'`);
    }
    const segs = splitPath(req.path);
    let matched;
    try {
      matched = this.#routes.map((r) => ({ r, params: match(r.segments, segs) }));
    } catch (e) {
      if (!(e instanceof URIError)) throw e;
      return fail(Status.BadRequest, `path '${req.path}' has a malformed %-escape`);
    }
    const matches = matched
      .filter((m): m is { r: Route; params: Record<string, string> } => m.params !== null)
      .sort((a, b) => compareSpecificity(a.r, b.r));
    const hit = matches.find((m) => m.r.method === req.method);
    if (hit) {
      try {
        return await hit.r.handler(req, hit.params);
      } catch (e) {
        return fail(Status.Internal, `${req.method} ${req.path} failed: ${(e as Error).message}`);
      }
    }
    if (req.method === "LIST") {
      const names = this.#childNames(segs);
      if (names.length > 0) return ok(names);
    }
    if (matches.length > 0) {
      const allowed = [...new Set(matches.map((m) => m.r.method))].join(", ");
      return fail(
        Status.MethodNotAllowed,
        `${req.method} is not supported on ${req.path} (it answers ${allowed})`,
      );
    }
    return fail(Status.NotFound, `no such path: ${req.path}`);
  }

  /** Static names one level below `segs`, from the registered patterns. */
  #childNames(segs: readonly string[]): string[] {
    const names = new Set<string>();
    for (const r of this.#routes) {
      if (r.segments.length <= segs.length) continue;
      if (match(r.segments.slice(0, segs.length), segs) === null) continue;
      const next = r.segments[segs.length];
      if (!next.startsWith(":") && !next.startsWith("*")) names.add(next);
    }
    return [...names].sort();
  }
}

function match(pattern: readonly string[], segs: readonly string[]): Record<string, string> | null {
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

/** Sorts the more specific route first: segment by segment, static > `:param` > `*rest`. */
function compareSpecificity(a: Route, b: Route): number {
  const rank = (s: string | undefined) =>
    s === undefined ? 0 : s.startsWith("*") ? 1 : s.startsWith(":") ? 2 : 3;
  const n = Math.max(a.segments.length, b.segments.length);
  for (let i = 0; i < n; i++) {
    const d = rank(b.segments[i]) - rank(a.segments[i]);
    if (d !== 0) return d;
  }
  return 0;
}
