/**
 * The peer registry: one actor per [peer:NAME] section, plus one per node
 * that dialed in without a section (every node can act as a hub), which is
 * forgotten with its last link.
 */
import type { NodeConfig, PeerConfig } from "../config/types.ts";
import { type Link, Peer, type PeerHost } from "../peer/peer.ts";
import type { FrameConnection } from "../transport/connection.ts";

/** Options of {@link PeerRegistry}. */
export interface PeerRegistryOptions {
  readonly node: NodeConfig;
  readonly peers: readonly PeerConfig[];
  readonly host: PeerHost;
  /** Uniform [0,1) source for reconnect jitter. Default Math.random. */
  readonly random?: () => number;
}

/** Every known peer by name: configured ones in file order, then those that dialed in. */
export class PeerRegistry {
  readonly #o: PeerRegistryOptions;
  readonly #peers = new Map<string, Peer>();
  readonly configs = new Map<string, PeerConfig>();

  constructor(options: PeerRegistryOptions) {
    this.#o = options;
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

  /** All peers, in registry order. */
  all(): IterableIterator<Peer> {
    return this.#peers.values();
  }

  /** Names of known peers. */
  names(): string[] {
    return [...this.#peers.keys()];
  }

  /** The key a dialer calling itself `name` must prove: its section's, else federation_key. */
  keyFor(name: string): string {
    return this.configs.get(name)?.key ?? this.#o.node.federationKey;
  }

  /** Hands an authenticated inbound connection to its peer, creating one for an unknown node. */
  adoptInbound(name: string, conn: FrameConnection, remote: string, rttMs: number): void {
    let peer = this.#peers.get(name);
    if (!peer) {
      const node = this.#o.node;
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

  /** Stops every peer: links closed, dials and timers cancelled. */
  stopAll(): void {
    for (const p of this.#peers.values()) p.stop();
  }

  #newPeer(config: PeerConfig, configured: boolean): Peer {
    const node = this.#o.node;
    return new Peer({
      config,
      configured,
      host: this.#o.host,
      reconnectInitialMs: node.reconnectInitialMs,
      reconnectMaxMs: node.reconnectMaxMs,
      reconnectJitter: node.reconnectJitter,
      random: this.#o.random,
    });
  }
}
