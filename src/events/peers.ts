/** Peer up/down and presence as events: `/node/peers/<name>` with the peer's row of /node/peers. */

/** What this needs of the federation: its change notifications and its peer rows. */
export interface PeerViewSource {
  watch(fn: () => void): () => void;
  peerViews(): readonly {
    readonly name: string;
    readonly status: string;
    readonly via: string | null;
  }[];
}

/**
 * Publishes a peer's row whenever its status or route changes (latency
 * alone is not a change); returns the function that stops watching.
 */
export function publishPeerChanges(
  source: PeerViewSource,
  publish: (topic: string, data: unknown) => void,
): () => void {
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
  return source.watch(check);
}
