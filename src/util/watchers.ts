/** Change notification: callbacks run after every change, and promises of a condition. */
export class Watchers {
  readonly #fns = new Set<() => void>();

  /** Calls `fn` after every change; returns the unsubscribe function. */
  watch(fn: () => void): () => void {
    this.#fns.add(fn);
    return () => this.#fns.delete(fn);
  }

  /** Resolves once `cond` holds, re-checked after every change. */
  when(cond: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      if (cond()) return resolve();
      const stop = this.watch(() => cond() && (stop(), resolve()));
    });
  }

  /** Runs every callback (a change happened). */
  notify(): void {
    for (const fn of [...this.#fns]) fn();
  }
}
