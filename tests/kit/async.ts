/**
 * Waiting without sleeping: a guard on real time (`within`), and flushes of queued promise
 * work (`settle`, `settled`) for code driven by a fake clock.
 */
import { setImmediate } from "node:timers";
import { MAX_TIMER_MS } from "../../src/util/clock.ts";

/** A `within` guard ran out. */
export class TimedOut extends Error {
  override readonly name = "TimedOut";
  readonly code = "timed_out";
  /** `detail` (a child's last lines, a log) goes on the lines after the sentence. */
  constructor(readonly what: string, readonly ms: number, detail = "") {
    super(`timed out waiting for ${what} (${ms} ms)${detail === "" ? "" : `\n${detail}`}`);
  }
}

/** Options of {@link within}. */
export interface WithinOptions {
  /** Promises that end the wait early when they reject (a child's death, an interrupt). Default none. */
  readonly also?: readonly Promise<never>[];
  /** The error thrown at the deadline. Default a {@link TimedOut}. */
  readonly onTimeout?: () => Error;
}

/**
 * Awaits `promise`, failing with a sentence naming `what` after `ms` of real time. A guard,
 * never a synchroniser: a test that passes only because of the delay is wrong. The timer is
 * always cleared.
 */
export async function within<T>(
  promise: Promise<T>,
  what: string,
  ms = 10_000,
  options: WithinOptions = {},
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(options.onTimeout?.() ?? new TimedOut(what, ms)),
      Math.min(Math.max(0, ms), MAX_TIMER_MS),
    );
  });
  try {
    return await Promise.race([promise, late, ...(options.also ?? [])]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Lets every promise job already queued run, and the jobs those queue in turn: resolves on the
 * next macrotask (an immediate), which runs only once the microtask queue is empty. Work
 * waiting on real I/O or real timers is not covered; await that with `within`.
 */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Whether `p` has settled once queued promise work has run (see {@link settle}). */
export async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  p.then(() => (done = true), () => (done = true));
  await settle();
  return done;
}

/** `p`, with its rejection marked handled: for promises only ever raced (see `also`). */
export function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}
