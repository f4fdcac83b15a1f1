/**
 * Per-device serialisation: one exchange with a device at a time, so a poll's
 * answer can never overwrite the result of a command that overtook it.
 */

interface Waiter {
  readonly grant: () => void;
}

/** A FIFO mutex with a bounded wait list whose waiters leave when their signal aborts. */
export class DeviceLock {
  #held = false;
  readonly #waiters: Waiter[] = [];

  /** `limit`: how many callers may wait; beyond it `acquire` fails at once. */
  constructor(readonly limit: number) {}

  /** Whether someone holds the lock. */
  get held(): boolean {
    return this.#held;
  }

  /** Number of callers waiting. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes the lock only when free; polls use this so they never queue behind commands. */
  tryAcquire(): boolean {
    if (this.#held) return false;
    this.#held = true;
    return true;
  }

  /**
   * Waits for the lock. Rejects with `full()` when `limit` callers already
   * wait, and with `aborted()` when `signal` aborts first.
   */
  acquire(signal: AbortSignal, full: () => Error, aborted: () => Error): Promise<void> {
    if (signal.aborted) return Promise.reject(aborted());
    if (!this.#held) {
      this.#held = true;
      return Promise.resolve();
    }
    if (this.#waiters.length >= this.limit) return Promise.reject(full());
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.#waiters.indexOf(waiter);
        if (i >= 0) this.#waiters.splice(i, 1);
        reject(aborted());
      };
      const waiter: Waiter = {
        grant: () => {
          signal.removeEventListener("abort", onAbort);
          resolve();
        },
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  /** Hands the lock to the next waiter, or frees it. */
  release(): void {
    const next = this.#waiters.shift();
    if (next) next.grant();
    else this.#held = false;
  }
}
