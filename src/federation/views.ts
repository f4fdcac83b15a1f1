/** What `/node/peers` and `/node/status` show (PATHS.md), computed from peers and routes. */
import type { Logger } from "../log/logger.ts";
import type { Peer } from "../peer/peer.ts";
import type { NameCounters } from "./registry.ts";
import type { RouteTable } from "./route_table.ts";

/** Message counters shown by /node/status. */
export interface Counters {
  sent: number;
  received: number;
  relayed: number;
  dropped: number;
}

/** A peer as /node/peers shows it (PATHS.md). */
export interface PeerView {
  readonly name: string;
  readonly host: string | null;
  readonly port: number | null;
  readonly status: "connected" | "connecting" | "disconnected" | "via-hub";
  readonly latency_ms: number | null;
  readonly via: string | null;
  readonly direction: "in" | "out" | null;
}

/** The federation part of /node/status (uptime is added by the path). */
export interface FederationStatus {
  readonly peers_connected: number;
  readonly peers_disconnected: number;
  readonly messages_sent: number;
  readonly messages_received: number;
  readonly messages_relayed: number;
  readonly messages_dropped: number;
  /** Newcomers refused with 409: their name was held by a live connection (§3). */
  readonly name_conflicts: number;
  /** Half-open connections replaced by a newcomer with the same name. */
  readonly links_replaced: number;
}

/** One peer's row of /node/peers. */
export function peerView(p: Peer, routes: RouteTable): PeerView {
  const base = { name: p.name, host: p.config.host, port: p.config.host ? p.config.port : null };
  const s = p.state;
  if (s.kind === "connected" && !p.leaving) {
    return {
      ...base,
      status: "connected",
      latency_ms: roundMs(s.link.heartbeat.latencyMs),
      via: null,
      direction: s.link.direction,
    };
  }
  const via = routes.indirect(p.name);
  if (via !== null) {
    return {
      ...base,
      status: "via-hub",
      latency_ms: roundMs(routes.latency(p.name)),
      via,
      direction: null,
    };
  }
  const status = s.kind === "connecting" || s.kind === "authenticating"
    ? "connecting"
    : "disconnected";
  return { ...base, status, latency_ms: null, via: null, direction: null };
}

/** /node/status from the peer rows and the counters. */
export function federationStatus(
  views: readonly PeerView[],
  c: Counters,
  names: NameCounters,
): FederationStatus {
  const up = views.filter((v) => v.status === "connected" || v.status === "via-hub").length;
  return {
    peers_connected: up,
    peers_disconnected: views.length - up,
    messages_sent: c.sent,
    messages_received: c.received,
    messages_relayed: c.relayed,
    messages_dropped: c.dropped,
    name_conflicts: names.conflicts,
    links_replaced: names.replaced,
  };
}

function roundMs(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}

/**
 * Logs when a configured peer that is reached through a hub becomes
 * reachable or unreachable that way (§9), so an operator reading the journal
 * sees what `node peers` shows.
 */
export class HubReachabilityLog {
  readonly #last = new Map<string, string | null>();

  constructor(
    public peers: readonly { readonly name: string; readonly hubs: readonly string[] }[],
    readonly routes: RouteTable,
    readonly log: Logger,
  ) {}

  /** Compares each hub-reached peer's route with the last one logged. */
  check(isDirect: (name: string) => boolean): void {
    for (const p of this.peers) {
      if (p.hubs.length === 0) continue;
      const via = isDirect(p.name) ? null : this.routes.indirect(p.name);
      const before = this.#last.get(p.name) ?? null;
      if (via === before) continue;
      this.#last.set(p.name, via);
      if (via !== null) this.log.info(`${p.name} is reachable via ${via}`, { peer: p.name, via });
      else if (!isDirect(p.name)) {
        this.log.warn(`${p.name} is not reachable: ${this.routes.unreachableReason(p.name)}`, {
          peer: p.name,
        });
      }
    }
  }
}
