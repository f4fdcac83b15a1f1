/**
 * Requests this node relayed and has not seen answered yet, by the link they
 * went out on. PORTAL02 lets a relay work without such state; keeping a
 * bounded amount of it means a link that dies under relayed requests fails
 * them at once with 502 at their origins, instead of leaving each origin to
 * wait for its deadline (504).
 */

/** One relayed request still waiting for its answer. */
export interface RelayedEntry {
  readonly src: string;
  readonly id: number;
  readonly dst: string;
  /** Clock time after which nobody waits for the answer any more. */
  readonly expiresAt: number;
}

interface Held {
  readonly linkId: number;
  readonly entry: RelayedEntry;
}

/** Bounded set of relayed requests, per outgoing link; the oldest overall goes first. */
export class RelayedRequests {
  readonly #max: number;
  /** Every entry in the order it was added, for pruning and eviction. */
  readonly #all = new Map<string, Held>();
  readonly #byLink = new Map<number, Set<string>>();

  /** `max` bounds the entries over all links. Default 16384. */
  constructor(max = 16_384) {
    this.#max = max;
  }

  get size(): number {
    return this.#all.size;
  }

  /** Records a request relayed out on `linkId` at clock time `now`. */
  add(linkId: number, entry: RelayedEntry, now: number): void {
    // Requests whose answer never came back through here (dropped at the
    // destination, answered over another link) leave once their deadline passed.
    for (const [key, held] of this.#all) {
      if (held.entry.expiresAt > now) break;
      this.#remove(key, held.linkId);
    }
    const key = keyOf(linkId, entry.src, entry.id);
    this.#remove(key, linkId);
    this.#all.set(key, { linkId, entry });
    let keys = this.#byLink.get(linkId);
    if (!keys) this.#byLink.set(linkId, keys = new Set());
    keys.add(key);
    if (this.#all.size > this.#max) {
      const [oldest, held] = this.#all.entries().next().value as [string, Held];
      this.#remove(oldest, held.linkId);
    }
  }

  /** Forgets the request answered by a RESPONSE for `origin`'s `id` that came back on `linkId`. */
  answered(linkId: number, origin: string, id: number): void {
    this.#remove(keyOf(linkId, origin, id), linkId);
  }

  /** Removes and returns the requests that went out on a link now lost, still within their deadline. */
  takeLink(linkId: number, now: number): RelayedEntry[] {
    const keys = this.#byLink.get(linkId);
    if (!keys) return [];
    const out: RelayedEntry[] = [];
    for (const key of [...keys]) {
      const held = this.#all.get(key);
      this.#remove(key, linkId);
      if (held && held.entry.expiresAt > now) out.push(held.entry);
    }
    return out;
  }

  #remove(key: string, linkId: number): void {
    if (!this.#all.delete(key)) return;
    const keys = this.#byLink.get(linkId);
    keys?.delete(key);
    if (keys?.size === 0) this.#byLink.delete(linkId);
  }
}

function keyOf(linkId: number, src: string, id: number): string {
  return `${linkId}\u0000${src}\u0000${id}`;
}
