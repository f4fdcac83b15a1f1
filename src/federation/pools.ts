/**
 * Worker pools per origin node (PORTAL02.md §10): REQUESTs are queued by
 * their `src`, so two origins behind the same hub never share a queue. The
 * number of pools is bounded; beyond it the least recently used idle pool is
 * taken over by the new origin.
 */
import type { NodeConfig, PeerConfig } from "../config/types.ts";
import { WorkerPool } from "../peer/pool.ts";

/** Options of {@link OriginPools}. */
export interface OriginPoolsOptions {
  readonly node: NodeConfig;
  /** The [peer:NAME] sections: their `workers` and `queue_limit` size that origin's pool. */
  readonly peers: readonly PeerConfig[];
  /** Pools kept at most. Default 1024. */
  readonly maxPools?: number;
}

/** One origin's pool. */
export interface OriginPool {
  readonly origin: string;
  readonly pool: WorkerPool;
}

/** Pools keyed by origin node, least recently used first. */
export class OriginPools {
  #node: NodeConfig;
  readonly #max: number;
  readonly #sizes = new Map<string, PeerConfig>();
  /** Map order is recency: a pool moves to the end whenever it is used. */
  readonly #pools = new Map<string, WorkerPool>();
  #closed = false;

  constructor(options: OriginPoolsOptions) {
    this.#node = options.node;
    this.#max = options.maxPools ?? 1024;
    for (const p of options.peers) this.#sizes.set(p.name, p);
  }

  /** Number of pools kept. */
  get size(): number {
    return this.#pools.size;
  }

  /** The pool for `origin`, made (or taken over from an idle one) on first use; null when every pool is busy. */
  get(origin: string): WorkerPool | null {
    if (this.#closed) return null;
    let pool = this.#pools.get(origin);
    if (pool) {
      this.#pools.delete(origin);
      this.#pools.set(origin, pool);
      return pool;
    }
    if (this.#pools.size >= this.#max && !this.#evictIdle()) return null;
    const [workers, queueLimit] = this.#sizeOf(origin);
    pool = new WorkerPool({ workers, queueLimit });
    this.#pools.set(origin, pool);
    return pool;
  }

  /** New sizes (a reload): every pool takes its origin's new bounds. */
  reconfigure(node: NodeConfig, peers: readonly PeerConfig[]): void {
    this.#node = node;
    this.#sizes.clear();
    for (const p of peers) this.#sizes.set(p.name, p);
    for (const [origin, pool] of this.#pools) pool.resize(...this.#sizeOf(origin));
  }

  #sizeOf(origin: string): [number, number] {
    const sized = this.#sizes.get(origin);
    return [sized?.workers ?? this.#node.workers, sized?.queueLimit ?? this.#node.queueLimit];
  }

  /** The pool of `origin` if it has one (for status and tests). */
  peek(origin: string): WorkerPool | undefined {
    return this.#pools.get(origin);
  }

  /** Every pool, least recently used first. */
  all(): OriginPool[] {
    return [...this.#pools].map(([origin, pool]) => ({ origin, pool }));
  }

  /** Drops every queued task; running ones finish on their own. */
  close(): void {
    this.#closed = true;
    for (const p of this.#pools.values()) p.close();
  }

  #evictIdle(): boolean {
    for (const [origin, pool] of this.#pools) {
      if (!pool.idle) continue;
      this.#pools.delete(origin);
      return true;
    }
    return false;
  }
}
