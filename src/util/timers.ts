/**
 * Many timers on one: a Clock whose timers share a single timer of the
 * clock below it, kept in a min-heap by due time. A node with thousands of
 * links and requests (a deadline per request, a heartbeat per link) then
 * arms one runtime timer instead of thousands, and each add or cancel is a
 * heap operation rather than a system timer.
 */
import type { Clock, TimerHandle } from "./clock.ts";
import { MinHeap } from "./heap.ts";

interface Entry {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | null;
}

/** A Clock multiplexing its timers onto one timer of `base`; timers fire in (due, creation) order. */
export class SharedTimers implements Clock {
  readonly #base: Clock;
  readonly #heap = new MinHeap<Entry>((a, b) => a.at < b.at || (a.at === b.at && a.seq < b.seq));
  #live = 0;
  #seq = 0;
  #armed: { readonly at: number; readonly handle: TimerHandle } | null = null;

  constructor(base: Clock) {
    this.#base = base;
  }

  /** Timers waiting. */
  get size(): number {
    return this.#live;
  }

  now(): number {
    return this.#base.now();
  }

  setTimeout(fn: () => void, ms: number): TimerHandle {
    const entry: Entry = { at: this.#base.now() + Math.max(0, ms), seq: ++this.#seq, fn };
    this.#heap.push(entry);
    this.#live++;
    this.#arm();
    return entry;
  }

  clear(handle: TimerHandle): void {
    const entry = handle as Entry;
    if (entry?.fn == null) return;
    entry.fn = null;
    this.#live--;
    // Cancelled entries wait in the heap until they reach its top; never let them pile up.
    if (this.#heap.size > 64 && this.#heap.size > 4 * this.#live) {
      this.#heap.retain((e) => e.fn !== null);
    }
    if (this.#live === 0) this.#disarm();
  }

  #fire(): void {
    this.#armed = null;
    const now = this.#base.now();
    for (let top = this.#heap.peek(); top !== undefined && top.at <= now; top = this.#heap.peek()) {
      const e = this.#heap.pop()!;
      const fn = e.fn;
      if (fn === null) continue;
      e.fn = null;
      this.#live--;
      fn();
    }
    this.#arm();
  }

  /** Keeps the one base timer set for the earliest live entry. */
  #arm(): void {
    while (this.#heap.peek()?.fn === null) this.#heap.pop();
    const first = this.#heap.peek();
    if (first === undefined) return this.#disarm();
    const at = first.at;
    if (this.#armed !== null && this.#armed.at <= at) return;
    this.#disarm();
    const handle = this.#base.setTimeout(() => this.#fire(), at - this.#base.now());
    this.#armed = { at, handle };
  }

  #disarm(): void {
    if (this.#armed !== null) this.#base.clear(this.#armed.handle);
    this.#armed = null;
  }
}
