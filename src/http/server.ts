/**
 * The HTTP API ([mod_http], PATHS.md): `/api/<path>` is `<path>` on the path
 * router, so everything the federation and the shell reach is reachable with
 * curl, and nothing more.
 *
 *   GET  /api/<path>        → GET  /<path>       (HEAD: the same, without the body)
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
import type { CallerRole, PathRequest, PathResponse, PathRouter } from "../paths/mod.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { parseHostPort } from "../util/host.ts";
import type { Method } from "../wire/constants.ts";
import { Status } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { bearerChecker, type TokenCheck } from "./auth.ts";
import type { HttpReply, HttpRequest } from "./conn.ts";
import { createHttpExtras, type HttpExtrasOptions } from "./extras.ts";
import { HttpError } from "./http1.ts";
import { type HttpServer, serveHttp } from "./listen.ts";
import { crossSiteRefusal } from "./same_origin.ts";

/** Largest POST body accepted by default: 1 MiB, the federation's default frame bound. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Everything the API serves lives below this prefix. */
export const API_PREFIX = "/api";

/** The path health checks ask without a token. */
export const HEALTH_PATH = `${API_PREFIX}/health`;

/** Options of {@link startHttpApi}. */
export interface HttpApiOptions {
  /** [mod_http]; `listen` must not be null (`listen = off` means: do not start the API). */
  readonly config: HttpConfig;
  /** Serves every path; the API adds none of its own. */
  readonly router: PathRouter;
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

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
} as const;

const ALLOWED_METHODS = "GET, HEAD, POST";

/** Who is asking: a token's role, or nobody (no token sent where one is needed). */
type Caller = CallerRole | "anonymous";

/** The Host names served without a token: loopback names, the listen address, or `allowed_hosts`. */
export function allowedHostNames(config: HttpConfig): ReadonlySet<string> {
  if (config.allowedHosts !== null) return new Set(config.allowedHosts.map((h) => h.toLowerCase()));
  const names = new Set(["localhost", "127.0.0.1", "::1"]);
  const listen = config.listen?.hostname;
  if (listen && listen !== "0.0.0.0" && listen !== "::") names.add(listen.toLowerCase());
  return names;
}

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
  const checkToken = config.token === null ? null : bearerChecker(config.token);
  const checkRead = config.readToken === null ? null : bearerChecker(config.readToken);
  const hosts = allowedHostNames(config);
  /** Host header values already judged (clients send the same one again and again). */
  const hostVerdicts = new Map<string, string | null>();
  const foreignHost = (header: string | undefined): string | null => {
    if (header === undefined) return null;
    let verdict = hostVerdicts.get(header);
    if (verdict === undefined) {
      const host = hostOf(header);
      verdict = host === null || hosts.has(host) ? null : host;
      if (hostVerdicts.size >= 256) hostVerdicts.clear();
      hostVerdicts.set(header, verdict);
    }
    return verdict;
  };

  const refused = (req: HttpRequest, path: string, reason: string) =>
    logger.warn("HTTP API request refused", {
      remote: req.remote,
      method: req.method,
      path,
      reason,
    });

  /** The caller's role, or the 401 that answers a wrong token. */
  const identify = (req: HttpRequest): Caller | HttpReply => {
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
    if (pathname !== HEALTH_PATH && !pathname.startsWith(API_PREFIX + "/")) {
      const file = extras.public(webRequest(req), targetUrl(req));
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
    if (checkToken === null) {
      const host = foreignHost(req.headers.get("host"));
      if (host !== null) {
        if (health) return await healthStatus(router);
        refused(req, pathname, `Host '${host}' is not allowed`);
        return json(Status.Forbidden, {
          error: `Host '${host}' is not one this API answers without a token ` +
            `(${[...hosts].join(", ")}); add it to [mod_http] allowed_hosts, or set a token`,
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
    const extra = extras.serves(pathname)
      ? extras.handle(webRequest(req), targetUrl(req), { role: caller, signal: req.signal })
      : null;
    if (extra !== null) return await fromResponse(extra);
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
    for (const pair of query === "" ? [] : query.split("&")) {
      const key = decodeQueryKey(pair);
      if (key === "list") {
        wantsList = true;
        continue;
      }
      if (key === "") continue;
      return json(Status.BadRequest, {
        error: `unknown query parameter '${key}' (the API knows only '?list')`,
      });
    }
    let method: Method;
    let args: JsonObject = {};
    if (req.method !== "POST") {
      method = wantsList ? "LIST" : "GET";
    } else {
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
      logger.error("router failed", { method, path, error: (e as Error).message });
      return json(Status.Internal, { error: `${method} ${path} failed: ${(e as Error).message}` });
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
        `cannot listen for the HTTP API on ${listen.hostname}:${listen.port}: ` +
          `${listenReason(e)} (check [mod_http] listen)`,
      ),
    );
  }
  const addr = server.addr;
  logger.info("HTTP API listening", {
    address: `${addr.hostname}:${addr.port}`,
    token: checkToken !== null,
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
  });
}

function targetUrl(req: HttpRequest): URL {
  return new URL(req.target, "http://portal.invalid");
}

/** The request as the Fetch API's Request, for the extras (which are written against it). */
function webRequest(req: HttpRequest): Request {
  return new Request(targetUrl(req), {
    method: req.method,
    headers: [...req.headers],
    signal: req.signal,
  });
}

/** A Fetch API Response as a reply: event streams streamed, every other body sent whole. */
async function fromResponse(res: Response): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => headers[k] = v);
  if (res.body === null) return { status: res.status, headers };
  if (headers["content-type"]?.startsWith("text/event-stream")) {
    return { status: res.status, headers, body: res.body };
  }
  return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
}

/** `GET /api/health` for anyone: the status and nothing about the node. */
async function healthStatus(router: PathRouter): Promise<HttpReply> {
  const res = await router.handle({ method: "GET", path: "/health", args: {}, origin: null });
  const body = res.body as { status?: unknown } | undefined;
  const status = typeof body?.status === "string" ? body.status : res.status < 300 ? "ok" : "error";
  return json(res.status >= 200 && res.status <= 599 ? res.status : Status.Unreachable, { status });
}

/** The host name of a Host header (canonical: lowercase, IPv6 without brackets); null when absent. */
function hostOf(header: string | undefined | null): string | null {
  if (header === undefined || header === null) return null;
  const parsed = parseHostPort(header, { portOptional: true, minPort: 0 });
  // An unparsable Host is never an allowed name; keep it (cut) for the sentence.
  return parsed.ok ? parsed.value.host.value.toLowerCase() : header.slice(0, 60).toLowerCase();
}

/** The key of one `key[=value]` query pair, %-decoded ('' when malformed). */
function decodeQueryKey(pair: string): string {
  const eq = pair.indexOf("=");
  const raw = (eq < 0 ? pair : pair.slice(0, eq)).replaceAll("+", " ");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/**
 * Maps `/api/<segments>` to the router path. Segments are URL-decoded and then
 * encoded again in one canonical form, so `%69ot` matches `iot` while an
 * encoded `/` or `%` stays inside its segment (the router decodes parameters).
 * Returns null outside /api, or an error for malformed percent-encoding.
 */
export function toRouterPath(pathname: string): string | { error: string } | null {
  if (pathname !== API_PREFIX && !pathname.startsWith(API_PREFIX + "/")) return null;
  const segments: string[] = [];
  for (const raw of pathname.slice(API_PREFIX.length).split("/")) {
    if (raw === "") continue;
    // Unreserved characters only: already canonical.
    if (UNRESERVED.test(raw)) {
      segments.push(raw);
      continue;
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(raw);
    } catch {
      return { error: `malformed percent-encoding in path segment '${raw}'` };
    }
    segments.push(encodeURIComponent(decoded));
  }
  return "/" + segments.join("/");
}

const UNRESERVED = /^[A-Za-z0-9._~-]+$/;

type ReadArgs = { args: JsonObject } | { status: number; error: string };

/** Reads a POST body as the CALL's args: empty means `{}`, otherwise a JSON object. */
async function readArgs(req: HttpRequest, limit: number): Promise<ReadArgs> {
  let bytes: Uint8Array;
  try {
    bytes = await req.body(limit);
  } catch (e) {
    if (e instanceof HttpError && e.status === Status.TooLarge) {
      return {
        status: Status.TooLarge,
        error: `the JSON body is larger than the API accepts (${limit} bytes)`,
      };
    }
    const status = e instanceof HttpError ? e.status : Status.BadRequest;
    return { status, error: `could not read the body: ${(e as Error).message}` };
  }
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { status: Status.BadRequest, error: "the body is not valid UTF-8" };
  }
  if (text.trim() === "") return { args: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { status: Status.BadRequest, error: `invalid JSON body: ${(e as Error).message}` };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    const kind = value === null ? "null" : Array.isArray(value) ? "an array" : typeof value;
    return {
      status: Status.BadRequest,
      error: `the JSON body must be an object of arguments, not ${kind}`,
    };
  }
  return { args: value as JsonObject };
}

/** The router's answer as HTTP: its status, and its body or `{"error": …}`. */
function toHttpReply(res: PathResponse): HttpReply {
  const status = res.status;
  if (!Number.isInteger(status) || status < 200 || status > 599) {
    return json(Status.Unreachable, {
      error: `the node answered with an invalid status ${status}`,
    });
  }
  if (status >= 300) {
    return json(status, { error: res.error ?? `request failed with status ${status}` });
  }
  try {
    return json(status, res.body ?? null);
  } catch (e) {
    return json(Status.Internal, {
      error: `the answer cannot be sent as JSON: ${(e as Error).message}`,
    });
  }
}

function json(
  status: number,
  value: unknown,
  headers: Record<string, string> = {},
  close = false,
): HttpReply {
  return {
    status,
    headers: { ...JSON_HEADERS, ...headers },
    body: JSON.stringify(value) + "\n",
    close,
  };
}

function listenReason(e: unknown): string {
  if (e instanceof Deno.errors.AddrInUse) return "the address is already in use";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.AddrNotAvailable) return "the address is not available here";
  return (e as Error).message;
}
