/** Latency samples, the closed-loop budget shared by the load generators, and their result. */

/** What one load run measured; printed by a load child as one JSON line. */
export interface LoadResult {
  /** Requests answered with success and timed. */
  readonly completed: number;
  /** Requests that failed (bad status, connection lost, unanswered at the end). */
  readonly errors: number;
  /** Wall time of the measured part, in seconds. */
  readonly durationS: number;
  /** completed / durationS. */
  readonly rate: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  /** Latencies of at least {@link STALL_MS}: the size of a Nagle / delayed-ACK stall. */
  readonly stalls: number;
  /** True when the time bound ended the run before the request count was reached. */
  readonly timeBound: boolean;
  /** Anything specific to the generator (frame sizes, status counts, first error). */
  readonly extra: Record<string, unknown>;
}

/** A latency this long on loopback is a stall (Linux delays an ACK by 40 ms), not work. */
export const STALL_MS = 35;

/** Collects latencies (ms) in a growable typed array; percentiles by sorting once. */
export class Latencies {
  #data = new Float64Array(4096);
  #n = 0;

  add(ms: number): void {
    if (this.#n === this.#data.length) {
      const next = new Float64Array(this.#data.length * 2);
      next.set(this.#data);
      this.#data = next;
    }
    this.#data[this.#n++] = ms;
  }

  get count(): number {
    return this.#n;
  }

  /** p50, p99 and max in ms, and how many stalls; zeros when nothing was recorded. */
  summary(): { p50Ms: number; p99Ms: number; maxMs: number; stalls: number } {
    if (this.#n === 0) return { p50Ms: 0, p99Ms: 0, maxMs: 0, stalls: 0 };
    const sorted = this.#data.slice(0, this.#n).sort();
    const at = (q: number) => sorted[Math.min(this.#n - 1, Math.floor(q * this.#n))];
    let firstStall = sorted.findIndex((ms) => ms >= STALL_MS);
    if (firstStall < 0) firstStall = this.#n;
    return {
      p50Ms: at(0.5),
      p99Ms: at(0.99),
      maxMs: sorted[this.#n - 1],
      stalls: this.#n - firstStall,
    };
  }
}

/**
 * How many requests a closed-loop run may still start: a fixed count, cut short by a
 * deadline so that a slow configuration cannot stretch the whole benchmark.
 */
export class Budget {
  readonly #deadline: number;
  #left: number;
  #expired = false;

  constructor(count: number, timeMs: number) {
    this.#left = count;
    this.#deadline = performance.now() + timeMs;
  }

  /** Takes one request from the budget; false when the count or the time is spent. */
  take(): boolean {
    if (this.#left <= 0) return false;
    if (performance.now() >= this.#deadline) {
      this.#expired = true;
      this.#left = 0;
      return false;
    }
    this.#left--;
    return true;
  }

  /** True once the deadline, rather than the count, ended the run. */
  get expired(): boolean {
    return this.#expired;
  }
}

/** Builds the result of a run from its samples. */
export function loadResult(
  lat: Latencies,
  errors: number,
  durationS: number,
  timeBound: boolean,
  extra: Record<string, unknown> = {},
): LoadResult {
  return {
    completed: lat.count,
    errors,
    durationS,
    rate: durationS > 0 ? lat.count / durationS : 0,
    ...lat.summary(),
    timeBound,
    extra,
  };
}

/** Reads `--name value` options of a load child; every one listed is required. */
export function requireArgs<K extends string>(
  args: readonly string[],
  names: readonly K[],
): Record<K, string> {
  const out = {} as Record<K, string>;
  for (const name of names) {
    const i = args.indexOf(`--${name}`);
    if (i < 0 || i + 1 >= args.length) {
      throw new Error(`missing --${name} (args: ${args.join(" ")})`);
    }
    out[name] = args[i + 1];
  }
  return out;
}

/** A positive integer option, with a sentence naming it when it is not one. */
export function positiveInt(name: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new Error(`--${name} must be a positive integer, got '${text}'`);
  }
  return n;
}

/** Resolves when stdin reaches EOF (the parent closed it or exited). */
export async function holdUntilStdinCloses(): Promise<void> {
  for await (const _ of Deno.stdin.readable) {
    // Input is ignored; only EOF matters.
  }
}
