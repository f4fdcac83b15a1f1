/** The reconnect schedule (PORTAL02.md §7): 1, 2, 4, … capped, reset on success. */

/** Options of {@link Backoff}. */
export interface BackoffOptions {
  /** First wait. Default 1000 ms. */
  readonly initialMs?: number;
  /** Largest wait. Default 60000 ms. */
  readonly maxMs?: number;
  /** Up to this fraction of each wait is added at random. Default 0. */
  readonly jitter?: number;
  /** Uniform [0, 1) source for the jitter. Default Math.random. */
  readonly random?: () => number;
}

/** Doubles each wait up to a cap; `reset` starts over. */
export class Backoff {
  readonly #initial: number;
  readonly #max: number;
  readonly #jitter: number;
  readonly #random: () => number;
  #base: number;

  constructor(options: BackoffOptions = {}) {
    this.#initial = options.initialMs ?? 1000;
    this.#max = options.maxMs ?? 60_000;
    this.#jitter = options.jitter ?? 0;
    this.#random = options.random ?? Math.random;
    this.#base = this.#initial;
  }

  /** The wait before the next attempt; each call doubles the following one. */
  next(): number {
    const wait = Math.min(this.#base, this.#max);
    this.#base = Math.min(this.#base * 2, this.#max);
    return this.#jitter > 0 ? Math.round(wait * (1 + this.#jitter * this.#random())) : wait;
  }

  /** Back to the first wait, after a successful authentication. */
  reset(): void {
    this.#base = this.#initial;
  }
}
