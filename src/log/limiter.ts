/**
 * Log lines a remote party can trigger again and again (bad frames, refused
 * names, floods) are limited per kind and per source: the first few in a
 * window are written, the rest only counted, and one summary line per kind
 * and source says how many were held back. Counters elsewhere still count
 * every event; only the journal is spared.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import type { LogFields, Logger } from "./logger.ts";

/** Options of {@link LogLimiter}. */
export interface LogLimiterOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Length of a window. Default 60 s. */
  readonly windowMs?: number;
  /** Lines per kind and source written in one window, unless the kind says otherwise. Default 5. */
  readonly perWindow?: number;
  /** Sources tracked at once; beyond it, sources share one `other` bucket. Default 1024. */
  readonly maxSources?: number;
}

type Level = "warn" | "error" | "info" | "debug";

interface Bucket {
  written: number;
  suppressed: number;
  readonly level: Level;
  readonly kind: string;
  readonly source: string;
}

/** Writes repeatable lines at most `perWindow` times per kind and source per window. */
export class LogLimiter {
  readonly #o: Required<LogLimiterOptions>;
  readonly #buckets = new Map<string, Bucket>();
  #timer: TimerHandle | null = null;

  constructor(options: LogLimiterOptions) {
    this.#o = { windowMs: 60_000, perWindow: 5, maxSources: 1024, ...options };
  }

  /** Lines held back in the current window, over all kinds and sources. */
  get suppressed(): number {
    let n = 0;
    for (const b of this.#buckets.values()) n += b.suppressed;
    return n;
  }

  /**
   * Logs `message` at `level` unless this kind from this source already wrote
   * `max` lines in the current window; returns whether it was written.
   */
  log(
    level: Level,
    kind: string,
    source: string,
    message: string,
    fields: LogFields = {},
    max = this.#o.perWindow,
  ): boolean {
    if (!this.admit(level, kind, source, max)) return false;
    this.#o.logger[level](message, fields);
    return true;
  }

  /**
   * Counts one line of `kind` from `source` and says whether it may be
   * written (the caller writes it, through whichever logger it holds);
   * suppressed ones are summed up at the end of the window.
   */
  admit(level: Level, kind: string, source: string, max = this.#o.perWindow): boolean {
    let key = `${kind}\u0000${source}`;
    let b = this.#buckets.get(key);
    if (!b && this.#buckets.size >= this.#o.maxSources) {
      source = "other sources";
      key = `${kind}\u0000${source}`;
      b = this.#buckets.get(key);
    }
    if (!b) {
      b = { written: 0, suppressed: 0, level, kind, source };
      this.#buckets.set(key, b);
    }
    this.#timer ??= this.#o.clock.setTimeout(() => this.#endWindow(), this.#o.windowMs);
    if (b.written < max) {
      b.written++;
      return true;
    }
    b.suppressed++;
    return false;
  }

  /** Writes the pending summaries and forgets every window (node stopping). */
  stop(): void {
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    this.#summarise();
    this.#buckets.clear();
  }

  #endWindow(): void {
    this.#timer = null;
    this.#summarise();
    this.#buckets.clear();
  }

  #summarise(): void {
    const seconds = Math.round(this.#o.windowMs / 1000);
    for (const b of this.#buckets.values()) {
      if (b.suppressed === 0) continue;
      this.#o.logger[b.level](
        `${b.suppressed} more '${b.kind}' lines suppressed in the last ${seconds}s`,
        { kind: b.kind, source: b.source || undefined, suppressed: b.suppressed },
      );
    }
  }
}

/**
 * Lines a remote party can cause again and again, each with the lines one
 * source may write per window. Everything that follows a remote's action —
 * a frame, a connection, a request — belongs here; counters (/node/status)
 * keep counting every event.
 */
export const REMOTE_LINES: Readonly<Record<string, number>> = {
  "dropped message": 5,
  "protocol violation": 5,
  "auth refused": 5,
  "TLS handshake failed": 5,
  "connection refused": 1,
  "connection shed": 1,
  "connection closed before authentication": 5,
  "federation listener out of file descriptors": 1,
  "HTTP API request refused": 5,
  "HTTP connection refused": 1,
  "HTTP API out of file descriptors": 1,
  // A key holder reconnecting in a loop: the link's own story, kept short.
  "authenticated": 10,
  "disconnected": 10,
  "duplicate connection closed (cross-dial tie-break)": 10,
  "connection replaced": 10,
  "requests failed on a lost connection": 10,
  "relayed requests failed on a lost connection": 10,
};

/** `peer NAME: a -> b` state lines count as one kind per peer. */
const PEER_STATE = /^peer [^:]+: \w+ -> \w+$/;

/** The source a line counts against: its peer, else its remote's address without the port. */
function sourceOfLine(fields: LogFields): string {
  const peer = fields.peer;
  if (typeof peer === "string" && peer !== "") return peer;
  const remote = fields.remote;
  if (typeof remote !== "string") return "";
  const v6 = /^\[(.*)\]:\d+$/.exec(remote);
  if (v6) return v6[1];
  const v4 = /^([^:]+):\d+$/.exec(remote);
  return v4 ? v4[1] : remote;
}

/**
 * A logger whose lines of the kinds in `rules` (by message) are limited per
 * kind and source through `limiter`; every other line passes unchanged.
 * The limiter should write its summaries to the unlimited logger.
 */
export function limitRemoteLines(
  logger: Logger,
  limiter: LogLimiter,
  rules: Readonly<Record<string, number>> = REMOTE_LINES,
  base: LogFields = {},
): Logger {
  const pass = (level: Level, message: string, fields: LogFields = {}) => {
    let kind: string | null = message;
    let max = rules[message];
    if (max === undefined) {
      if (!PEER_STATE.test(message)) {
        logger[level](message, fields);
        return;
      }
      kind = "peer state";
      max = 10;
    }
    const source = sourceOfLine({ ...base, ...fields });
    if (limiter.admit(level, kind, source, max)) logger[level](message, fields);
  };
  return {
    debug: (m, f) => logger.debug(m, f),
    info: (m, f) => pass("info", m, f),
    warn: (m, f) => pass("warn", m, f),
    error: (m, f) => pass("error", m, f),
    with: (fields) => limitRemoteLines(logger.with(fields), limiter, rules, { ...base, ...fields }),
  };
}
