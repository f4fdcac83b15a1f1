/** Opaque handle of a pending timer. */
export type TimerHandle = unknown;

/** A source of time and timers, injected so tests can run without sleeping. */
export interface Clock {
  /** Milliseconds, monotonic for the life of the process. */
  now(): number;
  /** Calls `fn` once after `ms`; returns a handle for `clear`. */
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle): void;
}

/** Longest delay a timer can hold; a larger one would fire at once (it overflows to 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock: performance.now() and the global timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, Math.min(Math.max(0, ms), MAX_TIMER_MS)),
  clear: (handle) => clearTimeout(handle as number),
};

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/**
 * A clock that only moves when told to. Timers fire in due order inside
 * `advance`, so a test drives minutes of protocol time in microseconds.
 */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers = new Map<number, FakeTimer>();

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): number {
    const handle = ++this.#seq;
    this.#timers.set(handle, { at: this.#now + Math.max(0, ms), seq: handle, fn });
    return handle;
  }

  clear(handle: TimerHandle): void {
    this.#timers.delete(handle as number);
  }

  /** Number of timers still pending. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Delay of the earliest pending timer from now, or null when none. */
  nextDelay(): number | null {
    let best: FakeTimer | null = null;
    for (const t of this.#timers.values()) {
      if (best === null || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best === null ? null : best.at - this.#now;
  }

  /** Moves time forward by `ms`, firing every timer that falls due, in order. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, FakeTimer] | null = null;
      for (const entry of this.#timers) {
        const t = entry[1];
        if (t.at > end) continue;
        if (next === null || t.at < next[1].at || (t.at === next[1].at && t.seq < next[1].seq)) {
          next = entry;
        }
      }
      if (next === null) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
}
