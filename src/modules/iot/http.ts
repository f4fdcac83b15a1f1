/**
 * One HTTP GET to a device, bounded in time and size, with every failure turned
 * into a DeviceError sentence that names the device and its host.
 */
import type { Clock } from "../../util/clock.ts";
import { errorText } from "../../util/errors.ts";
import { formatDuration } from "../../util/format.ts";
import { parseHostPort, urlHost as hostInUrl } from "../../util/host.ts";
import { readCapped, TooLargeError } from "../../util/read.ts";
import { DeviceError } from "./errors.ts";

/** What network drivers need from the outside world. */
export interface HttpDeps {
  /** The fetch used for every device call. */
  readonly fetch: typeof fetch;
  /** Times each call out; tests pass a FakeClock. */
  readonly clock: Clock;
}

/** Which device a call goes to, for URLs and error sentences. */
export interface HttpTarget {
  readonly id: string;
  /** `host` or `host:port`, exactly as configured. */
  readonly host: string;
  readonly timeoutMs: number;
}

/** Largest answer read from a device; real ones are a few hundred bytes. */
export const MAX_ANSWER_BYTES = 16 * 1024;

/** Longest piece of a device's answer quoted in an error sentence. */
const SNIPPET_CHARS = 80;

/** Aborts the timeout leg of a call; compared by identity to tell a timeout from a cancel. */
const TIMEOUT_REASON = Object.freeze({ reason: "device timeout" });

/** `device plug-001 at 10.0.0.5` — how every sentence about a device starts. */
export function deviceAt(target: HttpTarget): string {
  return `device ${target.id} at ${target.host}`;
}

/**
 * `host` as it goes after `http://`: `10.0.0.5`, `plug.local:8080`, `[::1]:8080`;
 * a bare IPv6 address (`fe80::1`, as the config leaves it) gets its brackets.
 */
export function urlHost(host: string): string {
  const parsed = parseHostPort(host, { portOptional: true });
  // The config only lets valid hosts through; anything else is used as it is.
  if (!parsed.ok) return host;
  const { host: h, port } = parsed.value;
  return port === null ? hostInUrl(h) : `${hostInUrl(h)}:${port}`;
}

/** A short, quoted, single-line excerpt of what a device said. */
export function snippet(text: string): string {
  const flat = text.replace(/\s+/g, " ").trim();
  const cut = flat.length > SNIPPET_CHARS ? flat.slice(0, SNIPPET_CHARS) + "…" : flat;
  return JSON.stringify(cut);
}

/**
 * GETs `url` (on `target`'s host) and returns the parsed JSON answer.
 * `what` names the command in error sentences (`Power On`, `Switch.Set`).
 * Gives up after `target.timeoutMs` or when `signal` aborts; throws DeviceError.
 */
export async function getJson(
  deps: HttpDeps,
  target: HttpTarget,
  url: string,
  what: string,
  signal: AbortSignal,
): Promise<unknown> {
  if (signal.aborted) throw cancelled(target);
  const timeout = new AbortController();
  const timer = deps.clock.setTimeout(() => timeout.abort(TIMEOUT_REASON), target.timeoutMs);
  const combined = AbortSignal.any([signal, timeout.signal]);
  try {
    let res: Response;
    try {
      // A device that redirects is misconfigured (captive portal, proxy); never follow it elsewhere.
      res = await deps.fetch(url, {
        signal: combined,
        redirect: "manual",
        headers: { accept: "application/json" },
      });
    } catch (e) {
      throw classify(e, target, timeout.signal, signal);
    }
    let text: string | null;
    try {
      text = await readLimited(res);
    } catch (e) {
      throw classify(e, target, timeout.signal, signal);
    }
    if (res.status === 401 || res.status === 403) {
      throw new DeviceError(
        "auth",
        `${deviceAt(target)} refused ${what} with HTTP ${res.status}: it wants credentials ` +
          `Portal does not have (check user and password in [device:${target.id}])`,
      );
    }
    if (res.status < 200 || res.status > 299) {
      const detail = text === null ? "" : `: ${describeErrorBody(text)}`;
      throw new DeviceError(
        "http_status",
        `${deviceAt(target)} answered HTTP ${res.status} to ${what}${detail}`,
      );
    }
    if (text === null) {
      throw new DeviceError(
        "bad_answer",
        `${deviceAt(target)} answered ${what} with more than ${MAX_ANSWER_BYTES} bytes, ` +
          `which is not a power state`,
      );
    }
    try {
      return JSON.parse(text);
    } catch {
      throw new DeviceError(
        "bad_answer",
        `${deviceAt(target)} answered ${what} with something that is not JSON: ${snippet(text)}`,
      );
    }
  } finally {
    deps.clock.clear(timer);
  }
}

/** The error sentence for a call given up by Portal rather than failed by the device. */
function cancelled(target: HttpTarget): DeviceError {
  return new DeviceError(
    "cancelled",
    `the request to ${deviceAt(target)} was cancelled before it answered`,
  );
}

/** Reads the body as text, or null when it exceeds MAX_ANSWER_BYTES (the rest is discarded). */
async function readLimited(res: Response): Promise<string | null> {
  try {
    return new TextDecoder().decode(await readCapped(res.body, MAX_ANSWER_BYTES));
  } catch (e) {
    if (e instanceof TooLargeError) return null;
    throw e;
  }
}

/** Shelly RPC errors carry `{"code":…,"message":"…"}`; anything else is quoted. */
function describeErrorBody(text: string): string {
  try {
    const body = JSON.parse(text) as unknown;
    if (typeof body === "object" && body !== null) {
      const message = (body as Record<string, unknown>).message;
      if (typeof message === "string" && message.length > 0) return snippet(message);
    }
  } catch {
    // not JSON; quote it as it is
  }
  return snippet(text);
}

/**
 * Turns a fetch failure into a sentence. Deno reports socket errors only as
 * text in `cause`, so that text is the one thing inspected here.
 */
function classify(
  e: unknown,
  target: HttpTarget,
  timeout: AbortSignal,
  caller: AbortSignal,
): DeviceError {
  if (e instanceof DeviceError) return e;
  if (timeout.aborted && (e === TIMEOUT_REASON || !caller.aborted)) {
    return new DeviceError(
      "timeout",
      `${deviceAt(target)} did not answer within ${formatDuration(target.timeoutMs)}`,
    );
  }
  if (caller.aborted) return cancelled(target);
  const detail = errorText(e, { causes: true });
  if (/connection refused/i.test(detail)) {
    return new DeviceError("refused", `${deviceAt(target)} refused the connection`);
  }
  if (/dns error|lookup address|name or service not known|no such host/i.test(detail)) {
    return new DeviceError(
      "unreachable",
      `${deviceAt(target)} could not be reached: the name ${
        JSON.stringify(hostName(target.host))
      } does not resolve`,
    );
  }
  return new DeviceError(
    "unreachable",
    `${deviceAt(target)} could not be reached: ${shortCause(detail)}`,
  );
}

/** The innermost, most specific part of a hyper error chain, e.g. `No route to host (os error 113)`. */
function shortCause(detail: string): string {
  const parts = detail.split(": ").map((p) => p.trim()).filter((p) => p.length > 0);
  const last = parts.at(-1) ?? "unknown network error";
  return last.length > 120 ? last.slice(0, 120) + "…" : last;
}

function hostName(host: string): string {
  const parsed = parseHostPort(host, { portOptional: true });
  return parsed.ok ? parsed.value.host.value : host;
}
