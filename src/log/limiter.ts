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

type Level = "warn" | "error" | "info";

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
      this.#o.logger[level](message, fields);
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
        { kind: b.kind, source: b.source, suppressed: b.suppressed },
      );
    }
  }
}
