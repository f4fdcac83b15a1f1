/**
 * The path router: modules register handlers on patterns; a request goes to
 * the most specific route for its method, else the router answers 404, 405,
 * or, for LIST, the static names one level down.
 */
import { type Method, Status } from "../wire/constants.ts";
import { errorText } from "../util/errors.ts";
import {
  comparePatterns,
  compilePattern,
  isStatic,
  matchSegments,
  type Pattern,
  splitPath,
} from "./match.ts";
import {
  fail,
  ok,
  type PathHandler,
  type PathRequest,
  type PathResponse,
  type PathService,
} from "./types.ts";

interface Route {
  readonly method: Method;
  readonly pattern: Pattern;
  readonly handler: PathHandler;
}

/** Holds the routes of all modules and dispatches requests to them. */
export class PathRouter implements PathService {
  /** Most specific first; kept sorted on every registration, so requests never sort. */
  readonly #routes: Route[] = [];

  /** Registers `handler` for `method` on `pattern` (e.g. `/iot/devices/:id`). */
  on(method: Method, pattern: string, handler: PathHandler): void {
    if (this.#routes.some((r) => r.method === method && r.pattern.text === pattern)) {
      throw new Error(`route ${method} ${pattern} registered twice`);
    }
    const route = { method, pattern: compilePattern(pattern), handler };
    // Stable insertion: among equally specific routes, the earlier registration wins.
    let i = this.#routes.length;
    while (i > 0 && comparePatterns(route.pattern, this.#routes[i - 1].pattern) < 0) i--;
    this.#routes.splice(i, 0, route);
  }

  /**
   * Serves a request: the most specific matching route, else 404/405. A route
   * never takes a path that a more specific route owns for other methods
   * (`LIST /node/peers` is not `/node/:peer/*rest` with peer `peers`).
   */
  async handle(req: PathRequest): Promise<PathResponse> {
    if (!req.path.startsWith("/")) {
      return fail(Status.BadRequest, `path '${req.path}' must start with '/'`);
    }
    const segs = splitPath(req.path);
    const allowed = new Set<Method>();
    let owner: Route | null = null;
    try {
      for (const r of this.#routes) {
        const params = matchSegments(r.pattern.segments, segs);
        if (params === null) continue;
        if (r.method !== req.method) {
          allowed.add(r.method);
          owner ??= r;
          continue;
        }
        if (owner !== null && comparePatterns(r.pattern, owner.pattern) > 0) break;
        try {
          return await r.handler(req, params);
        } catch (e) {
          return fail(Status.Internal, `${req.method} ${req.path} failed: ${errorText(e)}`);
        }
      }
    } catch (e) {
      if (!(e instanceof URIError)) throw e;
      return fail(Status.BadRequest, `path '${req.path}' has a malformed %-escape`);
    }
    const children = allowed.size === 0 || req.method === "LIST" ? this.childNames(req.path) : [];
    if (req.method === "LIST" && children.length > 0) return ok(children);
    if (children.length > 0) allowed.add("LIST");
    if (allowed.size > 0) return notAllowed(req.method, req.path, allowed);
    return fail(Status.NotFound, `no such path: ${req.path}`);
  }

  /** Static names one level below `path`, from the registered patterns. */
  childNames(path: string): string[] {
    const segs = splitPath(path);
    const names = new Set<string>();
    for (const r of this.#routes) {
      const p = r.pattern.segments;
      if (p.length <= segs.length) continue;
      if (matchSegments(p.slice(0, segs.length), segs) === null) continue;
      const next = p[segs.length];
      if (isStatic(next)) names.add(next);
    }
    return [...names].sort();
  }
}

/** 405 with the methods the path does answer, and how to ask for a list. */
function notAllowed(method: Method, path: string, allowed: ReadonlySet<Method>): PathResponse {
  const methods = [...allowed];
  if (methods.length === 1 && methods[0] === "LIST") {
    return fail(
      Status.MethodNotAllowed,
      `${method} is not supported on ${path}: it is a list; ask LIST (?list in the HTTP API, ` +
        `ls in the shell)`,
    );
  }
  return fail(
    Status.MethodNotAllowed,
    `${method} is not supported on ${path} (it answers ${methods.join(", ")})`,
  );
}
