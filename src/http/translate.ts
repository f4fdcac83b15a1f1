/**
 * Between the API's HTTP requests and the path contract: the router path and
 * args an HTTP request stands for, the HTTP answer a path response becomes,
 * and the Fetch API's Request/Response for the extras written against them.
 */
import type { PathResponse } from "../paths/mod.ts";
import { Status } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import type { HttpReply, HttpRequest } from "./conn.ts";
import { errorText } from "../util/errors.ts";
import { HttpError } from "./http1.ts";

/** Refuses what is not UTF-8, rather than replacing it. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/** Everything the API serves lives below this prefix. */
export const API_PREFIX = "/api";

const JSON_HEADERS = {
  "content-type": "application/json; charset=utf-8",
  "cache-control": "no-store",
} as const;

/** The request's target as a URL (the host is never read). */
export function targetUrl(req: HttpRequest): URL {
  return new URL(req.target, "http://portal.invalid");
}

/** The request as the Fetch API's Request, for the extras (which are written against it). */
export function webRequest(req: HttpRequest, url: URL): Request {
  return new Request(url, {
    method: req.method,
    headers: [...req.headers],
    signal: req.signal,
  });
}

/** A Fetch API Response as a reply: event streams streamed, every other body sent whole. */
export async function fromResponse(res: Response): Promise<HttpReply> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => headers[k] = v);
  if (res.body === null) return { status: res.status, headers };
  if (headers["content-type"]?.startsWith("text/event-stream")) {
    return { status: res.status, headers, body: res.body };
  }
  return { status: res.status, headers, body: new Uint8Array(await res.arrayBuffer()) };
}

/** The key of one `key[=value]` query pair, %-decoded ('' when malformed). */
export function decodeQueryKey(pair: string): string {
  const eq = pair.indexOf("=");
  const raw = (eq < 0 ? pair : pair.slice(0, eq)).replaceAll("+", " ");
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

/** The value of one `key=value` query pair, %-decoded (as sent when malformed). */
export function decodeQueryValue(pair: string): string {
  const raw = pair.slice(pair.indexOf("=") + 1).replaceAll("+", " ");
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

export type ReadArgs = { args: JsonObject } | { status: number; error: string };

/** Reads a POST body as the CALL's args: empty means `{}`, otherwise a JSON object. */
export async function readArgs(req: HttpRequest, limit: number): Promise<ReadArgs> {
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
    return { status, error: `could not read the body: ${errorText(e)}` };
  }
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    return { status: Status.BadRequest, error: "the body is not valid UTF-8" };
  }
  if (text.trim() === "") return { args: {} };
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    return { status: Status.BadRequest, error: `invalid JSON body: ${errorText(e)}` };
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
export function toHttpReply(res: PathResponse): HttpReply {
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
      error: `the answer cannot be sent as JSON: ${errorText(e)}`,
    });
  }
}

export function json(
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
