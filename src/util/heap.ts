/**
 * A binary min-heap: the deadline queues of SharedTimers and of the relay's
 * bookkeeping. Entries removed elsewhere may stay until they reach the top
 * ("lazy deletion"); {@link MinHeap.retain} drops them all at once.
 */
export class MinHeap<T> {
  readonly #items: T[] = [];
  readonly #before: (a: T, b: T) => boolean;

  /** `before(a, b)`: `a` leaves the heap before `b`. */
  constructor(before: (a: T, b: T) => boolean) {
    this.#before = before;
  }

  get size(): number {
    return this.#items.length;
  }

  /** The first entry, or undefined when empty. */
  peek(): T | undefined {
    return this.#items[0];
  }

  push(item: T): void {
    const heap = this.#items;
    heap.push(item);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.#before(item, heap[parent])) break;
      heap[i] = heap[parent];
      i = parent;
    }
    heap[i] = item;
  }

  /** Removes and returns the first entry, or undefined when empty. */
  pop(): T | undefined {
    const heap = this.#items;
    const top = heap[0];
    const last = heap.pop();
    if (heap.length > 0 && last !== undefined) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= heap.length) break;
        const r = l + 1;
        const c = r < heap.length && this.#before(heap[r], heap[l]) ? r : l;
        if (!this.#before(heap[c], last)) break;
        heap[i] = heap[c];
        i = c;
      }
      heap[i] = last;
    }
    return top;
  }

  /** Keeps only the entries `keep` accepts. */
  retain(keep: (item: T) => boolean): void {
    const live = this.#items.filter(keep);
    this.#items.length = 0;
    for (const item of live) this.push(item);
  }
}
