/**
 * Requests this node relayed and has not seen answered yet, by the link they
 * went out on. PORTAL02 lets a relay work without such state; keeping a
 * bounded amount of it means a link that dies under relayed requests fails
 * them at once with 502 at their origins, instead of leaving each origin to
 * wait for its deadline (504).
 */
import { MinHeap } from "../util/heap.ts";

/** One relayed request still waiting for its answer. */
export interface RelayedEntry {
  readonly src: string;
  readonly id: number;
  readonly dst: string;
  /** Clock time after which nobody waits for the answer any more. */
  readonly expiresAt: number;
}

interface Held {
  readonly key: string;
  readonly linkId: number;
  readonly entry: RelayedEntry;
}

/** Bounded set of relayed requests, per outgoing link; the oldest overall goes first. */
export class RelayedRequests {
  readonly #max: number;
  /** Every entry in the order it was added, for eviction when full. */
  readonly #all = new Map<string, Held>();
  readonly #byLink = new Map<number, Set<string>>();
  /**
   * Min-heap on expiry. Deadlines differ per request (each carries its own
   * `timeout_ms`), so insertion order says nothing about which expires first.
   * Entries removed otherwise stay in the heap until they reach its top.
   */
  readonly #expiry = new MinHeap<Held>((a, b) => a.entry.expiresAt < b.entry.expiresAt);

  /** `max` bounds the entries over all links. Default 16384. */
  constructor(max = 16_384) {
    this.#max = max;
  }

  get size(): number {
    return this.#all.size;
  }

  /** Records a request relayed out on `linkId` at clock time `now`. */
  add(linkId: number, entry: RelayedEntry, now: number): void {
    this.prune(now);
    const key = keyOf(linkId, entry.src, entry.id);
    this.#remove(key);
    const held = { key, linkId, entry };
    this.#all.set(key, held);
    let keys = this.#byLink.get(linkId);
    if (!keys) this.#byLink.set(linkId, keys = new Set());
    keys.add(key);
    this.#expiry.push(held);
    if (this.#all.size > this.#max) this.#remove(this.#all.keys().next().value as string);
    // Lazily deleted heap entries must not outgrow the live ones for long.
    if (this.#expiry.size > 2 * this.#max + 64) {
      this.#expiry.retain((h) => this.#all.get(h.key) === h);
    }
  }

  /** Drops every entry whose deadline passed by `now`. */
  prune(now: number): void {
    for (
      let top = this.#expiry.peek();
      top && top.entry.expiresAt <= now;
      top = this.#expiry.peek()
    ) {
      this.#expiry.pop();
      if (this.#all.get(top.key) === top) this.#remove(top.key);
    }
  }

  /**
   * Forgets the request answered by a RESPONSE for `origin`'s `id` that came
   * back on `linkId`; returns it, or undefined when it is not (or no longer) known.
   */
  answered(linkId: number, origin: string, id: number): RelayedEntry | undefined {
    const key = keyOf(linkId, origin, id);
    const held = this.#all.get(key);
    this.#remove(key);
    return held?.entry;
  }

  /** Removes and returns the requests that went out on a link now lost, still within their deadline. */
  takeLink(linkId: number, now: number): RelayedEntry[] {
    const keys = this.#byLink.get(linkId);
    if (!keys) return [];
    const out: RelayedEntry[] = [];
    for (const key of [...keys]) {
      const held = this.#all.get(key);
      this.#remove(key);
      if (held && held.entry.expiresAt > now) out.push(held.entry);
    }
    return out;
  }

  #remove(key: string): void {
    const held = this.#all.get(key);
    if (!held) return;
    this.#all.delete(key);
    const keys = this.#byLink.get(held.linkId);
    keys?.delete(key);
    if (keys?.size === 0) this.#byLink.delete(held.linkId);
  }
}

function keyOf(linkId: number, src: string, id: number): string {
  return `${linkId}\u0000${src}\u0000${id}`;
}
