/**
 * HTTP/1.1 request heads and response heads (RFC 9112), pure: what the API
 * server needs and no more, strict where leniency lets two parsers disagree
 * about where a request ends (both Content-Length and Transfer-Encoding, a
 * repeated Content-Length, folded or bare-LF header lines are refused).
 */

/** Largest request head (request line and headers) accepted; beyond it: 431. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** Most header lines in one request; beyond it: 431. */
const MAX_HEADERS = 100;

/** A request that cannot be served as sent; `status` is the answer (400, 413, 417, 431, 501, 505). */
export class HttpError extends Error {
  override readonly name = "HttpError";
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** How the body of a request is delimited. */
export type BodyFraming =
  | { readonly kind: "none" }
  | { readonly kind: "length"; readonly length: number }
  | { readonly kind: "chunked" };

/** A parsed request head. */
export interface RequestHead {
  /** As sent (methods are case-sensitive). */
  readonly method: string;
  /** The path and query (origin-form); an absolute-form target is reduced to it. */
  readonly target: string;
  readonly version: "1.0" | "1.1";
  /** Lowercased names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  readonly body: BodyFraming;
  /** The client wants the connection kept open after the answer. */
  readonly keepAlive: boolean;
  /** `Expect: 100-continue`: the client waits for a go-ahead before sending the body. */
  readonly expectContinue: boolean;
}

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\s]+) HTTP\/(\d)\.(\d)$/;
const latin1 = new TextDecoder("latin1");
/** A CR not before LF, an LF not after CR, or a NUL. */
const BAD_BYTES = /\r(?!\n)|(?<!\r)\n|\0/;

/** Bytes as Latin-1 text; short heads without a call into the runtime. */
function latin1Text(bytes: Uint8Array): string {
  if (bytes.byteLength > 4096) return latin1.decode(bytes);
  return String.fromCharCode.apply(null, bytes as unknown as number[]);
}

/**
 * The offset just past the blank line ending a head in `buf[from, to)`, or -1.
 * `scanFrom` skips bytes already searched (minus the 3 a split terminator needs).
 */
export function findHeadEnd(buf: Uint8Array, from: number, to: number, scanFrom = from): number {
  for (let i = Math.max(from, scanFrom - 3); i + 3 < to; i++) {
    if (buf[i + 3] !== 10) continue;
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13) return i + 4;
  }
  return -1;
}

/** Parses a request head (its bytes up to and including the blank line). */
export function parseHead(bytes: Uint8Array): RequestHead {
  const text = latin1Text(bytes.subarray(0, bytes.byteLength - 4));
  // Line breaks are CRLF only, and no NUL anywhere: checked once for the whole head.
  if (BAD_BYTES.test(text)) throw new HttpError(400, "a bare CR, LF or NUL in the request head");
  const lines = text.split("\r\n");
  // RFC 9112 §2.2: a server should ignore at least one empty line before the request line.
  while (lines.length > 1 && lines[0] === "") lines.shift();
  const m = REQUEST_LINE.exec(lines[0]);
  if (m === null) {
    if (/ HTTP\/\d+\.\d+$/.test(lines[0])) {
      throw new HttpError(505, "only HTTP/1.0 and HTTP/1.1 are served here");
    }
    throw new HttpError(400, "malformed request line");
  }
  const [, method, rawTarget, major, minor] = m;
  if (major !== "1" || (minor !== "0" && minor !== "1")) {
    throw new HttpError(505, `HTTP/${major}.${minor} is not served here; use HTTP/1.1`);
  }
  const version = minor === "1" ? "1.1" : "1.0";
  const target = originForm(rawTarget);
  if (lines.length - 1 > MAX_HEADERS) {
    throw new HttpError(431, `more than ${MAX_HEADERS} header lines`);
  }
  const headers = new Map<string, string>();
  let hosts = 0;
  let lengths = 0;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    if (line.startsWith(" ") || line.startsWith("\t")) {
      throw new HttpError(400, "folded header lines (obs-fold) are not accepted");
    }
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon) : "";
    if (!TOKEN.test(name)) throw new HttpError(400, "malformed header line");
    const key = name.toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === "host") hosts++;
    if (key === "content-length") lengths++;
    const prev = headers.get(key);
    headers.set(key, prev === undefined ? value : `${prev}, ${value}`);
  }
  if (hosts > 1) throw new HttpError(400, "more than one Host header");
  if (hosts === 0 && version === "1.1") throw new HttpError(400, "an HTTP/1.1 request needs Host");
  if (lengths > 1) throw new HttpError(400, "more than one Content-Length header");
  return {
    method,
    target,
    version,
    headers,
    body: framing(headers, version),
    keepAlive: keepAlive(headers.get("connection"), version),
    expectContinue: expectation(headers.get("expect"), version),
  };
}

/** `/path?q` as sent; an absolute-form target (`http://host/path`) reduced to it. */
function originForm(target: string): string {
  if (target.startsWith("/")) return target;
  if (/^https?:\/\//i.test(target)) {
    try {
      const url = new URL(target);
      return url.pathname + url.search;
    } catch {
      // Falls through to the refusal.
    }
  }
  throw new HttpError(400, `request target '${target.slice(0, 40)}' is not a path`);
}

function framing(headers: ReadonlyMap<string, string>, version: "1.0" | "1.1"): BodyFraming {
  const te = headers.get("transfer-encoding");
  const cl = headers.get("content-length");
  if (te !== undefined) {
    if (cl !== undefined) {
      throw new HttpError(400, "both Transfer-Encoding and Content-Length: the body is ambiguous");
    }
    if (version === "1.0") throw new HttpError(400, "Transfer-Encoding in an HTTP/1.0 request");
    if (te.toLowerCase() !== "chunked") {
      throw new HttpError(501, `Transfer-Encoding '${te.slice(0, 40)}' is not supported`);
    }
    return { kind: "chunked" };
  }
  if (cl === undefined) return { kind: "none" };
  if (!/^\d{1,15}$/.test(cl)) throw new HttpError(400, "malformed Content-Length");
  const length = Number(cl);
  return length === 0 ? { kind: "none" } : { kind: "length", length };
}

function keepAlive(connection: string | undefined, version: "1.0" | "1.1"): boolean {
  const tokens = (connection ?? "").toLowerCase().split(",").map((t) => t.trim());
  if (tokens.includes("close")) return false;
  return version === "1.1" || tokens.includes("keep-alive");
}

function expectation(expect: string | undefined, version: "1.0" | "1.1"): boolean {
  if (expect === undefined) return false;
  if (expect.toLowerCase() === "100-continue") return version === "1.1";
  throw new HttpError(417, `Expect '${expect.slice(0, 40)}' cannot be met (only 100-continue)`);
}

const REASONS: Readonly<Record<number, string>> = {
  100: "Continue",
  200: "OK",
  204: "No Content",
  304: "Not Modified",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  409: "Conflict",
  413: "Content Too Large",
  417: "Expectation Failed",
  421: "Misdirected Request",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
  508: "Loop Detected",
};

/** The reason phrase of `status` (empty for unknown codes: clients ignore it). */
function reasonOf(status: number): string {
  return REASONS[status] ?? "";
}

/** Whether a response with `status` never has a body (RFC 9110 §6.4.1). */
export function bodyless(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

let dateSecond = -1;
let dateText = "";

/** The Date header value, formatted once per second. */
function httpDate(nowMs = Date.now()): string {
  const second = Math.floor(nowMs / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

/** Header values must not smuggle a line break into the response. */
function headerValue(v: string): string {
  return /[\r\n]/.test(v) ? v.replace(/[\r\n]+/g, " ") : v;
}

/** A response head: status line, Date, the given headers, each line CRLF-ended, and the blank line. */
export function responseHead(
  status: number,
  headers: Readonly<Record<string, string>>,
  version: "1.0" | "1.1" = "1.1",
): string {
  let head = `HTTP/${version} ${status} ${reasonOf(status)}\r\ndate: ${httpDate()}\r\n`;
  for (const [k, v] of Object.entries(headers)) head += `${k}: ${headerValue(v)}\r\n`;
  return head + "\r\n";
}
