/**
 * Serving REQUESTs addressed to this node: each goes into a worker pool and
 * runs against its budget (the origin's `timeout_ms`, less the time it
 * waited), so a handler that ignores its deadline never holds a worker for
 * good and nothing is answered after the origin stopped waiting.
 */
import type { PathResponse, PathService } from "../paths/types.ts";
import type { WorkerPool } from "../peer/pool.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { DEFAULT_TTL, type RequestMessage, Status } from "../wire/mod.ts";

/** Options of {@link RequestServer}. */
export interface RequestServerOptions {
  /** This node's name, for error sentences. */
  readonly name: string;
  readonly clock: Clock;
  readonly router: PathService;
  /** Budget of a request that names no `timeout_ms` (`request_timeout`, read per request). */
  readonly defaultBudgetMs: () => number;
  /** Sends an answer back to the origin. */
  readonly respond: (dst: string, id: number, res: PathResponse) => void;
  /** Counts (and logs) a request that will get no answer from here. */
  readonly drop: (why: string) => void;
}

/** Runs requests for this node in worker pools, each bounded by its budget. */
export class RequestServer {
  readonly #o: RequestServerOptions;
  /** Cancels each request being served, so stop() leaves no timer behind. */
  readonly #serving = new Set<() => void>();
  #stopped = false;
  /** Set while the node drains: requests running finish, new ones get 503. */
  draining = false;

  constructor(options: RequestServerOptions) {
    this.#o = options;
  }

  /** Requests running right now. */
  get running(): number {
    return this.#serving.size;
  }

  /**
   * Queues `req` (arrived through `neighbour`) in its origin's `pool` (null:
   * no pool could be had); a full queue is answered 503 at once.
   */
  submit(pool: WorkerPool | null, req: RequestMessage, neighbour: string): void {
    if (this.draining) {
      this.#o.respond(req.src, req.id, {
        status: Status.Overloaded,
        error: `${this.#o.name} is shutting down and takes no new requests`,
      });
      return;
    }
    if (pool === null) {
      this.#o.respond(req.src, req.id, {
        status: Status.Overloaded,
        error: `${this.#o.name} is overloaded: too many origins have requests in progress`,
      });
      return;
    }
    const queuedAt = this.#o.clock.now();
    const budget = req.timeout_ms ?? this.#o.defaultBudgetMs();
    const accepted = pool.submit((release) =>
      this.#run(req, neighbour, budget - (this.#o.clock.now() - queuedAt), release)
    );
    if (!accepted) {
      this.#o.respond(req.src, req.id, {
        status: Status.Overloaded,
        error: `${this.#o.name} is overloaded: the queue for requests from ${req.src} is full ` +
          `(${pool.queued} waiting, ${pool.active} running)`,
      });
    }
  }

  /** Cancels every running request; none is answered from now on. */
  stop(): void {
    this.#stopped = true;
    for (const cancel of [...this.#serving]) cancel();
  }

  async #run(
    req: RequestMessage,
    neighbour: string,
    left: number,
    release: () => void,
  ): Promise<void> {
    const { clock } = this.#o;
    if (left <= 0) {
      this.#o.drop(`request ${req.id} from ${req.src} expired in the queue`);
      return;
    }
    const abort = new AbortController();
    let timer: TimerHandle | null = null;
    let cancel = () => {};
    const expired = new Promise<null>((resolve) => {
      cancel = () => {
        abort.abort();
        resolve(null);
      };
      timer = clock.setTimeout(cancel, left);
    });
    this.#serving.add(cancel);
    const work = this.#o.router.handle({
      method: req.method,
      path: req.path,
      args: req.args ?? {},
      origin: req.src,
      signal: abort.signal,
      hops: (req.ttl ?? DEFAULT_TTL) - 1,
      detach: release,
      envelope: {
        id: req.id,
        src: req.src,
        dst: req.dst,
        relay: neighbour === req.src ? null : neighbour,
        sig: req.sig,
      },
    }).catch((e): PathResponse => ({
      status: Status.Internal,
      error: `${req.method} ${req.path} failed on ${this.#o.name}: ${errorText(e)}`,
    }));
    // A handler that ignores its deadline must not hold a worker forever.
    let res: PathResponse | null;
    try {
      res = await Promise.race([work, expired]);
    } finally {
      if (timer !== null) clock.clear(timer);
      this.#serving.delete(cancel);
    }
    if (this.#stopped) return;
    if (res === null) {
      this.#o.drop(`request ${req.id} from ${req.src} for ${req.path} outlived its deadline`);
      return;
    }
    this.#o.respond(req.src, req.id, res);
  }
}
