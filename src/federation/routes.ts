/** Learned routes (PORTAL02.md §5 rule 3): the neighbour a node's latest message came through. */

/** Bounded map: node name → neighbour; the oldest entry goes first when full. */
export class LearnedRoutes {
  readonly #max: number;
  readonly #via = new Map<string, string>();

  constructor(max = 4096) {
    this.#max = max;
  }

  /** Records that a message from `src` arrived through `neighbour`. */
  learn(src: string, neighbour: string): void {
    if (this.#via.get(src) === neighbour) return;
    this.#via.delete(src);
    this.#via.set(src, neighbour);
    if (this.#via.size > this.#max) {
      const oldest = this.#via.keys().next().value as string;
      this.#via.delete(oldest);
    }
  }

  /** The neighbour to reach `dst` through, if learned. */
  via(dst: string): string | undefined {
    return this.#via.get(dst);
  }

  /** Forgets every route through `neighbour`, when it is removed; returns the nodes forgotten. */
  forgetNeighbour(neighbour: string): string[] {
    const gone: string[] = [];
    for (const [dst, n] of this.#via) {
      if (n !== neighbour) continue;
      this.#via.delete(dst);
      gone.push(dst);
    }
    return gone;
  }

  /** Number of routes kept. */
  get size(): number {
    return this.#via.size;
  }
}
