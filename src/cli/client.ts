/**
 * The HTTP client the shell and `portal call` use to talk to a running node
 * through its API ([mod_http]), and how they find that node.
 */
import type { Config } from "../config/types.ts";
import { MAX_TIMER_MS } from "../util/clock.ts";
import { readCapped } from "../util/read.ts";
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";

/** Why a request to the node produced no answer. */
export type ClientErrorCode =
  /** Nothing accepts connections at the URL. */
  | "unreachable"
  /** The node did not answer in time. */
  | "timeout"
  /** The caller gave up (Ctrl-C). */
  | "aborted"
  /** Something answered, but not as a Portal API does. */
  | "bad_response"
  /** The URL, token or config naming the node cannot be used. */
  | "bad_target";

/** A request that produced no answer from the node; the message is one printable sentence. */
export class ClientError extends Error {
  override readonly name = "ClientError";
  constructor(readonly code: ClientErrorCode, message: string) {
    super(message);
  }
}

/** The node's answer, as the router gave it: `body` on 2xx, else an `error` sentence. */
export interface NodeResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly error?: string;
}

/** Default deadline of each request: longer than the federation's 10 s request_timeout, so
 * a remote timeout arrives as the node's 504 rather than as a client-side one. */
export const DEFAULT_CLIENT_TIMEOUT_MS = 15_000;

/** Added to a node's own longest deadline: its 504 must reach the client before it gives up. */
export const CLIENT_TIMEOUT_MARGIN_MS = 5_000;

/**
 * How long a client waits for a node whose config it has read: the longest the node itself
 * waits (its `request_timeout`, or a device's `timeout` for a local command) plus a margin,
 * and never less than {@link DEFAULT_CLIENT_TIMEOUT_MS}.
 */
export function clientTimeoutFor(config: Config): number {
  const longest = Math.max(
    config.node.requestTimeoutMs,
    ...(config.iot?.devices.map((d) => d.timeoutMs) ?? []),
  );
  return Math.min(
    MAX_TIMER_MS,
    Math.max(DEFAULT_CLIENT_TIMEOUT_MS, longest + CLIENT_TIMEOUT_MARGIN_MS),
  );
}

/** Largest answer read by default. */
export const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

/** Options of {@link NodeClient}. */
export interface NodeClientOptions {
  /** Base URL of the node's API, e.g. `http://127.0.0.1:8080` (a trailing `/api` is accepted). */
  readonly url: string;
  /** Sent as `Authorization: Bearer <token>`. Default none. */
  readonly token?: string | null;
  /** Deadline of each request, answer included. Default {@link DEFAULT_CLIENT_TIMEOUT_MS}. */
  readonly timeoutMs?: number;
  /** Default {@link DEFAULT_MAX_RESPONSE_BYTES}. */
  readonly maxResponseBytes?: number;
}

/** Per-request options. */
export interface RequestOptions {
  /** Aborts the request (the shell's Ctrl-C). */
  readonly signal?: AbortSignal;
  /** Overrides the client's deadline (Tab completion uses a short one). */
  readonly timeoutMs?: number;
}

/** Talks to one node's HTTP API. */
export class NodeClient {
  /** The normalised base URL, without a trailing slash or `/api`. */
  readonly url: string;
  readonly #token: string | null;
  readonly #timeoutMs: number;
  readonly #maxResponseBytes: number;

  constructor(options: NodeClientOptions) {
    this.url = normaliseBaseUrl(options.url);
    this.#token = options.token ?? null;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS;
    this.#maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
  }

  /** The deadline of each request, in ms. */
  get timeoutMs(): number {
    return this.#timeoutMs;
  }

  /** The headers that authenticate a request (the bearer token), for streams (watch.ts). */
  authHeaders(): Record<string, string> {
    return this.#token === null ? {} : { authorization: `Bearer ${this.#token}` };
  }

  /** GET `path`. */
  get(path: string, options?: RequestOptions): Promise<NodeResponse> {
    return this.request("GET", path, {}, options);
  }

  /** LIST `path`. */
  list(path: string, options?: RequestOptions): Promise<NodeResponse> {
    return this.request("LIST", path, {}, options);
  }

  /** CALL `path` with `args`. */
  call(path: string, args: JsonObject = {}, options?: RequestOptions): Promise<NodeResponse> {
    return this.request("CALL", path, args, options);
  }

  /** Sends one request; rejects with {@link ClientError} only when there is no answer. */
  async request(
    method: Method,
    path: string,
    args: JsonObject = {},
    options: RequestOptions = {},
  ): Promise<NodeResponse> {
    const url = this.url + apiPath(path) + (method === "LIST" ? "?list" : "");
    const headers: Record<string, string> = { accept: "application/json" };
    if (this.#token !== null) headers.authorization = `Bearer ${this.#token}`;
    let body: string | undefined;
    if (method === "CALL") {
      headers["content-type"] = "application/json";
      body = JSON.stringify(args);
    }
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    const signal = options.signal
      ? AbortSignal.any([deadline.signal, options.signal])
      : deadline.signal;
    const failure = (e: unknown): ClientError => {
      if (e instanceof ClientError) return e;
      if (deadline.signal.aborted) {
        return new ClientError(
          "timeout",
          `the node at ${this.url} did not answer within ${seconds(timeoutMs)}`,
        );
      }
      if (options.signal?.aborted) return new ClientError("aborted", "interrupted");
      return new ClientError(
        "unreachable",
        `cannot reach the node at ${this.url}: ${connectReason(e)} — is portal running? ` +
          `check [mod_http] listen`,
      );
    };
    try {
      let response: Response;
      try {
        response = await fetch(url, {
          method: method === "CALL" ? "POST" : "GET",
          headers,
          body,
          signal,
        });
      } catch (e) {
        throw failure(e);
      }
      let bytes: Uint8Array;
      try {
        bytes = await readCapped(response.body, this.#maxResponseBytes);
      } catch (e) {
        if (deadline.signal.aborted || options.signal?.aborted) throw failure(e);
        throw new ClientError(
          "bad_response",
          `could not read the answer of the node at ${this.url}: ${(e as Error).message}`,
        );
      }
      return this.#decode(response, bytes);
    } finally {
      clearTimeout(timer);
    }
  }

  #decode(response: Response, bytes: Uint8Array): NodeResponse {
    const status = response.status;
    const type = response.headers.get("content-type") ?? "";
    let value: unknown;
    try {
      if (!/^application\/json\b/i.test(type)) throw new Error("not JSON");
      value = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new ClientError(
        "bad_response",
        `the server at ${this.url} answered ${status} ${
          type === "" ? "without a content type" : `with ${type.split(";")[0]}`
        }, ` +
          `not Portal JSON — is this the [mod_http] listen address of a Portal node?`,
      );
    }
    if (status >= 200 && status < 300) return { status, body: value };
    const error = typeof value === "object" && value !== null &&
        typeof (value as { error?: unknown }).error === "string"
      ? (value as { error: string }).error
      : `request failed with HTTP status ${status}`;
    return { status, error };
  }
}

/** Where the shell or `portal call` finds its node. */
export interface Target {
  /** Base URL of the API. */
  readonly url: string;
  readonly token: string | null;
  /** Deadline of each request: `--timeout`, else {@link clientTimeoutFor} the config, else the default. */
  readonly timeoutMs: number;
}

/** How the node was named on the command line. */
export interface TargetOptions {
  /** `--config FILE`: the node's own node.ini ([mod_http] listen and token). */
  readonly config?: string;
  /** `--url URL`. */
  readonly url?: string;
  /** `--token TOKEN`; overrides the config's token. */
  readonly token?: string;
  /** `--timeout`, already read; overrides the deadline derived from the config. */
  readonly timeoutMs?: number;
}

/** What {@link resolveTarget} needs from the outside. */
export interface TargetDeps {
  /** Loads and validates a node.ini; its errors' messages are printable. */
  readonly loadConfig: (path: string) => Promise<Config>;
  /** Environment lookup (`PORTAL_TOKEN`). */
  readonly env: (name: string) => string | undefined;
}

/** The API address when nothing names one: the [mod_http] listen default. */
export const DEFAULT_NODE_URL = "http://127.0.0.1:8080";

/**
 * Finds the node: `--url`, else the `[mod_http]` of `--config`, else the
 * default listen address. The token is `--token`, else the config's, else
 * `$PORTAL_TOKEN`; the deadline `--timeout`, else one above the config's own
 * deadlines, else {@link DEFAULT_CLIENT_TIMEOUT_MS}. Rejects with a "bad_target"
 * {@link ClientError}.
 */
export async function resolveTarget(options: TargetOptions, deps: TargetDeps): Promise<Target> {
  if (options.config !== undefined && options.url !== undefined) {
    throw new ClientError("bad_target", "give either --config or --url, not both");
  }
  const envToken = deps.env("PORTAL_TOKEN");
  const fallbackToken = envToken === undefined || envToken === "" ? null : envToken;
  if (options.config !== undefined) {
    let config: Config;
    try {
      config = await deps.loadConfig(options.config);
    } catch (e) {
      throw new ClientError("bad_target", (e as Error).message);
    }
    const listen = config.http.listen;
    if (listen === null) {
      throw new ClientError(
        "bad_target",
        `the HTTP API of node '${config.node.name}' is off ([mod_http] listen = off in ` +
          `${config.file}); the shell and portal call reach a node through it — set listen, ` +
          `e.g. listen = 127.0.0.1:8080, or use --url`,
      );
    }
    if (listen.port === 0) {
      throw new ClientError(
        "bad_target",
        `[mod_http] listen in ${config.file} has port 0, so node '${config.node.name}' picks ` +
          "a free port at each start, which its config cannot tell; use --url with the port " +
          "its 'node ready' log line shows (api=...)",
      );
    }
    return {
      url: `http://${hostForUrl(listen.hostname)}:${listen.port}`,
      token: options.token ?? config.http.token ?? fallbackToken,
      timeoutMs: options.timeoutMs ?? clientTimeoutFor(config),
    };
  }
  return {
    url: normaliseBaseUrl(options.url ?? DEFAULT_NODE_URL),
    token: options.token ?? fallbackToken,
    timeoutMs: options.timeoutMs ?? DEFAULT_CLIENT_TIMEOUT_MS,
  };
}

/** The URL path of a node path: `/api` plus each segment percent-encoded. */
export function apiPath(path: string): string {
  const segments = path.split("/").filter((s) => s !== "").map(encodeURIComponent);
  return segments.length === 0 ? "/api" : "/api/" + segments.join("/");
}

function normaliseBaseUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ClientError(
      "bad_target",
      `'${url}' is not a URL; give the node's API address, e.g. --url http://127.0.0.1:8080`,
    );
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    throw new ClientError(
      "bad_target",
      `'${url}' is not an http:// or https:// URL; give the node's API address, e.g. ` +
        `--url http://127.0.0.1:8080`,
    );
  }
  if (parsed.search !== "" || parsed.hash !== "") {
    throw new ClientError("bad_target", `'${url}' must not have a query or fragment`);
  }
  return (parsed.origin + parsed.pathname).replace(/\/+$/, "").replace(/\/api$/, "");
}

/** A wildcard listen address is dialled on loopback; IPv6 literals need brackets in a URL. */
function hostForUrl(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "") return "127.0.0.1";
  if (hostname === "::" || hostname === "[::]") return "[::1]";
  if (hostname.includes(":") && !hostname.startsWith("[")) return `[${hostname}]`;
  return hostname;
}

/** The operating system's reason, as a short lower-case phrase. */
function connectReason(e: unknown): string {
  const parts: string[] = [];
  for (let c: unknown = e; c instanceof Error && parts.length < 5; c = c.cause) {
    parts.push(c.message);
  }
  const text = parts.join(": ");
  const known: [RegExp, string][] = [
    [/connection refused/i, "connection refused"],
    [
      /dns error|failed to lookup|name or service not known|nodename nor servname/i,
      "host not found",
    ],
    [/connection reset/i, "connection reset"],
    [/network is unreachable/i, "network unreachable"],
    [/no route to host/i, "no route to host"],
    [/timed out/i, "connection timed out"],
    [/certificate|tls|ssl/i, "TLS handshake failed"],
  ];
  for (const [re, phrase] of known) if (re.test(text)) return phrase;
  const last = (parts.at(-1) ?? "unknown error").split(": ").at(-1) ?? "unknown error";
  return last.replace(/\s*\(os error \d+\)$/, "").replace(/^\w/, (c) => c.toLowerCase());
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${(ms / 1000).toFixed(1)} s`;
}
