/**
 * Many timers on one: a Clock whose timers share a single timer of the
 * clock below it, kept in a min-heap by due time. A node with thousands of
 * links and requests (a deadline per request, a heartbeat per link) then
 * arms one runtime timer instead of thousands, and each add or cancel is a
 * heap operation rather than a system timer.
 */
import type { Clock, TimerHandle } from "./clock.ts";

interface Entry {
  readonly at: number;
  readonly seq: number;
  fn: (() => void) | null;
}

/** A Clock multiplexing its timers onto one timer of `base`; timers fire in (due, creation) order. */
export class SharedTimers implements Clock {
  readonly #base: Clock;
  readonly #heap: Entry[] = [];
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
    this.#push(entry);
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
    if (this.#heap.length > 64 && this.#heap.length > 4 * this.#live) this.#compact();
    if (this.#live === 0) this.#disarm();
  }

  #fire(): void {
    this.#armed = null;
    const now = this.#base.now();
    while (this.#heap.length > 0 && this.#heap[0].at <= now) {
      const e = this.#pop();
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
    while (this.#heap.length > 0 && this.#heap[0].fn === null) this.#pop();
    if (this.#heap.length === 0) return this.#disarm();
    const at = this.#heap[0].at;
    if (this.#armed !== null && this.#armed.at <= at) return;
    this.#disarm();
    const handle = this.#base.setTimeout(() => this.#fire(), at - this.#base.now());
    this.#armed = { at, handle };
  }

  #disarm(): void {
    if (this.#armed !== null) this.#base.clear(this.#armed.handle);
    this.#armed = null;
  }

  #compact(): void {
    const live = this.#heap.filter((e) => e.fn !== null);
    this.#heap.length = 0;
    for (const e of live) this.#push(e);
  }

  #push(e: Entry): void {
    const heap = this.#heap;
    heap.push(e);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(e, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = e;
  }

  #pop(): Entry {
    const heap = this.#heap;
    const top = heap[0];
    const last = heap.pop() as Entry;
    if (heap.length > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && before(heap[r], heap[l]) ? r : l;
        if (!before(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }
}

function before(a: Entry, b: Entry): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq);
}
