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

  /** Serves a request: the most specific matching route, else 404/405. */
  async handle(req: PathRequest): Promise<PathResponse> {
    if (!req.path.startsWith("/")) {
      return fail(Status.BadRequest, `path '${req.path}' must start with '/'`);
    }
    const segs = splitPath(req.path);
    const allowed = new Set<Method>();
    try {
      for (const r of this.#routes) {
        const params = matchSegments(r.pattern.segments, segs);
        if (params === null) continue;
        if (r.method !== req.method) {
          allowed.add(r.method);
          continue;
        }
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
    if (req.method === "LIST") {
      const names = this.childNames(req.path);
      if (names.length > 0) return ok(names);
    }
    if (allowed.size > 0) {
      return fail(
        Status.MethodNotAllowed,
        `${req.method} is not supported on ${req.path} (it answers ${[...allowed].join(", ")})`,
      );
    }
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
