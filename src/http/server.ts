/**
 * The HTTP API ([mod_http], PATHS.md): `/api/<path>` is `<path>` on the path
 * router, so everything the federation and the shell reach is reachable with
 * curl, and nothing more.
 *
 *   GET  /api/<path>        → GET  /<path>
 *   GET  /api/<path>?list   → LIST /<path>
 *   POST /api/<path> {json} → CALL /<path> with the JSON object as args
 */
import type { HttpConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { PathRequest, PathResponse, PathRouter } from "../paths/mod.ts";
import type { Method } from "../wire/constants.ts";
import { Status } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { bearerChecker } from "./auth.ts";
import { createHttpExtras, type HttpExtrasOptions } from "./extras.ts";
import { crossSiteRefusal } from "./same_origin.ts";
import { readCapped, TooLargeError } from "../util/read.ts";

/** Largest POST body accepted by default: 1 MiB, the federation's default frame bound. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Everything the API serves lives below this prefix. */
export const API_PREFIX = "/api";

/** Options of {@link startHttpApi}. */
export interface HttpApiOptions {
  /** [mod_http]; `listen` must not be null (`listen = off` means: do not start the API). */
  readonly config: HttpConfig;
  /** Serves every path; the API adds none of its own. */
  readonly router: PathRouter;
  readonly logger: Logger;
  /** Largest JSON body of a POST, in bytes. Default {@link DEFAULT_MAX_BODY_BYTES}. */
  readonly maxBodyBytes?: number;
  /** `/metrics`, `/api/events` and the dashboard at `/` (extras.ts). Default none of them. */
  readonly extras?: HttpExtrasOptions;
}

/** A running HTTP API. */
export interface HttpApi {
  /** Where it listens (the real port when the config asked for 0). */
  readonly addr: { readonly hostname: string; readonly port: number };
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

const ALLOWED_METHODS = "GET, POST";

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
  // Aborted on shutdown so that requests waiting on the federation stop at once.
  const closing = new AbortController();

  const extras = createHttpExtras(options.extras ?? {});
  const serve = async (request: Request, remote: string): Promise<Response> => {
    const url = new URL(request.url);
    // The dashboard's files hold no data: they load without a token (extras.ts).
    const file = extras.public(request, url);
    if (file !== null) return file;
    if (checkToken !== null) {
      const check = checkToken(request.headers.get("authorization"));
      if (check !== "ok") {
        logger.warn(
          "HTTP API request refused: " + (check === "missing" ? "no token" : "wrong token"),
          {
            remote,
            method: request.method,
            path: url.pathname,
          },
        );
        const message = check === "missing"
          ? "this API needs a token: send 'Authorization: Bearer <token>' ([mod_http] token)"
          : "wrong token: the bearer token does not match [mod_http] token";
        return json(Status.Unauthorized, { error: message }, {
          "www-authenticate": check === "missing"
            ? 'Bearer realm="portal"'
            : 'Bearer realm="portal", error="invalid_token"',
        });
      }
    }
    // Pages of other sites are refused, so that a page the operator visits cannot switch
    // devices through a local API; the node's own dashboard is welcome (same_origin.ts).
    const crossSite = crossSiteRefusal(request);
    if (crossSite !== null) return json(Status.Forbidden, { error: crossSite });
    const extra = extras.handle(request, url, {
      role: "full",
      signal: AbortSignal.any([request.signal, closing.signal]),
    });
    if (extra !== null) return extra;
    if (request.method !== "GET" && request.method !== "POST") {
      return json(Status.MethodNotAllowed, {
        error: `method ${request.method} is not supported; the API answers GET and POST`,
      }, { allow: ALLOWED_METHODS });
    }
    const path = toRouterPath(url.pathname);
    if (path === null) {
      return json(Status.NotFound, {
        error: `no such endpoint: ${url.pathname} (the API serves ${API_PREFIX}/<path>)`,
      });
    }
    if (typeof path === "object") return json(Status.BadRequest, { error: path.error });
    for (const key of url.searchParams.keys()) {
      if (key !== "list") {
        return json(Status.BadRequest, {
          error: `unknown query parameter '${key}' (the API knows only '?list')`,
        });
      }
    }
    const wantsList = url.searchParams.has("list");
    let method: Method;
    let args: JsonObject = {};
    if (request.method === "GET") {
      method = wantsList ? "LIST" : "GET";
    } else {
      if (wantsList) {
        return json(Status.BadRequest, {
          error: "'?list' goes with GET; POST calls the path",
        });
      }
      method = "CALL";
      const parsed = await readArgs(request, maxBodyBytes);
      if ("error" in parsed) return json(parsed.status, { error: parsed.error });
      args = parsed.args;
    }
    const signal = AbortSignal.any([request.signal, closing.signal]);
    const req: PathRequest = { method, path, args, origin: null, signal };
    let res: PathResponse;
    try {
      res = await router.handle(req);
    } catch (e) {
      logger.error("router failed", { method, path, error: (e as Error).message });
      return json(Status.Internal, { error: `${method} ${path} failed: ${(e as Error).message}` });
    }
    return toHttpResponse(res);
  };

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: listen.hostname,
      port: listen.port,
      onListen: () => {},
      onError: (e) => {
        logger.error("HTTP API request failed", { error: (e as Error).message });
        return json(Status.Internal, { error: "internal error" });
      },
    }, async (request, info) => {
      const started = performance.now();
      const remote = `${info.remoteAddr.hostname}:${info.remoteAddr.port}`;
      const response = await serve(request, remote);
      logger.debug("http request", {
        remote,
        method: request.method,
        url: request.url,
        status: response.status,
        ms: Math.round(performance.now() - started),
      });
      return response;
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
  const addr = { hostname: server.addr.hostname, port: server.addr.port };
  logger.info("HTTP API listening", {
    address: `${addr.hostname}:${addr.port}`,
    token: checkToken !== null,
  });
  let stopping: Promise<void> | null = null;
  return Promise.resolve({
    addr,
    shutdown: () => {
      stopping ??= (async () => {
        closing.abort(new Error("the HTTP API is shutting down"));
        await server.shutdown();
        logger.info("HTTP API stopped");
      })();
      return stopping;
    },
  });
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

type ReadArgs = { args: JsonObject } | { status: number; error: string };

/** Reads a POST body as the CALL's args: empty means `{}`, otherwise a JSON object. */
async function readArgs(request: Request, limit: number): Promise<ReadArgs> {
  const tooLarge = {
    status: Status.TooLarge,
    error: `the JSON body is larger than the API accepts (${limit} bytes)`,
  };
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > limit) {
    await request.body?.cancel().catch(() => {});
    return tooLarge;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readCapped(request.body, limit);
  } catch (e) {
    if (e instanceof TooLargeError) return tooLarge;
    return { status: Status.BadRequest, error: `could not read the body: ${(e as Error).message}` };
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
function toHttpResponse(res: PathResponse): Response {
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

function json(status: number, value: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(value) + "\n", {
    status,
    headers: { ...JSON_HEADERS, ...headers },
  });
}

function listenReason(e: unknown): string {
  if (e instanceof Deno.errors.AddrInUse) return "the address is already in use";
  if (e instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (e instanceof Deno.errors.AddrNotAvailable) return "the address is not available here";
  return (e as Error).message;
}
