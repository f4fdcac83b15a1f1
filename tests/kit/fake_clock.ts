/**
 * A clock that only moves when told to, for code that takes an injected `Clock`. Timers fire
 * in due order (ties in the order they were set), so a test drives minutes of protocol time in
 * microseconds and never sleeps.
 */
import type { Clock, TimerHandle } from "../../src/util/clock.ts";
import { settle } from "./async.ts";

interface FakeTimer {
  readonly at: number;
  readonly seq: number;
  readonly fn: () => void;
}

/** Timers one advance may fire before it gives up: a timer that re-arms at 0 ms never ends. */
const MAX_FIRED_PER_ADVANCE = 100_000;

/** A {@link Clock} whose time moves only in `advance` and `advanceAsync`; it starts at 0. */
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
    const next = this.#earliest(Infinity);
    return next === null ? null : next.at - this.#now;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due, in order. Synchronous: what
   * a timer starts asynchronously has not run when this returns (see `advanceAsync`).
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let fired = 0;; fired++) {
      if (!this.#fireNext(end, fired)) break;
    }
    this.#now = end;
  }

  /**
   * Like `advance`, but lets queued promise work run before the first timer, after each timer
   * and at the end, so a timer's async consequences (and timers they set, if due by then) happen
   * inside the advance. Tests await this instead of counting microtask turns.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (let fired = 0;; fired++) {
      if (!this.#fireNext(end, fired)) break;
      await settle();
    }
    this.#now = end;
    await settle();
  }

  /** Fires the earliest timer due by `end`; false when there is none. */
  #fireNext(end: number, fired: number): boolean {
    const next = this.#earliest(end);
    if (next === null) return false;
    if (fired >= MAX_FIRED_PER_ADVANCE) {
      throw new Error(
        `FakeClock: more than ${MAX_FIRED_PER_ADVANCE} timers fired in one advance; ` +
          "a timer keeps re-arming itself at 0 ms",
      );
    }
    this.#timers.delete(next.seq);
    this.#now = next.at;
    next.fn();
    return true;
  }

  #earliest(end: number): FakeTimer | null {
    let best: FakeTimer | null = null;
    for (const t of this.#timers.values()) {
      if (t.at > end) continue;
      if (best === null || t.at < best.at || (t.at === best.at && t.seq < best.seq)) best = t;
    }
    return best;
  }
}
