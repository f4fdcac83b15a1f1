/** Peer up/down and presence as events: `/node/peers/<name>` with the peer's row of /node/peers. */
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";

/** What this needs of the federation: its change notifications and its peer rows. */
export interface PeerViewSource {
  watch(fn: () => void): () => void;
  peerViews(): readonly {
    readonly name: string;
    readonly status: string;
    readonly via: string | null;
  }[];
}

/** Options of {@link publishPeerChanges}. */
export interface PeerChangeOptions {
  /** Changes within this window are compared once. Default 50 ms. */
  readonly coalesceMs?: number;
  /** Default the system clock. */
  readonly clock?: Clock;
}

/**
 * Publishes a peer's row whenever its status or route changes (latency
 * alone is not a change); returns the function that stops watching.
 * Comparing every row is linear in the peers, so changes are coalesced: a hub
 * that 10,000 sites join compares its rows a few times, not once per join.
 */
export function publishPeerChanges(
  source: PeerViewSource,
  publish: (topic: string, data: unknown) => void,
  options: PeerChangeOptions = {},
): () => void {
  const clock = options.clock ?? systemClock;
  const coalesceMs = options.coalesceMs ?? 50;
  let timer: TimerHandle | null = null;
  const last = new Map<string, string>();
  const check = () => {
    const seen = new Set<string>();
    for (const v of source.peerViews()) {
      seen.add(v.name);
      const key = `${v.status}\u0000${v.via}`;
      if (last.get(v.name) === key) continue;
      last.set(v.name, key);
      publish(`/node/peers/${encodeURIComponent(v.name)}`, v);
    }
    for (const name of [...last.keys()]) {
      if (seen.has(name)) continue;
      last.delete(name);
      publish(`/node/peers/${encodeURIComponent(name)}`, {
        name,
        status: "disconnected",
        via: null,
      });
    }
  };
  check();
  const unwatch = source.watch(() => {
    timer ??= clock.setTimeout(() => {
      timer = null;
      check();
    }, coalesceMs);
  });
  return () => {
    unwatch();
    if (timer !== null) clock.clear(timer);
    timer = null;
  };
}
