/**
 * Log lines a remote party can trigger again and again (bad frames, refused
 * names, floods) are limited per kind and per source, and per kind over all
 * sources: the first few in a window are written, the rest only counted, and
 * one summary line per kind says how many were held back (and from how many
 * sources). Counters elsewhere still count every event; only the journal is
 * spared, even from a flood coming from thousands of addresses.
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

/** One kind's window: lines written per source, and what was held back. */
interface KindWindow {
  readonly level: Level;
  written: number;
  suppressed: number;
  readonly bySource: Map<string, number>;
  /** Sources with a suppressed line; the summary names the source when there is one. */
  readonly suppressedFrom: Set<string>;
}

/** Writes repeatable lines at most `max` times per kind and source, and `total` per kind, per window. */
export class LogLimiter {
  readonly #o: Required<LogLimiterOptions>;
  readonly #kinds = new Map<string, KindWindow>();
  #sources = 0;
  #timer: TimerHandle | null = null;

  constructor(options: LogLimiterOptions) {
    this.#o = { windowMs: 60_000, perWindow: 5, maxSources: 1024, ...options };
  }

  /** Lines held back in the current window, over all kinds and sources. */
  get suppressed(): number {
    let n = 0;
    for (const k of this.#kinds.values()) n += k.suppressed;
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
   * written (the caller writes it, through whichever logger it holds): at
   * most `max` per source and `total` per kind in a window. Suppressed ones
   * are summed up at the end of the window.
   */
  admit(level: Level, kind: string, source: string, max = this.#o.perWindow, total = Infinity) {
    let k = this.#kinds.get(kind);
    if (!k) {
      k = { level, written: 0, suppressed: 0, bySource: new Map(), suppressedFrom: new Set() };
      this.#kinds.set(kind, k);
    }
    let from = source;
    if (!k.bySource.has(from) && this.#sources >= this.#o.maxSources) from = "other sources";
    const mine = k.bySource.get(from);
    if (mine === undefined) this.#sources++;
    this.#timer ??= this.#o.clock.setTimeout(() => this.#endWindow(), this.#o.windowMs);
    if ((mine ?? 0) < max && k.written < total) {
      k.bySource.set(from, (mine ?? 0) + 1);
      k.written++;
      return true;
    }
    if (mine === undefined) k.bySource.set(from, 0);
    k.suppressed++;
    if (k.suppressedFrom.size < this.#o.maxSources) k.suppressedFrom.add(from);
    return false;
  }

  /** Writes the pending summaries and forgets every window (node stopping). */
  stop(): void {
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    this.#endWindow();
  }

  #endWindow(): void {
    this.#timer = null;
    const seconds = Math.round(this.#o.windowMs / 1000);
    for (const [kind, k] of this.#kinds) {
      if (k.suppressed === 0) continue;
      const sources = [...k.suppressedFrom];
      this.#o.logger[k.level](
        `${k.suppressed} more '${kind}' lines suppressed in the last ${seconds}s`,
        sources.length === 1
          ? { kind, source: sources[0] || undefined, suppressed: k.suppressed }
          : { kind, sources: sources.length, suppressed: k.suppressed },
      );
    }
    this.#kinds.clear();
    this.#sources = 0;
  }
}

/** Lines per window of one kind: per source, and over all sources. */
interface LineBudget {
  readonly perSource: number;
  readonly total: number;
}

/**
 * Lines a remote party can cause again and again, with their budgets per
 * window. Everything that follows a remote's action — a frame, a connection,
 * a request — belongs here; counters (/node/status) keep counting every event.
 */
const REMOTE_LINES: Readonly<Record<string, LineBudget>> = {
  "dropped message": { perSource: 5, total: 20 },
  "protocol violation": { perSource: 5, total: 20 },
  "auth refused": { perSource: 5, total: 20 },
  "TLS handshake failed": { perSource: 5, total: 20 },
  "connection closed before authentication": { perSource: 5, total: 20 },
  "HTTP API request refused": { perSource: 5, total: 20 },
  // A request that hits a bug can be sent again and again too.
  "HTTP API request failed": { perSource: 5, total: 20 },
  "router failed": { perSource: 5, total: 20 },
  // Connection-level refusals say the same thing for every address: one line tells it.
  "connection refused": { perSource: 1, total: 1 },
  "connection shed": { perSource: 1, total: 1 },
  "HTTP connection refused": { perSource: 1, total: 1 },
  "federation listener out of file descriptors": { perSource: 1, total: 1 },
  "HTTP API out of file descriptors": { perSource: 1, total: 1 },
  // A key holder reconnecting in a loop: the link's own story, kept short.
  "authenticated": { perSource: 10, total: 50 },
  "disconnected": { perSource: 10, total: 50 },
  "duplicate connection closed (cross-dial tie-break)": { perSource: 10, total: 50 },
  "connection replaced": { perSource: 10, total: 50 },
  "requests failed on a lost connection": { perSource: 10, total: 50 },
  "relayed requests failed on a lost connection": { perSource: 10, total: 50 },
};

/** The budget of `peer NAME: a -> b` state lines, which count as one kind. */
const PEER_STATE_BUDGET: LineBudget = { perSource: 10, total: 50 };

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
  rules: Readonly<Record<string, LineBudget>> = REMOTE_LINES,
  base: LogFields = {},
): Logger {
  const pass = (level: Level, message: string, fields: LogFields = {}) => {
    let kind = message;
    let budget = rules[message];
    if (budget === undefined) {
      if (!PEER_STATE.test(message)) {
        logger[level](message, fields);
        return;
      }
      kind = "peer state";
      budget = PEER_STATE_BUDGET;
    }
    const source = sourceOfLine({ ...base, ...fields });
    if (limiter.admit(level, kind, source, budget.perSource, budget.total)) {
      logger[level](message, fields);
    }
  };
  return {
    debug: (m, f) => logger.debug(m, f),
    info: (m, f) => pass("info", m, f),
    warn: (m, f) => pass("warn", m, f),
    error: (m, f) => pass("error", m, f),
    with: (fields) => limitRemoteLines(logger.with(fields), limiter, rules, { ...base, ...fields }),
  };
}
