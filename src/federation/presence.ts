/**
 * Presence through a hub (PORTAL02.md §9), the receiving side: the latest set
 * of nodes each relay says it is connected to, and since when a node has been
 * missing from them. A relay that never sent presence is an older relay: for
 * it, §5's rules hold unchanged.
 */
import { isValidNodeName } from "../auth/primitives.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import type { JsonObject } from "../wire/messages.ts";

/** The EVENT topic of presence announcements. */
export const PRESENCE_TOPIC = "presence";

/**
 * The EVENT topic a node sends each neighbour when it shuts down gracefully:
 * the link then carries only what is in flight, and closes soon.
 */
export const LEAVING_TOPIC = "leaving";

/** Entries accepted in one announcement; more is not a relay speaking but a flood. */
export const MAX_PRESENCE_ENTRIES = 100_000;

/** One node a relay lists, with the round trip the relay measured to it. */
export interface PresenceEntry {
  readonly name: string;
  readonly rttMs: number | null;
}

/** A decoded announcement: the whole set, or the changes since the previous one. */
export type Announcement =
  | { readonly full: true; readonly nodes: readonly PresenceEntry[] }
  | {
    readonly full: false;
    readonly up: readonly PresenceEntry[];
    readonly down: readonly string[];
  };

/** Reads an announcement's `data`; null when it is not one (dropped and counted by the caller). */
export function decodeAnnouncement(data: unknown): Announcement | null {
  if (typeof data !== "object" || data === null || Array.isArray(data)) return null;
  const d = data as JsonObject;
  if (d.full === true) {
    const nodes = entries(d.nodes);
    return nodes === null ? null : { full: true, nodes };
  }
  if (d.full === false) {
    const up = d.up === undefined ? [] : entries(d.up);
    const down = d.down === undefined ? [] : names(d.down);
    return up === null || down === null ? null : { full: false, up, down };
  }
  return null;
}

function entries(v: unknown): PresenceEntry[] | null {
  if (!Array.isArray(v) || v.length > MAX_PRESENCE_ENTRIES) return null;
  const out: PresenceEntry[] = [];
  for (const e of v) {
    if (typeof e !== "object" || e === null) return null;
    const { name, rtt_ms } = e as JsonObject;
    if (typeof name !== "string" || !isValidNodeName(name)) return null;
    const rtt = typeof rtt_ms === "number" && Number.isFinite(rtt_ms) && rtt_ms >= 0
      ? rtt_ms
      : null;
    out.push({ name, rttMs: rtt });
  }
  return out;
}

function names(v: unknown): string[] | null {
  if (!Array.isArray(v) || v.length > MAX_PRESENCE_ENTRIES) return null;
  return v.every((n) => typeof n === "string" && isValidNodeName(n)) ? v as string[] : null;
}

/** Encodes the `data` of an announcement (rtt rounded to 0.1 ms). */
export function announcementData(a: Announcement): JsonObject {
  const entry = (e: PresenceEntry) => ({
    name: e.name,
    rtt_ms: e.rttMs === null ? null : Math.round(e.rttMs * 10) / 10,
  });
  return a.full
    ? { full: true, nodes: a.nodes.map(entry) }
    : { full: false, up: a.up.map(entry), down: [...a.down] };
}

/** Options of {@link PresenceBook}. */
export interface PresenceBookOptions {
  readonly clock: Clock;
  /**
   * How long a relay not yet known to announce may take to announce after its
   * link comes up before it counts as an older relay. Default 1 s.
   */
  readonly graceMs?: number;
  /** Called when a grace ends without an announcement (routes may change). */
  readonly onGraceOver?: () => void;
  /** Bound of the "gone since" memory. Default 4096. */
  readonly maxGone?: number;
}

/** What this node knows of each relay's neighbours. */
export class PresenceBook {
  readonly #clock: Clock;
  readonly #graceMs: number;
  readonly #onGraceOver: () => void;
  /** Relays whose first announcement is awaited: routes through them wait for it (or the grace). */
  readonly #awaited = new Map<string, TimerHandle>();
  /** Relay → its current set; present only while that relay's link is up and it announced. */
  readonly #sets = new Map<string, Map<string, number | null>>();
  /** Relays that have ever announced: until they announce again on a new link, they list nobody. */
  readonly #capable = new Set<string>();
  /** Node → clock time at which the last relay listing it stopped doing so. */
  readonly #goneSince = new Map<string, number>();
  readonly #maxGone: number;

  constructor(options: PresenceBookOptions) {
    this.#clock = options.clock;
    this.#graceMs = options.graceMs ?? 1000;
    this.#onGraceOver = options.onGraceOver ?? (() => {});
    this.#maxGone = options.maxGone ?? 4096;
  }

  /**
   * A relay's link came up. One never heard announcing gets a short grace to
   * do so (§9: right after authentication) before it counts as an older
   * relay, so that `node peers` does not claim a node through it meanwhile.
   */
  relayUp(relay: string): void {
    if (this.#capable.has(relay) || this.#awaited.has(relay)) return;
    this.#awaited.set(
      relay,
      this.#clock.setTimeout(() => {
        this.#awaited.delete(relay);
        this.#onGraceOver();
      }, this.#graceMs),
    );
  }

  /** Cancels every grace timer (node stopping). */
  stop(): void {
    for (const t of this.#awaited.values()) this.#clock.clear(t);
    this.#awaited.clear();
  }

  /** Applies an announcement from `relay` at clock time `now`. */
  apply(relay: string, a: Announcement, now: number): void {
    this.#capable.add(relay);
    const awaited = this.#awaited.get(relay);
    if (awaited !== undefined) this.#clock.clear(awaited);
    this.#awaited.delete(relay);
    let set = this.#sets.get(relay);
    if (!set) this.#sets.set(relay, set = new Map());
    if (a.full) {
      const next = new Map(a.nodes.map((e) => [e.name, e.rttMs] as const));
      this.#sets.set(relay, next);
      for (const name of set.keys()) if (!next.has(name)) this.#gone(name, now);
      for (const name of next.keys()) this.#goneSince.delete(name);
      return;
    }
    for (const name of a.down) {
      if (set.delete(name)) this.#gone(name, now);
    }
    for (const e of a.up) {
      set.set(e.name, e.rttMs);
      this.#goneSince.delete(e.name);
    }
  }

  /** The relay's link went down: what it listed is unknown, and gone from here, from `now`. */
  relayLost(relay: string, now: number): void {
    const awaited = this.#awaited.get(relay);
    if (awaited !== undefined) this.#clock.clear(awaited);
    this.#awaited.delete(relay);
    const set = this.#sets.get(relay);
    if (!set) return;
    this.#sets.delete(relay);
    for (const name of set.keys()) this.#gone(name, now);
  }

  /** Whether `relay` has ever sent presence (an older relay never has). */
  announces(relay: string): boolean {
    return this.#capable.has(relay);
  }

  /** Whether `relay`'s first announcement is still awaited. */
  awaiting(relay: string): boolean {
    return this.#awaited.has(relay);
  }

  /**
   * Whether a route for `node` through `relay` is worth taking: always for an
   * older relay; for one that announces, only while it lists `node`.
   */
  allows(relay: string, node: string): boolean {
    if (!this.#capable.has(relay)) return !this.#awaited.has(relay);
    return this.#sets.get(relay)?.has(node) ?? false;
  }

  /** The relay's round trip to `node`, or null when unknown. */
  rtt(relay: string, node: string): number | null {
    return this.#sets.get(relay)?.get(node) ?? null;
  }

  /** Clock time since which no relay lists `node`, or null when unknown. */
  goneSince(node: string): number | null {
    return this.#goneSince.get(node) ?? null;
  }

  #gone(name: string, now: number): void {
    for (const set of this.#sets.values()) if (set.has(name)) return;
    this.#goneSince.delete(name);
    this.#goneSince.set(name, now);
    if (this.#goneSince.size > this.#maxGone) {
      this.#goneSince.delete(this.#goneSince.keys().next().value as string);
    }
  }
}
