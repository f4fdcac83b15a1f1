/**
 * Presence through a hub (PORTAL02.md §9), the sending side: every node tells
 * each neighbour which other nodes it is connected to, right after the
 * neighbour authenticates and whenever that set changes. Changes are
 * coalesced into one announcement per neighbour at most every 100 ms (the
 * contract allows 10 a second) and always within a second; with more than
 * 1,000 neighbours, neighbours that already have the set get only the changes.
 * Changes go only to neighbours that speak presence themselves: a node that
 * never announces is an older relay or a bare client, and would discard them.
 */
import type { Link } from "../peer/peer.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { encodeJson, type EventMessage, MsgType } from "../wire/mod.ts";
import {
  type Announcement,
  announcementData,
  decodeAnnouncement,
  PRESENCE_TOPIC,
  PresenceBook,
  type PresenceEntry,
} from "./presence.ts";

/** Options of {@link PresenceAnnouncer}. */
export interface PresenceAnnouncerOptions {
  /** This node's name: the `src` of its announcements. */
  readonly name: string;
  readonly clock: Clock;
  /** The authenticated links of this node now. */
  readonly links: () => Iterable<Link>;
  /** Sends one EVENT body on a link (counted by the caller). */
  readonly send: (link: Link, type: MsgType, body: Uint8Array) => void;
  /** Delay that lets changes made together (in one tick) go out as one. Default 0 ms. */
  readonly coalesceMs?: number;
  /** Shortest time between two announcements. Default 100 ms (§9: at most 10 a second). */
  readonly minIntervalMs?: number;
  /** Neighbours beyond which deltas are sent. Default 1000 (§9). */
  readonly deltaAbove?: number;
  /**
   * Whether a neighbour wants presence at all: one that announces presence
   * itself (every Portal node does, right after it authenticates). Others
   * get one set after they authenticate and no changes (none beyond
   * `deltaAbove` neighbours): sending every join to hundreds of clients that
   * discard it costs the square of their number (a hub with 1,000 of them
   * sent 30 MB per round of announcements). Default: every neighbour.
   */
  readonly wants?: (peer: string) => boolean;
}

/** A round trip change worth announcing: over 25 % and over 2 ms. */
function moved(before: number | null, now: number | null): boolean {
  if (before === null || now === null) return before !== now;
  const d = Math.abs(now - before);
  return d > 2 && d > 0.25 * before;
}

/** Announces this node's neighbours to each of them. */
export class PresenceAnnouncer {
  readonly #o: PresenceAnnouncerOptions;
  readonly #coalesceMs: number;
  readonly #minIntervalMs: number;
  readonly #deltaAbove: number;
  /** What was last announced: name → rtt. */
  #announced = new Map<string, number | null>();
  /** Links that want presence and hold the set (a full one, then deltas), by link id. */
  readonly #informed = new Set<number>();
  /** Links that heard any announcement since they authenticated, by link id. */
  readonly #greeted = new Set<number>();
  #timer: TimerHandle | null = null;
  #lastFlush = -Infinity;
  #stopped = false;

  constructor(options: PresenceAnnouncerOptions) {
    this.#o = options;
    this.#coalesceMs = options.coalesceMs ?? 0;
    this.#minIntervalMs = options.minIntervalMs ?? 100;
    this.#deltaAbove = options.deltaAbove ?? 1000;
  }

  /** The set of neighbours changed (a link up, closed or dead): announce it soon. */
  changed(): void {
    this.#schedule(this.#coalesceMs);
  }

  /** A neighbour's round trip is now `ms`: announced (later) when it moved enough. */
  latency(name: string, ms: number | null): void {
    if (!this.#announced.has(name) || !moved(this.#announced.get(name) ?? null, ms)) return;
    // Round trips are an estimate: coalesce them over a second.
    this.#schedule(1000);
  }

  /** A link went down: it needs a full set again if it comes back. */
  forget(link: Link): void {
    this.#informed.delete(link.id);
    this.#greeted.delete(link.id);
  }

  /** Cancels the pending announcement; nothing is sent from now on. */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
  }

  #schedule(delayMs: number): void {
    if (this.#stopped || this.#timer !== null) return;
    const now = this.#o.clock.now();
    const wait = Math.max(delayMs, this.#lastFlush + this.#minIntervalMs - now);
    this.#timer = this.#o.clock.setTimeout(() => this.#flush(), wait);
  }

  #flush(): void {
    this.#timer = null;
    this.#lastFlush = this.#o.clock.now();
    const links = [...this.#o.links()].filter((l) => l.conn.isOpen);
    const wants = this.#o.wants ?? (() => true);
    const delta = links.length > this.#deltaAbove;
    // A hub of thousands of bare clients has nobody to tell: skip building the set.
    const anyone = links.some((l) => wants(l.peer) || (!delta && !this.#greeted.has(l.id)));
    if (!anyone) return;
    const current = new Map<string, number | null>();
    for (const l of links) current.set(l.peer, l.heartbeat.latencyMs);
    const entries: PresenceEntry[] = [...current].map(([name, rttMs]) => ({ name, rttMs }));
    let up: PresenceEntry[] = [];
    let down: string[] = [];
    if (delta) {
      up = entries.filter((e) =>
        !this.#announced.has(e.name) || moved(this.#announced.get(e.name) ?? null, e.rttMs)
      );
      down = [...this.#announced.keys()].filter((n) => !current.has(n));
    }
    for (const link of links) {
      let a: Announcement;
      if (!wants(link.peer)) {
        // §9: every neighbour hears the set right after it authenticates (so that
        // two nodes waiting for each other's first word still start), but only
        // one that announces itself gets the changes; with many neighbours, not
        // even the first set.
        this.#informed.delete(link.id);
        if (this.#greeted.has(link.id) || delta) continue;
        a = { full: true, nodes: entries.filter((e) => e.name !== link.peer) };
      } else if (!delta || !this.#informed.has(link.id)) {
        a = { full: true, nodes: entries.filter((e) => e.name !== link.peer) };
        this.#informed.add(link.id);
      } else {
        if (up.length === 0 && down.length === 0) continue;
        a = { full: false, up: up.filter((e) => e.name !== link.peer), down };
      }
      this.#greeted.add(link.id);
      const body = encodeJson({
        src: this.#o.name,
        dst: link.peer,
        topic: PRESENCE_TOPIC,
        data: announcementData(a),
      });
      this.#o.send(link, MsgType.Event, body);
    }
    this.#announced = current;
  }
}

/** Options of {@link PresenceService}. */
export interface PresenceServiceOptions extends PresenceAnnouncerOptions {
  /** Routes may have changed (an announcement applied, a relay's grace over). */
  readonly onChange: () => void;
}

/** Presence (§9) for one node: what it announces to its neighbours and what it hears from them. */
export class PresenceService {
  /** What each relay says it is connected to. */
  readonly book: PresenceBook;
  readonly #announcer: PresenceAnnouncer;
  readonly #clock: Clock;

  constructor(options: PresenceServiceOptions) {
    this.#clock = options.clock;
    this.book = new PresenceBook({ clock: options.clock, onGraceOver: options.onChange });
    this.#announcer = new PresenceAnnouncer({
      ...options,
      wants: options.wants ?? ((peer) => this.book.announces(peer)),
    });
  }

  /** A neighbour authenticated: announce the new set, and expect its own announcement. */
  linkUp(peer: string): void {
    this.book.relayUp(peer);
    this.#announcer.changed();
  }

  /** A link went down; `gone` when the neighbour has no link left (not a replacement). */
  linkDown(peer: string, link: Link, gone: boolean): void {
    this.#announcer.forget(link);
    this.#announcer.changed();
    if (gone) this.book.relayLost(peer, this.#clock.now());
  }

  /** A neighbour said it is shutting down: announce the set without it. */
  neighbourLeaving(): void {
    this.#announcer.changed();
  }

  /** A neighbour's round trip changed. */
  latency(peer: string, ms: number | null): void {
    this.#announcer.latency(peer, ms);
  }

  /** Applies a presence EVENT that arrived from neighbour `peer`; false when it is not one. */
  receive(peer: string, ev: EventMessage): boolean {
    const a = ev.src === peer ? decodeAnnouncement(ev.data) : null;
    if (a === null) return false;
    const first = !this.book.announces(peer);
    this.book.apply(peer, a, this.#clock.now());
    // A neighbour now known to want presence gets the full set (with many neighbours).
    if (first) this.#announcer.changed();
    return true;
  }

  /** Nothing is announced from now on; timers are cleared. */
  stop(): void {
    this.#announcer.stop();
    this.book.stop();
  }
}
