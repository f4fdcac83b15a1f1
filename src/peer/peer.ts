/**
 * The per-peer actor: one object per known or connected peer. It owns the
 * peer's authenticated link, its heartbeat and its reconnect schedule, and
 * holds one explicit state changed only in `#enter`. (Worker pools belong to
 * origins, not neighbours: see federation/pools.ts.)
 */
import type { PeerConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import { type CloseReason, describeClose, type FrameConnection } from "../transport/connection.ts";
import { errorText } from "../util/errors.ts";
import { formatDuration } from "../util/format.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { type Frame, MsgType } from "../wire/mod.ts";
import { checkPingBody } from "../wire/bodies.ts";
import { Backoff } from "./backoff.ts";
import { Heartbeat } from "./heartbeat.ts";

/** PINGs of all links go out on multiples of this (when ping_interval is 1 s or more). */
const PING_SLOT_MS = 100;

/** Which side dialed a link. */
export type Direction = "in" | "out";

/** Messages (REQUEST, RESPONSE, EVENT) exchanged with one peer since its actor was made (metrics). */
export interface PeerTraffic {
  /** Arrived on its links. */
  received: number;
  /** Written to its links, relayed ones included. */
  sent: number;
  /** Of those sent, the ones relayed for other nodes. */
  relayed: number;
  /** Refused by its link (closed, or a slow consumer). */
  dropped: number;
}

/** An authenticated connection to a peer. */
export interface Link {
  readonly id: number;
  readonly peer: string;
  readonly conn: FrameConnection;
  readonly direction: Direction;
  readonly remote: string;
  readonly heartbeat: Heartbeat;
  /** The peer's traffic counters, counted by whoever sends or receives on this link. */
  readonly traffic: PeerTraffic;
  /** When it authenticated, on the host's clock. */
  readonly since: number;
}

/** The peer's connection state (issue: one explicit state, logged on change). */
export type PeerState =
  | { readonly kind: "disconnected" }
  | { readonly kind: "connecting"; readonly abort: AbortController }
  | { readonly kind: "authenticating"; readonly abort: AbortController }
  | { readonly kind: "connected"; readonly link: Link }
  | { readonly kind: "backoff"; readonly waitMs: number; readonly timer: TimerHandle };

/** An authenticated outbound connection, as produced by the federation's connector. */
export interface Connected {
  readonly conn: FrameConnection;
  readonly remote: string;
  /** Round trip measured during the handshake: the latency shown until the first PONG. */
  readonly rttMs?: number;
}

/** What the actor needs from the federation around it. */
export interface PeerHost {
  readonly localName: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly pingIntervalMs: number;
  readonly pingMaxMissed: number;
  /** A fresh link id, unique within this node (ids tie requests to the link they left on). */
  nextLinkId(): number;
  /**
   * Dials and authenticates, reporting progress so the state can say
   * `authenticating`. `onAuthenticated` runs synchronously inside the frame
   * that completed the handshake, so no later frame can arrive before the
   * link has its handlers.
   */
  connect(
    peer: PeerConfig,
    signal: AbortSignal,
    onTcpUp: () => void,
    onAuthenticated: (c: Connected) => void,
  ): Promise<void>;
  /** A REQUEST, RESPONSE or EVENT frame arrived on the peer's link. */
  onFrame(peer: Peer, link: Link, frame: Frame): void;
  /** A link went up (after the tie-break kept it). */
  onLinkUp(peer: Peer, link: Link): void;
  /** A link that was the peer's current link went down. */
  onLinkDown(peer: Peer, link: Link, reason: string): void;
  /** A PONG gave the link a new round trip. */
  onLatency?(peer: Peer, link: Link, ms: number): void;
  /** The peer's state changed (after the change). */
  onStateChange?(peer: Peer): void;
}

/** Options of {@link Peer}. */
export interface PeerOptions {
  readonly config: PeerConfig;
  /** False for a node that dialed in without a [peer:NAME] section here. */
  readonly configured: boolean;
  readonly host: PeerHost;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly reconnectJitter: number;
  readonly random?: () => number;
}

/** One peer: its link, heartbeat and reconnect schedule. */
export class Peer {
  #config: PeerConfig;
  #configured: boolean;
  readonly #host: PeerHost;
  readonly #backoff: Backoff;
  readonly #log: Logger;
  #state: PeerState = { kind: "disconnected" };
  /** The link the peer said it is closing, until it closes. */
  #leaving: Link | null = null;
  #stopped = false;
  /** Dials in flight, including one that outlived its state (an inbound link won meanwhile). */
  readonly #dials = new Set<AbortController>();
  /** Messages exchanged with this peer. */
  readonly traffic: PeerTraffic = { received: 0, sent: 0, relayed: 0, dropped: 0 };
  #linksUp = 0;

  constructor(options: PeerOptions) {
    this.#config = options.config;
    this.#configured = options.configured;
    this.#host = options.host;
    this.#log = options.host.logger.with({ peer: options.config.name });
    this.#backoff = new Backoff({
      initialMs: options.reconnectInitialMs,
      maxMs: options.reconnectMaxMs,
      jitter: options.reconnectJitter,
      random: options.random,
    });
  }

  /** Its [peer:NAME] section (or the defaults of a node without one). */
  get config(): PeerConfig {
    return this.#config;
  }

  /** False for a node that dialed in without a [peer:NAME] section here. */
  get configured(): boolean {
    return this.#configured;
  }

  /**
   * Takes a new section for this peer without touching its link (a reload
   * that changed only what does not concern the connection: hubs, pool sizes).
   */
  reconfigure(config: PeerConfig): void {
    if (config.name !== this.name) throw new Error(`reconfigure ${this.name} as ${config.name}`);
    this.#config = config;
    this.#configured = true;
  }

  get name(): string {
    return this.#config.name;
  }

  get state(): PeerState {
    return this.#state;
  }

  /** Links that became this peer's current link (the first connection and each reconnect). */
  get linksUp(): number {
    return this.#linksUp;
  }

  /** The current authenticated link, or null. */
  get link(): Link | null {
    return this.#state.kind === "connected" ? this.#state.link : null;
  }

  /** Whether the peer said its current link is closing (it is shutting down). */
  get leaving(): boolean {
    return this.#leaving !== null && this.#leaving === this.link;
  }

  /**
   * The peer announced it is shutting down: its link carries what is in
   * flight, nothing new; its close is then no surprise.
   */
  markLeaving(): void {
    const link = this.link;
    if (link === null || this.#leaving === link) return;
    this.#leaving = link;
    this.#log.info(`peer ${this.name} is shutting down`, { remote: link.remote });
  }

  /** True when this actor dials on its own (auto_connect with a host). */
  get dials(): boolean {
    return this.#config.autoConnect && this.#config.host !== null;
  }

  /** Begins dialing when the peer is an auto_connect dialer. */
  start(): void {
    if (this.dials && this.#state.kind === "disconnected") this.#dial();
  }

  /** Closes the link (reported down, for good), cancels dials and timers. */
  stop(why = "node stopping"): void {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const d of this.#dials) d.abort();
    this.#dials.clear();
    const s = this.#state;
    this.#enter({ kind: "disconnected" }, why);
    if (s.kind === "connected") {
      s.link.heartbeat.stop();
      s.link.conn.close({ kind: "local", why });
      this.#host.onLinkDown(this, s.link, why);
    }
  }

  /**
   * Takes an authenticated connection. With a link already up, PORTAL02.md §3
   * decides: opposite directions keep the link dialed by the name sorting
   * first; the same direction keeps the newer.
   */
  adopt(conn: FrameConnection, direction: Direction, remote: string, rttMs?: number): boolean {
    if (this.#stopped) {
      conn.close({ kind: "local", why: "node stopping" });
      return false;
    }
    const current = this.#state.kind === "connected" ? this.#state.link : null;
    if (current !== null && current.direction !== direction) {
      const dialedByFirst: Direction = this.#host.localName < this.name ? "out" : "in";
      if (current.direction === dialedByFirst) {
        this.#log.info("duplicate connection closed (cross-dial tie-break)", {
          kept: current.direction,
          remote,
        });
        conn.close({ kind: "local", why: "duplicate connection (cross-dial tie-break)" });
        return false;
      }
    }
    const link = this.#makeLink(conn, direction, remote);
    if (rttMs !== undefined) link.heartbeat.seed(rttMs);
    if (current !== null) {
      this.#log.info("connection replaced", { old: current.direction, new: direction });
      current.heartbeat.stop();
      this.#enter({ kind: "connected", link }, `authenticated (${direction}, ${remote})`);
      current.conn.close({ kind: "local", why: "replaced by a newer connection" });
      this.#host.onLinkDown(this, current, "replaced by a newer connection");
    } else {
      // A dial of ours still in flight goes on: if it authenticates, the
      // tie-break above settles it the same way on both sides.
      this.#enter({ kind: "connected", link }, `authenticated (${direction}, ${remote})`);
    }
    this.#linksUp++;
    this.#backoff.reset();
    link.heartbeat.start();
    this.#host.onLinkUp(this, link);
    return true;
  }

  #makeLink(conn: FrameConnection, direction: Direction, remote: string): Link {
    const heartbeat = new Heartbeat({
      clock: this.#host.clock,
      intervalMs: this.#host.pingIntervalMs,
      maxMissed: this.#host.pingMaxMissed,
      // Links' PINGs in 100 ms slots: one wake-up per slot on a hub of thousands.
      slotMs: this.#host.pingIntervalMs >= 1000 ? PING_SLOT_MS : 0,
      sendPing: (body) => conn.send(MsgType.Ping, body),
      onDead: (missed) =>
        conn.close({ kind: "local", why: `dead peer: ${missed} pings without a pong` }),
      onLatency: (ms) => this.#host.onLatency?.(this, link, ms),
    });
    const id = this.#host.nextLinkId();
    const link: Link = {
      id,
      peer: this.name,
      conn,
      direction,
      remote,
      heartbeat,
      traffic: this.traffic,
      since: this.#host.clock.now(),
    };
    conn.setHandlers({
      onFrame: (frame) => this.#onFrame(link, frame),
      onClose: (reason) => this.#onClose(link, reason),
    });
    return link;
  }

  #onFrame(link: Link, frame: Frame): void {
    switch (frame.type) {
      case MsgType.Ping:
        link.conn.send(MsgType.Pong, checkPingBody(frame.body));
        link.heartbeat.peerPinged();
        return;
      case MsgType.Pong:
        link.heartbeat.pong(checkPingBody(frame.body));
        return;
      case MsgType.AuthChallenge:
      case MsgType.AuthResponse:
        link.conn.close({ kind: "local", why: "authentication frame after authentication" });
        return;
      default:
        this.traffic.received++;
        this.#host.onFrame(this, link, frame);
    }
  }

  #onClose(link: Link, reason: CloseReason): void {
    link.heartbeat.stop();
    if (this.#state.kind !== "connected" || this.#state.link !== link) return;
    const announced = this.#leaving === link && reason.kind === "eof";
    this.#leaving = null;
    const why = announced ? "shut down" : describeClose(reason);
    const fields = { reason: why, direction: link.direction, remote: link.remote };
    // A close the peer announced is routine; any other is worth a warning.
    if (announced) this.#log.info("disconnected", fields);
    else this.#log.warn("disconnected", fields);
    this.#enter({ kind: "disconnected" }, why);
    this.#host.onLinkDown(this, link, why);
    if (!this.#stopped && this.dials) this.#scheduleRetry();
  }

  #dial(): void {
    const abort = new AbortController();
    this.#dials.add(abort);
    this.#enter({ kind: "connecting", abort }, `dialing ${this.#config.host}:${this.#config.port}`);
    const onTcpUp = () => {
      if (this.#state.kind === "connecting" && this.#state.abort === abort) {
        this.#enter({ kind: "authenticating", abort }, "TCP/TLS up, authenticating");
      }
    };
    const onAuthenticated = ({ conn, remote, rttMs }: Connected) => {
      if (abort.signal.aborted || this.#stopped) {
        conn.close({ kind: "local", why: "dial no longer wanted" });
        return;
      }
      this.adopt(conn, "out", remote, rttMs);
    };
    this.#host.connect(this.config, abort.signal, onTcpUp, onAuthenticated).then(
      () => this.#dials.delete(abort),
      (e) => {
        this.#dials.delete(abort);
        if (abort.signal.aborted || this.#stopped) return;
        this.#log.warn("connection attempt failed", { reason: errorText(e) });
        // Only the dial the state is waiting on schedules the next one.
        const s = this.#state;
        if ((s.kind === "connecting" || s.kind === "authenticating") && s.abort === abort) {
          this.#scheduleRetry();
        }
      },
    );
  }

  #scheduleRetry(): void {
    const waitMs = this.#backoff.next();
    const timer = this.#host.clock.setTimeout(() => {
      if (this.#state.kind === "backoff" && this.#state.timer === timer) this.#dial();
    }, waitMs);
    this.#enter({ kind: "backoff", waitMs, timer }, `next retry in ${formatDuration(waitMs)}`);
  }

  /** The one place the state changes; every change is logged. */
  #enter(next: PeerState, why: string): void {
    const prev = this.#state;
    if (prev.kind === "backoff") this.#host.clock.clear(prev.timer);
    this.#state = next;
    if (prev.kind !== next.kind || next.kind === "connected") {
      this.#log.info(`peer ${this.name}: ${prev.kind} -> ${next.kind}`, { why });
      this.#host.onStateChange?.(this);
    }
  }
}
