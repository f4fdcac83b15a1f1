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

/**
 * Resolves once `done()` holds or `ms` passed on `clock`, checking every
 * `stepMs`; true when it held. For waits with no event to hang on (a drain).
 */
export async function waitUntil(
  clock: Clock,
  done: () => boolean,
  ms: number,
  stepMs = 25,
): Promise<boolean> {
  const until = clock.now() + ms;
  while (!done()) {
    const left = until - clock.now();
    if (left <= 0) return false;
    await new Promise<void>((r) => clock.setTimeout(r, Math.min(stepMs, left)));
  }
  return true;
}
