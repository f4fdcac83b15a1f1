/**
 * The peer registry: one actor per [peer:NAME] section, plus one per node
 * that dialed in without a section (every node can act as a hub), which is
 * forgotten with its last link.
 */
import type { NodeConfig, PeerConfig } from "../config/types.ts";
import type { LogLimiter } from "../log/limiter.ts";
import type { Logger } from "../log/logger.ts";
import type { Clock } from "../util/clock.ts";
import { type Link, Peer, type PeerHost } from "../peer/peer.ts";
import type { FrameConnection } from "../transport/connection.ts";
import type { Admission } from "./authenticate.ts";

/** How long an older connection for a name has to prove it is alive (§3). */
export const NAME_PROBE_MS = 2000;

const ACCEPT: Admission = { kind: "accept" };

/** What happened to names claimed twice (shown by /node/status). */
export interface NameCounters {
  /** Newcomers refused with 409 because a live connection held their name. */
  conflicts: number;
  /** Older connections replaced because they did not answer the probe (half-open). */
  replaced: number;
}

/** What a reload did to the peers, by name. */
export interface ReloadedPeers {
  readonly added: string[];
  readonly removed: string[];
  /** Connection settings changed: a new link is dialed (or awaited). */
  readonly redialed: string[];
  /** Only hubs or pool sizes changed: the link stays. */
  readonly updated: string[];
}

/** Whether two sections of one peer differ in what its connection depends on. */
function connectionChanged(a: PeerConfig, b: PeerConfig): boolean {
  return a.host !== b.host || a.port !== b.port || a.autoConnect !== b.autoConnect ||
    a.key !== b.key || a.tlsServerName !== b.tlsServerName || a.tlsVerify !== b.tlsVerify;
}

function samePeer(a: PeerConfig, b: PeerConfig): boolean {
  return !connectionChanged(a, b) && a.workers === b.workers && a.queueLimit === b.queueLimit &&
    a.hubs.length === b.hubs.length && a.hubs.every((h, i) => h === b.hubs[i]);
}

/** Options of {@link PeerRegistry}. */
export interface PeerRegistryOptions {
  readonly node: NodeConfig;
  readonly peers: readonly PeerConfig[];
  /** What peers report to the federation, and how they dial. */
  readonly events: Pick<
    PeerHost,
    "connect" | "onFrame" | "onLinkUp" | "onLinkDown" | "onLatency" | "onStateChange"
  >;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Where duplicate-name errors go, limited per name. */
  readonly limiter: LogLimiter;
  /** Uniform [0,1) source for reconnect jitter. Default Math.random. */
  readonly random?: () => number;
}

/** Every known peer by name: configured ones in file order, then those that dialed in. */
export class PeerRegistry {
  readonly #o: PeerRegistryOptions;
  readonly #peers = new Map<string, Peer>();
  readonly configs = new Map<string, PeerConfig>();
  readonly names: NameCounters = { conflicts: 0, replaced: 0 };

  readonly #host: PeerHost;
  #nextLinkId = 1;

  #node: NodeConfig;

  constructor(options: PeerRegistryOptions) {
    this.#o = options;
    this.#node = options.node;
    const node = () => this.#node;
    this.#host = {
      ...options.events,
      localName: options.node.name,
      clock: options.clock,
      logger: options.logger,
      // Read at each new link, so a reload's heartbeat settings apply to new links.
      get pingIntervalMs() {
        return node().pingIntervalMs;
      },
      get pingMaxMissed() {
        return node().pingMaxMissed;
      },
      nextLinkId: () => this.#nextLinkId++,
    };
    for (const pc of options.peers) {
      this.configs.set(pc.name, pc);
      this.#peers.set(pc.name, this.#newPeer(pc, true));
    }
  }

  /** The peer actor for `name`, if known. */
  get(name: string): Peer | undefined {
    return this.#peers.get(name);
  }

  /** Whether `name` is a known peer. */
  has(name: string): boolean {
    return this.#peers.has(name);
  }

  /** The authenticated link to `name`, or null. */
  linkOf(name: string): Link | null {
    return this.#peers.get(name)?.link ?? null;
  }

  /** The authenticated links of every peer now (without those shutting down, with `leaving: false`). */
  *links(filter: { readonly leaving?: false } = {}): Iterable<Link> {
    for (const p of this.#peers.values()) {
      const l = p.link;
      if (l !== null && (filter.leaving === undefined || !p.leaving)) yield l;
    }
  }

  /** All peers, in registry order. */
  all(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** Names of known peers. */
  peerNames(): string[] {
    return [...this.#peers.keys()];
  }

  /** The key a dialer calling itself `name` must prove: its section's, else federation_key. */
  keyFor(name: string): string {
    return this.configs.get(name)?.key ?? this.#node.federationKey;
  }

  /**
   * §3: a dialer from `remote` proved the key for `name`. When a connection
   * dialed by that name is already up, it must answer a PING within 2 s to
   * keep the name (the newcomer gets 409); one that does not is half-open and
   * gets replaced. Links in opposite directions are left to the tie-break.
   */
  admit(name: string, remote: string): Admission | Promise<Admission> {
    const held = this.linkOf(name);
    if (held === null || held.direction !== "in") return ACCEPT;
    return held.heartbeat.probe(NAME_PROBE_MS).then((alive): Admission => {
      if (this.linkOf(name) !== held) return ACCEPT;
      if (!alive) {
        this.names.replaced++;
        this.#o.limiter.log(
          "warn",
          "half-open replaced",
          name,
          "replacing a connection that did not answer a ping",
          {
            peer: name,
            old: held.remote,
            new: remote,
          },
        );
        return ACCEPT;
      }
      this.names.conflicts++;
      this.#o.limiter.log(
        "error",
        "name in use",
        name,
        `two nodes use the name '${name}': refused the newcomer with 409 (a copied node.ini?)`,
        { peer: name, holder: held.remote, newcomer: remote },
        1,
      );
      return {
        kind: "refuse",
        code: "name_in_use",
        reason: `a live connection from ${held.remote} already holds the name '${name}'`,
      };
    });
  }

  /** Hands an authenticated inbound connection to its peer, creating one for an unknown node. */
  adoptInbound(name: string, conn: FrameConnection, remote: string, rttMs: number): void {
    let peer = this.#peers.get(name);
    if (!peer) {
      const node = this.#node;
      peer = this.#newPeer({
        name,
        host: null,
        port: 0,
        autoConnect: false,
        hubs: [],
        key: node.federationKey,
        workers: node.workers,
        queueLimit: node.queueLimit,
        tlsServerName: null,
        tlsVerify: true,
      }, false);
      this.#peers.set(name, peer);
    }
    peer.adopt(conn, "in", remote, rttMs);
  }

  /** Forgets a peer without a section once it has no link; true when it was forgotten. */
  forgetIfUnconfigured(peer: Peer): boolean {
    if (peer.configured || peer.link !== null || this.#peers.get(peer.name) !== peer) return false;
    this.#peers.delete(peer.name);
    peer.stop();
    return true;
  }

  /** Starts every auto_connect peer's dial-and-reconnect cycle, saying where each dials. */
  startAll(log: Logger): void {
    for (const p of this.#peers.values()) {
      if (p.dials) {
        log.info("dialing", { peer: p.name, address: `${p.config.host}:${p.config.port}` });
      }
      p.start();
    }
  }

  /**
   * A reload: peers added are created (and dial when they should), peers
   * removed are stopped, peers whose connection settings changed get a new
   * actor (their link alone is redialed), and the others take their new
   * section in place, link untouched.
   */
  reconfigure(node: NodeConfig, peers: readonly PeerConfig[]): ReloadedPeers {
    this.#node = node;
    const out: ReloadedPeers = { added: [], removed: [], redialed: [], updated: [] };
    const next = new Map(peers.map((p) => [p.name, p] as const));
    for (const name of [...this.configs.keys()]) {
      if (next.has(name)) continue;
      this.configs.delete(name);
      const gone = this.#peers.get(name);
      this.#peers.delete(name);
      gone?.stop("removed from the configuration");
      out.removed.push(name);
    }
    for (const config of peers) {
      const old = this.configs.get(config.name);
      const peer = this.#peers.get(config.name);
      this.configs.set(config.name, config);
      if (old === undefined && peer !== undefined) {
        // A node already dialed in without a section: it keeps its link and gets the section.
        peer.reconfigure(config);
        out.added.push(config.name);
        if (peer.link === null) peer.start();
      } else if (old === undefined || peer === undefined || connectionChanged(old, config)) {
        const fresh = this.#newPeer(config, true);
        this.#peers.set(config.name, fresh);
        peer?.stop("its [peer] section changed: redialing");
        (old === undefined ? out.added : out.redialed).push(config.name);
        fresh.start();
      } else if (!samePeer(old, config)) {
        peer.reconfigure(config);
        out.updated.push(config.name);
      }
    }
    return out;
  }

  /** Stops every peer: links closed, dials and timers cancelled. */
  stopAll(): void {
    for (const p of this.#peers.values()) p.stop();
  }

  #newPeer(config: PeerConfig, configured: boolean): Peer {
    const node = this.#node;
    return new Peer({
      config,
      configured,
      host: this.#host,
      reconnectInitialMs: node.reconnectInitialMs,
      reconnectMaxMs: node.reconnectMaxMs,
      reconnectJitter: node.reconnectJitter,
      random: this.#o.random,
    });
  }
}
