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

/** Bounded set of relayed requests, per outgoing link. */
export class RelayedRequests {
  readonly #max: number;
  readonly #byLink = new Map<number, Map<string, RelayedEntry>>();
  #size = 0;

  /** `max` bounds the entries over all links; the oldest on a link goes first. Default 16384. */
  constructor(max = 16_384) {
    this.#max = max;
  }

  get size(): number {
    return this.#size;
  }

  /** Records a request relayed out on `linkId`. */
  add(linkId: number, entry: RelayedEntry): void {
    let entries = this.#byLink.get(linkId);
    if (!entries) this.#byLink.set(linkId, entries = new Map());
    const key = keyOf(entry.src, entry.id);
    if (!entries.has(key)) this.#size++;
    entries.set(key, entry);
    if (this.#size > this.#max) {
      const oldest = entries.keys().next().value as string;
      entries.delete(oldest);
      this.#size--;
    }
  }

  /** Forgets the request answered by a RESPONSE for `origin`'s `id` that came back on `linkId`. */
  answered(linkId: number, origin: string, id: number): void {
    const entries = this.#byLink.get(linkId);
    if (entries?.delete(keyOf(origin, id))) this.#size--;
  }

  /** Removes and returns the requests that went out on a link now lost, still within their deadline. */
  takeLink(linkId: number, now: number): RelayedEntry[] {
    const entries = this.#byLink.get(linkId);
    if (!entries) return [];
    this.#byLink.delete(linkId);
    this.#size -= entries.size;
    return [...entries.values()].filter((e) => e.expiresAt > now);
  }
}

function keyOf(src: string, id: number): string {
  return `${src}\u0000${id}`;
}
