/** Which (origin, nonce) pairs were seen lately: the replay check of PORTAL02 §11. */

/** Options of {@link ReplayCache}. */
export interface ReplayCacheOptions {
  /** How long a pair is remembered, in ms. Default 60 000 (PORTAL02 §11). */
  readonly windowMs?: number;
  /** Most pairs remembered at once. Default 100 000 (about 15 MB). */
  readonly maxEntries?: number;
}

/** What {@link ReplayCache.check} found. */
export type ReplayCheck = "fresh" | "seen" | "full";

/**
 * Remembers pairs for a fixed window. Entries expire in insertion order (the window is the same
 * for all and the clock moves forward), so expiry is amortised O(1) from the front of a Map.
 * When the cache is full of pairs still inside the window it does not forget one early (that
 * would let a replay through): {@link check} answers `full` and the caller refuses the request.
 */
export class ReplayCache {
  readonly windowMs: number;
  readonly maxEntries: number;
  /** key → the time it stops counting. */
  readonly #until = new Map<string, number>();

  constructor(opts: ReplayCacheOptions = {}) {
    this.windowMs = opts.windowMs ?? 60_000;
    this.maxEntries = opts.maxEntries ?? 100_000;
  }

  /** Pairs remembered now. */
  get size(): number {
    return this.#until.size;
  }

  /** Whether `key` was seen within the window before `now`, or there is no room to remember it. */
  check(key: string, now: number): ReplayCheck {
    this.#expire(now);
    const until = this.#until.get(key);
    if (until !== undefined && until > now) return "seen";
    return this.#until.size >= this.maxEntries ? "full" : "fresh";
  }

  /** Remembers `key` until `now + windowMs`; call only after {@link check} said `fresh`. */
  add(key: string, now: number): void {
    this.#until.delete(key);
    this.#until.set(key, now + this.windowMs);
  }

  #expire(now: number): void {
    // A clock stepped back leaves later entries ahead of earlier ones: they are kept longer,
    // never dropped early.
    for (const [key, until] of this.#until) {
      if (until > now) break;
      this.#until.delete(key);
    }
  }
}
