/**
 * A peer's "worker pool": a FIFO queue with a bound, served by at most
 * `workers` concurrent async handlers. Threads would cost 8–12 MiB and
 * ~100 µs a message each; the isolation wanted is only that one peer's slow
 * handlers cannot hold up another peer's.
 */

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Handlers running at once. Default 4. */
  readonly workers?: number;
  /** Tasks waiting beyond the running ones; more are refused. Default 1024. */
  readonly queueLimit?: number;
}

/** A task; it must settle on its own (it carries its own deadline). */
export type Task = () => Promise<void>;

/** Bounded FIFO plus a concurrency limit. */
export class WorkerPool {
  readonly #workers: number;
  readonly #limit: number;
  #queue: Task[] = [];
  #head = 0;
  #active = 0;
  #closed = false;

  constructor(options: WorkerPoolOptions = {}) {
    this.#workers = options.workers ?? 4;
    this.#limit = options.queueLimit ?? 1024;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Runs or queues `task`; false when the queue is full or the pool closed. */
  submit(task: Task): boolean {
    if (this.#closed) return false;
    if (this.#active < this.#workers) {
      this.#run(task);
      return true;
    }
    if (this.queued >= this.#limit) return false;
    this.#queue.push(task);
    return true;
  }

  /** Drops every queued task; running ones finish on their own. */
  close(): void {
    this.#closed = true;
    this.#queue = [];
    this.#head = 0;
  }

  #run(task: Task): void {
    this.#active++;
    task().catch(() => {}).finally(() => {
      this.#active--;
      const next = this.#take();
      if (next) this.#run(next);
    });
  }

  #take(): Task | undefined {
    if (this.#head >= this.#queue.length) return undefined;
    const t = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return t;
  }
}
