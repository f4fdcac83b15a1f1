/**
 * How many connections a node may hold, from the open-file limit it runs
 * under: every TCP connection is a file descriptor, and a listener that runs
 * out of them can only pause. The federation gets what the HTTP API and a
 * fixed headroom leave; `max_connections` overrides it, with a warning when
 * the limit cannot carry the number asked for.
 */
import { readRegularTextFile } from "../util/read.ts";

/** Descriptors kept for everything but connections: the runtime, logs, files read, devices, DNS. */
export const FD_HEADROOM = 64;
/** Federation connections when the open-file limit cannot be read (not Linux). */
export const UNKNOWN_LIMIT_CONNECTIONS = 4096;
/** HTTP API connections at most; an admin API needs few, a flood must not take the federation's. */
export const MAX_HTTP_CONNECTIONS = 256;
/** A derived federation bound below this is worth a warning at start. */
const LOW_FEDERATION_BOUND = 256;

/** The connection bounds of one node. */
export interface ConnectionPlan {
  /** The process's open-file (soft) limit; null when unknown. */
  readonly fdLimit: number | null;
  /** Federation connections (authenticated or not) the listener holds. */
  readonly federation: number;
  /** Whether `federation` came from `max_connections` rather than from the limit. */
  readonly configured: boolean;
  /** HTTP API connections held at once (0 when the API is off). */
  readonly http: number;
  /** A sentence for the start-up log when the limit is too low; null when it is fine. */
  readonly warning: string | null;
}

/** The soft `RLIMIT_NOFILE` of this process from /proc/self/limits; null when unknown. */
export async function openFileLimit(): Promise<number | null> {
  let text: string;
  try {
    text = await readRegularTextFile("/proc/self/limits", 64 * 1024);
  } catch {
    return null;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (m === null) return null;
  if (m[1] === "unlimited") return 1 << 20;
  const n = Number(m[1]);
  return Number.isSafeInteger(n) && n > 0 ? n : null;
}

/** Splits `fdLimit` between the federation (unless `configured`) and the HTTP API. */
export function planConnections(
  fdLimit: number | null,
  configured: number | null,
  httpOn: boolean,
): ConnectionPlan {
  if (fdLimit === null) {
    return {
      fdLimit,
      federation: configured ?? UNKNOWN_LIMIT_CONNECTIONS,
      configured: configured !== null,
      http: httpOn ? MAX_HTTP_CONNECTIONS : 0,
      warning: null,
    };
  }
  const http = httpOn ? Math.max(16, Math.min(MAX_HTTP_CONNECTIONS, Math.floor(fdLimit / 8))) : 0;
  const room = fdLimit - FD_HEADROOM - http;
  const raise = "raise LimitNOFILE= in the systemd unit (or ulimit -n)";
  if (configured !== null) {
    const needs = configured + FD_HEADROOM + http;
    return {
      fdLimit,
      federation: configured,
      configured: true,
      http,
      warning: needs <= fdLimit ? null : `max_connections = ${configured} needs about ${needs} ` +
        `file descriptors but the open-file limit is ${fdLimit}: beyond about ` +
        `${Math.max(0, room)} connections the listener runs out of descriptors and pauses; ` +
        `${raise} or lower max_connections`,
    };
  }
  const federation = Math.max(16, room);
  return {
    fdLimit,
    federation,
    configured: false,
    http,
    warning: federation >= LOW_FEDERATION_BOUND
      ? null
      : `the open-file limit (${fdLimit}) leaves ` +
        `room for only ${federation} federation connections (max_connections); ${raise}`,
  };
}
