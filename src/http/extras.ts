/**
 * What the HTTP listener serves besides `/api/<path>`: `/metrics` for
 * Prometheus, `/api/events` (SSE) for people and programs, and the dashboard
 * at `/`. The API server asks {@link HttpExtras.public} before its token
 * check and {@link HttpExtras.handle} after its token and origin checks; null
 * means "not mine", and the request goes on to the API as before.
 */
import type { NodeMetrics } from "../metrics/node.ts";
import type { CallerRole } from "../paths/types.ts";
import { isDashboardPath, serveDashboard } from "./dashboard.ts";
import { type EventSource, EventStreams } from "./events_sse.ts";
import { METRICS_PATH, serveMetrics } from "./metrics_endpoint.ts";

/** The path of the event streams. */
const EVENTS_PATH = "/api/events";

/** What the extras serve; each is off when left out. */
export interface HttpExtrasOptions {
  /** `/metrics`; the SSE streams add their own figures to it. */
  readonly metrics?: NodeMetrics;
  /** `/api/events`. */
  readonly events?: {
    readonly source: EventSource;
    readonly node: string;
    /** Whether a `/node/<name>/…` path names a node this one can reach. */
    readonly knows: (name: string) => boolean;
    /** Streams at once. Default 32. */
    readonly maxStreams?: number;
    /** Quiet time before a keep-alive comment. Default 15 s. */
    readonly keepAliveMs?: number;
  };
  /** The dashboard at `/`. Default false. */
  readonly dashboard?: boolean;
}

/** What the server tells the extras about a request it let in (token and origin checked). */
export interface ExtrasContext {
  /** What the caller's token allows. */
  readonly role: CallerRole;
  /** Aborts when the client leaves or the API stops. */
  readonly signal: AbortSignal;
}

/** The dispatch of the extras. */
export interface HttpExtras {
  /** Whether `pathname` is a dashboard file: the API skips building a Request otherwise. */
  servesPublic(pathname: string): boolean;
  /** A dashboard file, served before any token check (they hold no data); else null. */
  public(request: Request, url: URL): Response | null;
  /** The response to a request that passed the token and origin checks, or null for the API. */
  handle(request: Request, url: URL, ctx: ExtrasContext): Response | null;
  /** Whether `handle` may answer for `pathname`: the API skips building a Request otherwise. */
  serves(pathname: string): boolean;
}

/** Builds the extras of one API. */
export function createHttpExtras(o: HttpExtrasOptions): HttpExtras {
  const streams = o.events === undefined ? null : new EventStreams(o.events);
  if (streams !== null && o.metrics !== undefined) {
    o.metrics.collect((s) => {
      s.gauge("portal_http_event_streams", "SSE event streams open now.", [{
        value: streams.active,
      }]);
      s.counter(
        "portal_http_event_stream_dropped_total",
        "Events an SSE client lost because it read too slowly (oldest dropped).",
        [{ value: streams.dropped }],
      );
    });
  }
  const json = (status: number, error: string) =>
    new Response(JSON.stringify({ error }) + "\n", {
      status,
      headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" },
    });
  return {
    servesPublic(pathname) {
      return o.dashboard === true && isDashboardPath(pathname);
    },
    public(request, url) {
      return o.dashboard === true ? serveDashboard(request, url.pathname) : null;
    },
    serves(pathname) {
      return (pathname === METRICS_PATH && o.metrics !== undefined) ||
        (pathname === EVENTS_PATH && streams !== null);
    },
    handle(request, url, ctx) {
      const path = url.pathname;
      if (path === METRICS_PATH && o.metrics !== undefined) {
        return serveMetrics(request, () => o.metrics!.render());
      }
      if (path === EVENTS_PATH && streams !== null) {
        if (request.method !== "GET") {
          return json(405, `method ${request.method} is not supported on ${EVENTS_PATH}; use GET`);
        }
        const paths = streams.paths(url);
        if (!Array.isArray(paths)) return json(paths.status, paths.error);
        const opened = streams.open(paths, ctx.role, ctx.signal);
        return opened instanceof Response ? opened : json(opened.status, opened.error);
      }
      return null;
    },
  };
}
