/**
 * A "worker pool" (seed: "Worker Pools"): a FIFO queue with a bound, served by
 * at most `workers` concurrent async handlers. Threads would cost 8–12 MiB and
 * ~100 µs a message each; the isolation wanted is only that one origin's slow
 * handlers cannot hold up another's. A handler that goes on to wait for an
 * outside system with its own bound (a device) releases its worker early.
 */

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Handlers running at once. Default 4. */
  readonly workers?: number;
  /** Tasks waiting beyond the running ones; more are refused. Default 1024. */
  readonly queueLimit?: number;
}

/**
 * A task; it must settle on its own (it carries its own deadline). Calling
 * `release` gives its worker to the next task before it settles.
 */
export type Task = (release: () => void) => Promise<void>;

/** Bounded FIFO plus a concurrency limit. */
export class WorkerPool {
  #workers: number;
  #queueLimit: number;
  #queue: Task[] = [];
  #head = 0;
  #active = 0;
  #closed = false;
  /** Tasks refused because the queue was full (503s), since creation. */
  rejected = 0;

  constructor(options: WorkerPoolOptions = {}) {
    this.#workers = options.workers ?? 4;
    this.#queueLimit = options.queueLimit ?? 1024;
  }

  /** Handlers allowed to run at once. */
  get workers(): number {
    return this.#workers;
  }

  /** Tasks allowed to wait. */
  get queueLimit(): number {
    return this.#queueLimit;
  }

  /**
   * New bounds (a reload): more workers start waiting tasks at once; fewer
   * take effect as running tasks finish; a smaller queue refuses only new tasks.
   */
  resize(workers: number, queueLimit: number): void {
    this.#workers = workers;
    this.#queueLimit = queueLimit;
    while (this.#active < this.#workers) {
      const next = this.#take();
      if (!next) break;
      this.#run(next);
    }
  }

  /** Tasks holding a worker. */
  get active(): number {
    return this.#active;
  }

  /** Tasks waiting for a worker. */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Nothing running or waiting. */
  get idle(): boolean {
    return this.#active === 0 && this.queued === 0;
  }

  /** Runs or queues `task`; false when the queue is full or the pool closed. */
  submit(task: Task): boolean {
    if (this.#closed) return false;
    if (this.#active < this.#workers) {
      this.#run(task);
      return true;
    }
    if (this.queued >= this.#queueLimit) {
      this.rejected++;
      return false;
    }
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
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.#active--;
      if (this.#active >= this.#workers) return;
      const next = this.#take();
      if (next) this.#run(next);
    };
    let running: Promise<void>;
    try {
      running = task(release);
    } catch {
      release();
      return;
    }
    running.catch(() => {}).finally(release);
  }

  #take(): Task | undefined {
    if (this.#closed || this.#head >= this.#queue.length) return undefined;
    const t = this.#queue[this.#head++];
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
    return t;
  }
}
