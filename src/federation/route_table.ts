/**
 * The routing policy (PORTAL02.md §5) and the bounded data it needs: which
 * open link carries a message for a node — its own link, its hub, or the
 * neighbour its latest message came through — and the round trips measured
 * to nodes reached indirectly.
 */
import type { PeerConfig } from "../config/types.ts";
import type { Link } from "../peer/peer.ts";
import type { Clock } from "../util/clock.ts";
import { formatDuration } from "../util/format.ts";
import type { PresenceBook } from "./presence.ts";
import { LearnedRoutes } from "./routes.ts";

/** Options of {@link RouteTable}. */
export interface RouteTableOptions {
  /** This node's name: sentences say which node decided. */
  readonly name: string;
  /** The [peer:NAME] sections of this node. */
  readonly configs: readonly PeerConfig[];
  /** The authenticated link of a neighbour, or null. */
  readonly linkOf: (name: string) => Link | null;
  /** What each relay says it is connected to (§9). */
  readonly presence: PresenceBook;
  /** For "gone for 42s" in sentences. */
  readonly clock: Clock;
  /** Whether a neighbour announced it is shutting down: nothing new goes to it. Default never. */
  readonly isLeaving?: (name: string) => boolean;
  /** Learned routes and round trips kept at most. Default 4096 each. */
  readonly maxEntries?: number;
}

/**
 * §5 rules 1–3 over the links that are open now, never back out the link a
 * message came in on; a hub (rule 2) only while it lists the node (§9).
 */
export class RouteTable {
  readonly #name: string;
  readonly #presence: PresenceBook;
  readonly #clock: Clock;
  readonly #isLeaving: (name: string) => boolean;
  /** Hubs of each configured peer, in order of preference. */
  readonly #hubs = new Map<string, readonly string[]>();
  readonly #linkOf: (name: string) => Link | null;
  readonly #learned: LearnedRoutes;
  readonly #max: number;
  /** Round trip of the latest answered request per node reached indirectly (via-hub latency). */
  readonly #rtt = new Map<string, number>();

  constructor(options: RouteTableOptions) {
    this.#name = options.name;
    for (const c of options.configs) this.#hubs.set(c.name, c.hubs);
    this.#linkOf = options.linkOf;
    this.#presence = options.presence;
    this.#clock = options.clock;
    this.#isLeaving = options.isLeaving ?? (() => false);
    this.#max = options.maxEntries ?? 4096;
    this.#learned = new LearnedRoutes(this.#max);
  }

  /** New [peer] sections (a reload): their hubs take effect for the next message. */
  setConfigs(configs: readonly PeerConfig[]): void {
    this.#hubs.clear();
    for (const c of configs) this.#hubs.set(c.name, c.hubs);
  }

  /** Whether a route to `dst` was learned from its messages. */
  hasLearned(dst: string): boolean {
    return this.#learned.via(dst) !== undefined;
  }

  /** Records that a message from `src` arrived through `neighbour` (§5 rule 3). */
  learn(src: string, neighbour: string): void {
    this.#learned.learn(src, neighbour);
  }

  /** Forgets every route through `neighbour`, and what was measured through it. */
  forgetNeighbour(neighbour: string): void {
    for (const dst of this.#learned.forgetNeighbour(neighbour)) this.#rtt.delete(dst);
    this.#rtt.delete(neighbour);
  }

  /**
   * The link for `dst`: direct, then its hubs in order, then the learned
   * route; null if none. A new `request` never goes to a neighbour that is
   * shutting down; answers to what it carried still may.
   */
  route(dst: string, from: Link | null, purpose: "request" | "answer" = "answer"): Link | null {
    const usable = (l: Link | null): Link | null =>
      l && l.conn.isOpen && l !== from && (purpose === "answer" || !this.#isLeaving(l.peer))
        ? l
        : null;
    const direct = usable(this.#linkOf(dst));
    if (direct) return direct;
    const hubs = this.#hubs.get(dst);
    for (const hub of hubs ?? []) {
      const viaHub = usable(this.#linkOf(hub));
      if (viaHub && this.#presence.allows(hub, dst)) return viaHub;
    }
    const learned = this.#learned.via(dst);
    if (learned === undefined) return null;
    // A peer reached through hubs (rule 2) is there only while a relay lists it (§9),
    // whichever rule found the relay; other learned routes (answers to origins,
    // chains of relays) keep §5 as it is.
    if (hubs && hubs.length > 0 && !this.#presence.allows(learned, dst)) return null;
    return usable(this.#linkOf(learned));
  }

  /** The neighbour a node without a direct link is reached through now, or null. */
  indirect(dst: string): string | null {
    const link = this.route(dst, null, "request");
    return link === null || link.peer === dst ? null : link.peer;
  }

  /**
   * The latency to a node reached indirectly: through a hub that announces
   * it, the hub's own latency plus the hub's round trip to it (§9); else the
   * latest answered request's round trip. Null when unknown.
   */
  latency(dst: string): number | null {
    const via = this.indirect(dst);
    if (via === null) return null;
    if (this.#presence.announces(via)) {
      const hub = this.#linkOf(via)?.heartbeat.latencyMs ?? null;
      const onward = this.#presence.rtt(via, dst);
      return hub === null || onward === null ? null : hub + onward;
    }
    return this.rtt(dst);
  }

  /**
   * Why a request for `dst` cannot leave this node, in one sentence that names this node
   * first (`hub: no route to factory: …`): relayed back or nested, the caller reads it far
   * from where it was decided.
   */
  noRouteSentence(dst: string): string {
    return `${this.#name}: no route to ${dst}: ${this.unreachableReason(dst)}`;
  }

  /** Why `dst` cannot be reached from this node now: the end of {@link noRouteSentence}. */
  unreachableReason(dst: string): string {
    const me = this.#name;
    const hubs = this.#hubs.get(dst) ?? [];
    if (hubs.length === 0) {
      return this.#hubs.has(dst)
        ? `${dst} is not connected to ${me}, and ${me}'s [peer:${dst}] names no hub`
        : `${dst} is not connected to ${me}`;
    }
    const up = hubs.filter((h) => this.#linkOf(h)?.conn.isOpen && !this.#isLeaving(h));
    if (up.length > 0 && up.every((h) => this.#presence.awaiting(h))) {
      const names = up.map((h) => `'${h}'`).join(", ");
      return `${names} just connected to ${me} and has not said yet whether ${dst} ` +
        `is connected to it; try again in a moment`;
    }
    if (up.length > 0) {
      // Connected hubs that announce presence and do not list it (§9).
      const since = this.#presence.goneSince(dst);
      const gone = since === null
        ? `it has not been seen there since ${me} connected`
        : `gone for ${
          formatDuration(Math.max(1, Math.round((this.#clock.now() - since) / 1000)) * 1000)
        }`;
      const names = up.map((h) => `'${h}'`).join(", ");
      return up.length === 1
        ? `hub ${names} is up, but ${dst} is not connected to it (${gone})`
        : `hubs ${names} are up, but ${dst} is connected to none of them (${gone})`;
    }
    const names = hubs.map((h) => `'${h}'`).join(", ");
    return hubs.length === 1
      ? `${dst} is not connected to ${me}, and neither is its hub ${names}`
      : `${dst} is not connected to ${me}, and none of its hubs (${names}) is`;
  }

  /** Records the round trip of a request answered by `dst` itself. */
  recordRtt(dst: string, ms: number): void {
    this.#rtt.delete(dst);
    this.#rtt.set(dst, ms);
    if (this.#rtt.size > this.#max) this.#rtt.delete(this.#rtt.keys().next().value as string);
  }

  /** The latest round trip to `dst`, or null. */
  rtt(dst: string): number | null {
    return this.#rtt.get(dst) ?? null;
  }

  /** Number of round trips kept (bounded by `maxEntries`). */
  get rttEntries(): number {
    return this.#rtt.size;
  }
}
