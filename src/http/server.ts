/**
 * The HTTP API ([mod_http], PATHS.md): `/api/<path>` is `<path>` on the path
 * router, so everything the federation and the shell reach is reachable with
 * curl, and nothing more.
 *
 *   GET  /api/<path>        → GET  /<path>       (HEAD: the same, without the body)
 *   GET  /api/<path>?k=v    → GET  /<path> with args {k: "v"} (`/node/audit?limit=5`)
 *   GET  /api/<path>?list   → LIST /<path>
 *   POST /api/<path> {json} → CALL /<path> with the JSON object as args
 *
 * Who may ask: with `token`, every request carries it (full access) or
 * `read_token` (GET and LIST only); without a token, only requests addressed
 * to this host by an allowed name (against DNS rebinding). `GET /api/health`
 * answers everyone with the status alone, for load balancers and systemd.
 */
import type { HttpConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { CallerRole, PathRequest, PathResponse, PathService } from "../paths/mod.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import type { Method } from "../wire/constants.ts";
import { Status } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { type ApiAuth, apiAuth, type TokenCheck } from "./auth.ts";
import type { HttpReply, HttpRequest } from "./conn.ts";
import { createHttpExtras, type HttpExtrasOptions } from "./extras.ts";
import { type HttpServer, serveHttp } from "./listen.ts";
import { crossSiteRefusal } from "./same_origin.ts";
import {
  API_PREFIX,
  decodeQueryKey,
  decodeQueryValue,
  fromResponse,
  json,
  readArgs,
  targetUrl,
  toHttpReply,
  toRouterPath,
  webRequest,
} from "./translate.ts";
import { hostPortText } from "../util/host.ts";

export { allowedHostNames } from "./auth.ts";

/** Largest POST body accepted by default: 1 MiB, the federation's default frame bound. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

export { API_PREFIX, toRouterPath } from "./translate.ts";

/** The path health checks ask without a token. */
export const HEALTH_PATH = `${API_PREFIX}/health`;

/** Options of {@link startHttpApi}. */
export interface HttpApiOptions {
  /** [mod_http]; `listen` must not be null (`listen = off` means: do not start the API). */
  readonly config: HttpConfig;
  /** Serves every path; the API adds none of its own. */
  readonly router: PathService;
  readonly logger: Logger;
  /** Largest JSON body of a POST, in bytes. Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** Timers of the connections' deadlines. Default the system clock. */
  readonly clock?: Clock;
  /** Connections held at once. Default 256. */
  readonly maxConnections?: number;
  /** Time for a request head to arrive whole. Default 10 s. */
  readonly headerTimeoutMs?: number;
  /** Time a kept-alive connection may stay idle. Default 5 s. */
  readonly idleTimeoutMs?: number;
  /** `/metrics`, `/api/events` and the dashboard at `/` (extras.ts). Default none of them. */
  readonly extras?: HttpExtrasOptions;
}

/** A running HTTP API. */
export interface HttpApi {
  /** Where it listens (the real port when the config asked for 0). */
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Connections open now. */
  readonly connections: number;
  /** Stops listening, aborts requests in flight and waits for their connections to close. */
  shutdown(): Promise<void>;
  /**
   * Stops listening and closes idle connections; requests in flight run to
   * their answer (for up to `graceMs`), then their connections close too.
   */
  drain(graceMs: number): Promise<void>;
  /**
   * A reload: token, read_token and allowed_hosts apply to the next request;
   * returns the keys that need a restart (`listen`), which keep their value.
   */
  reconfigure(config: HttpConfig): string[];
}

/** Why the API could not start. */
export type HttpApiErrorCode = "listen_off" | "listen_failed";

/** The API could not start; the message says what to change. */
export class HttpApiError extends Error {
  override readonly name = "HttpApiError";
  constructor(readonly code: HttpApiErrorCode, message: string) {
    super(message);
  }
}

const ALLOWED_METHODS = "GET, HEAD, POST";

/** Who is asking: a token's role, or nobody (no token sent where one is needed). */
type Caller = CallerRole | "anonymous";

/** Starts the HTTP API on `config.listen`; resolves once it is listening. */
export function startHttpApi(options: HttpApiOptions): Promise<HttpApi> {
  const { config, router } = options;
  const listen = config.listen;
  if (listen === null) {
    return Promise.reject(
      new HttpApiError(
        "listen_off",
        "the HTTP API is off ([mod_http] listen = off); startHttpApi must not be called for it",
      ),
    );
  }
  const logger = options.logger.with({ component: "http" });
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  // Replaced whole by a reload: a request reads one consistent set of tokens.
  let auth: ApiAuth = apiAuth(config);

  const refused = (req: HttpRequest, path: string, reason: string) =>
    logger.warn("HTTP API request refused", {
      remote: req.remote,
      method: req.method,
      path,
      reason,
    });

  /** The caller's role, or the 401 that answers a wrong token. */
  const identify = (req: HttpRequest): Caller | HttpReply => {
    const { checkToken, checkRead } = auth;
    if (checkToken === null) return "full";
    const authorization = req.headers.get("authorization") ?? null;
    const full = checkToken(authorization);
    if (full === "ok") return "full";
    const read: TokenCheck = checkRead === null ? full : checkRead(authorization);
    if (read === "ok") return "read";
    if (full === "missing") return "anonymous";
    return json(Status.Unauthorized, {
      error: "wrong token: the bearer token matches neither [mod_http] token nor read_token",
    }, { "www-authenticate": 'Bearer realm="portal", error="invalid_token"' });
  };

  const extras = createHttpExtras(options.extras ?? {});
  const serve = async (req: HttpRequest): Promise<HttpReply> => {
    const q = req.target.indexOf("?");
    const pathname = q < 0 ? req.target : req.target.slice(0, q);
    const query = q < 0 ? "" : req.target.slice(q + 1);
    // The dashboard's files hold no data: they load without a token (extras.ts).
    if (extras.servesPublic(pathname)) {
      const url = targetUrl(req);
      const file = extras.public(webRequest(req, url), url);
      if (file !== null) return await fromResponse(file);
    }
    const caller = identify(req);
    if (typeof caller === "object") {
      refused(req, pathname, "wrong token");
      return caller;
    }
    const health = pathname === HEALTH_PATH && query === "" &&
      (req.method === "GET" || req.method === "HEAD");
    if (caller === "anonymous") {
      if (health) return await healthStatus(router);
      refused(req, pathname, "no token");
      return json(Status.Unauthorized, {
        error: "this API needs a token: send 'Authorization: Bearer <token>' ([mod_http] token)",
      }, { "www-authenticate": 'Bearer realm="portal"' });
    }
    if (auth.checkToken === null) {
      const host = auth.foreignHost(req.headers.get("host"));
      if (host !== null) {
        if (health) return await healthStatus(router);
        refused(req, pathname, `Host '${host}' is not allowed`);
        return json(Status.Forbidden, {
          error: `Host '${host}' is not one this API answers without a token ` +
            `(${[...auth.hosts].join(", ")}); add it to [mod_http] allowed_hosts, or set a token`,
        });
      }
    }
    // Pages of other sites are refused, so that a page the operator visits cannot switch
    // devices through a local API; the node's own dashboard is welcome (same_origin.ts).
    const crossSite = crossSiteRefusal(req.headers);
    if (crossSite !== null) {
      refused(req, pathname, "cross-site request");
      return json(Status.Forbidden, { error: crossSite });
    }
    // A Fetch API Request costs ~8 % of a routed request: built only for the extras' paths.
    if (extras.serves(pathname)) {
      const url = targetUrl(req);
      const extra = extras.handle(webRequest(req, url), url, { role: caller, signal: req.signal });
      if (extra !== null) return await fromResponse(extra);
    }
    if (req.method !== "GET" && req.method !== "HEAD" && req.method !== "POST") {
      return json(Status.MethodNotAllowed, {
        error: `method ${req.method} is not supported; the API answers ${ALLOWED_METHODS}`,
      }, { allow: ALLOWED_METHODS });
    }
    const path = toRouterPath(pathname);
    if (path === null) {
      return json(Status.NotFound, {
        error: `no such endpoint: ${pathname} (the API serves ${API_PREFIX}/<path>)`,
      });
    }
    if (typeof path === "object") return json(Status.BadRequest, { error: path.error });
    let wantsList = false;
    // `?key=value` pairs are a GET's args (PATHS.md: `/node/audit?limit=N`); a bare key other
    // than `list` is a typo, refused rather than ignored.
    const queryArgs: Record<string, string> = {};
    let queryArgCount = 0;
    for (const pair of query === "" ? [] : query.split("&")) {
      const key = decodeQueryKey(pair);
      if (key === "list") {
        wantsList = true;
        continue;
      }
      if (key === "") continue;
      if (!pair.includes("=")) {
        return json(Status.BadRequest, {
          error: `unknown query parameter '${key}' (bare, the API knows only '?list'; ` +
            `arguments are written key=value)`,
        });
      }
      if (Object.hasOwn(queryArgs, key)) {
        return json(Status.BadRequest, { error: `query parameter '${key}' is given twice` });
      }
      queryArgs[key] = decodeQueryValue(pair);
      queryArgCount++;
    }
    let method: Method;
    let args: JsonObject = {};
    if (req.method !== "POST") {
      method = wantsList ? "LIST" : "GET";
      args = queryArgs;
    } else {
      if (queryArgCount > 0) {
        return json(Status.BadRequest, {
          error: "POST takes its arguments as a JSON object in the body, not in the query",
        });
      }
      if (wantsList) {
        return json(Status.BadRequest, { error: "'?list' goes with GET; POST calls the path" });
      }
      if (caller === "read") {
        refused(req, pathname, "read_token used for a CALL");
        return json(Status.Forbidden, {
          error: "the read-only token (read_token) may GET and LIST; calling " +
            `${path} needs [mod_http] token`,
        });
      }
      method = "CALL";
      const parsed = await readArgs(req, maxBodyBytes);
      if ("error" in parsed) return json(parsed.status, { error: parsed.error }, {}, true);
      args = parsed.args;
    }
    const pathReq: PathRequest = {
      method,
      path,
      args,
      origin: null,
      signal: req.signal,
      role: caller,
    };
    let res: PathResponse;
    try {
      res = await router.handle(pathReq);
    } catch (e) {
      logger.error("router failed", { method, path, error: errorText(e) });
      return json(Status.Internal, { error: `${method} ${path} failed: ${errorText(e)}` });
    }
    return toHttpReply(res);
  };

  let server: HttpServer;
  try {
    server = serveHttp({
      hostname: listen.hostname,
      port: listen.port,
      clock: options.clock ?? systemClock,
      maxConnections: options.maxConnections,
      headerTimeoutMs: options.headerTimeoutMs,
      idleTimeoutMs: options.idleTimeoutMs,
      handler: async (req) => {
        // Whole milliseconds are what the line shows; Date.now() costs no call into the runtime.
        const started = Date.now();
        const reply = await serve(req);
        logger.debug("http request", {
          remote: req.remote,
          method: req.method,
          url: req.target,
          status: reply.status,
          ms: Date.now() - started,
        });
        return reply;
      },
      onRefused: (remote, reason) => logger.warn("HTTP connection refused", { remote, reason }),
      onExhausted: (reason, pauseMs) =>
        logger.error("HTTP API out of file descriptors", {
          reason,
          action: `accepting pauses ${pauseMs} ms and resumes by itself`,
        }),
      onResumed: (failures) =>
        logger.info("HTTP API accepting again", { failed_accepts: failures }),
      onHandlerError: (message) => logger.error("HTTP API request failed", { error: message }),
    });
  } catch (e) {
    return Promise.reject(
      new HttpApiError(
        "listen_failed",
        `cannot listen for the HTTP API on ${hostPortText(listen.hostname, listen.port)}: ` +
          `${listenReason(e)} (check [mod_http] listen)`,
      ),
    );
  }
  const addr = server.addr;
  logger.info("HTTP API listening", {
    address: hostPortText(addr.hostname, addr.port),
    token: auth.checkToken !== null,
  });
  let stopping: Promise<void> | null = null;
  return Promise.resolve({
    addr,
    get connections() {
      return server.connections;
    },
    shutdown: () => {
      stopping ??= (async () => {
        await server.shutdown();
        logger.info("HTTP API stopped");
      })();
      return stopping;
    },
    drain: (graceMs) => {
      stopping ??= (async () => {
        await server.shutdown(graceMs, { finish: true });
        logger.info("HTTP API stopped");
      })();
      return stopping;
    },
    reconfigure: (next) => {
      auth = apiAuth(next);
      const same = next.listen !== null &&
        next.listen.hostname === listen.hostname && next.listen.port === listen.port;
      return same ? [] : ["listen"];
    },
  });
}

/** `GET /api/health` for anyone: the status and nothing about the node. */
async function healthStatus(router: PathService): Promise<HttpReply> {
  const res = await router.handle({ method: "GET", path: "/health", args: {}, origin: null });
  const body = res.body as { status?: unknown } | undefined;
  const status = typeof body?.status === "string" ? body.status : res.status < 300 ? "ok" : "error";
  return json(res.status >= 200 && res.status <= 599 ? res.status : Status.Unreachable, { status });
}

function listenReason(e: unknown): string {
  if (e instanceof Deno.errors.AddrInUse) return "the address is already in use";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.AddrNotAvailable) return "the address is not available here";
  return (e as Error).message;
}
