/**
 * Links before they belong to a peer: the listener's accept loop, dials with
 * their time bound, and every connection still handshaking (PORTAL02.md §3),
 * so that a stopping node closes all of them. The handshake itself runs in
 * authenticate.ts; an authenticated connection is handed to its owner
 * synchronously, inside the frame that completed it.
 */
import type { NodeConfig, PeerConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { Connected } from "../peer/peer.ts";
import { FrameConnection } from "../transport/connection.ts";
import { isOutOfDescriptors } from "../transport/accept.ts";
import { DEFAULT_PER_SOURCE, DEFAULT_TOTAL, FairGate, sourceOf } from "../transport/gate.ts";
import type { Dialer, Listener, RawConn } from "../transport/types.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { formatDuration } from "../util/format.ts";
import {
  type Admission,
  type AuthContext,
  authenticateInbound,
  authenticateOutbound,
} from "./authenticate.ts";
import { hostPortText } from "../util/host.ts";

/** Longest a TCP connect plus TLS handshake may take before the attempt counts as failed. */
export const DIAL_TIMEOUT_MS = 10_000;

/**
 * Bounds on accepted connections still authenticating: per source address
 * (IPv4, or IPv6 /64) and in all. Beyond them the newest of the address
 * holding the most gives way (see transport/gate.ts): a flood from some
 * addresses never locks out a peer dialing from another.
 */
export const MAX_HANDSHAKES_PER_SOURCE = DEFAULT_PER_SOURCE;
export const MAX_HANDSHAKES = DEFAULT_TOTAL;

/** First pause of the accept loop when the process is out of file descriptors; doubles to 1 s. */
const ACCEPT_PAUSE_MS = 50;

/** Options of {@link LinkManager}. */
export interface LinkManagerOptions {
  readonly node: NodeConfig;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly dialer: Dialer;
  /** Opens the listener; null for a dial-only node. */
  readonly listen: (() => Listener | Promise<Listener>) | null;
  /** Bytes queued to one peer before it is closed as a slow consumer. Default 8 MiB. */
  readonly maxOutboundBytes?: number;
  /** The key a dialer calling itself `peer` must prove. */
  readonly keyFor: (peer: string) => string;
  /** Decides about a dialer that proved its key (a live holder of its name: 409). */
  readonly admit: (peer: string, remote: string) => Admission | Promise<Admission>;
  /** §11: a dialer's name must be one its verified client certificate names. Default false. */
  readonly requireCertificateName?: boolean;
  /** An inbound connection authenticated as `peer`; it must be adopted or closed now. */
  readonly onInbound: (peer: string, conn: FrameConnection, remote: string, rttMs: number) => void;
  /** A connection closed (authenticated or not). */
  readonly onClosed: () => void;
}

/** The listener, the dials and every open connection of a node. */
export class LinkManager {
  readonly #o: LinkManagerOptions;
  readonly #log: Logger;
  readonly #handshaking = new Set<FrameConnection>();
  /** Inbound connections between accept and verdict, by source address. */
  readonly #inbound = new FairGate<RawConn>({
    perSource: MAX_HANDSHAKES_PER_SOURCE,
    total: MAX_HANDSHAKES,
  });
  readonly #all = new Set<FrameConnection>();
  #listener: Listener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #stopping = false;
  /** Inbound connections turned away before authentication, by reason (metrics). */
  readonly refused = new Map<string, number>();
  /** A pause of the accept loop (out of descriptors), ended early by stop(). */
  #pause: { timer: TimerHandle; resume: () => void } | null = null;

  constructor(options: LinkManagerOptions) {
    this.#o = options;
    this.#log = options.logger;
  }

  /** The address the listener is bound to, or null. */
  get listenAddr(): { hostname: string; port: number } | null {
    return this.#listener?.addr ?? null;
  }

  /** Open connections, authenticated or not. */
  get connectionCount(): number {
    return this.#all.size;
  }

  /** Connections between accept/dial and their verdict. */
  get handshakeCount(): number {
    return this.#handshaking.size;
  }

  /**
   * Opens the listener (nothing for a dial-only node). A synchronous listener
   * is bound before this returns; errors of one are thrown here.
   */
  listen(): Promise<void> {
    if (!this.#o.listen || this.#listener !== null) return Promise.resolve();
    const opened = this.#o.listen();
    if (opened instanceof Promise) return opened.then((l) => this.#acceptOn(l));
    this.#acceptOn(opened);
    return Promise.resolve();
  }

  /** Stops accepting and closes every connection, authenticated or not. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#listener?.close();
    if (this.#pause !== null) {
      this.#o.clock.clear(this.#pause.timer);
      this.#pause.resume();
      this.#pause = null;
    }
    const conns = [...this.#all];
    for (const c of conns) c.close({ kind: "local", why: "node stopping" });
    await Promise.allSettled(conns.map((c) => c.closed()));
    await this.#acceptLoop;
  }

  /** Dialer side of §3 (a peer actor's `connect`): dial within DIAL_TIMEOUT_MS, then authenticate. */
  connect(
    peer: PeerConfig,
    signal: AbortSignal,
    onTcpUp: () => void,
    onAuthenticated: (c: Connected) => void,
  ): Promise<void> {
    const clock = this.#o.clock;
    // A firewall that drops packets would hold a connect for minutes: bound it.
    const dial = new AbortController();
    const onOuter = () => dial.abort();
    signal.addEventListener("abort", onOuter, { once: true });
    const dialTimer = clock.setTimeout(() => dial.abort(), DIAL_TIMEOUT_MS);
    const dialed = this.#o.dialer(peer, dial.signal).catch((e) => {
      if (dial.signal.aborted && !signal.aborted) {
        throw new Error(
          `cannot connect to ${peer.host}:${peer.port}: no answer within ` +
            formatDuration(DIAL_TIMEOUT_MS),
        );
      }
      throw e;
    }).finally(() => {
      clock.clear(dialTimer);
      signal.removeEventListener("abort", onOuter);
    });
    return dialed.then((raw) => {
      if (signal.aborted || this.#stopping) {
        raw.conn.close();
        throw new Error("dial cancelled");
      }
      onTcpUp();
      const conn = this.#track(raw);
      this.#handshaking.add(conn);
      return authenticateOutbound(conn, raw.remote, peer, this.#auth(), signal, onAuthenticated)
        .finally(() => this.#handshaking.delete(conn));
    });
  }

  #acceptOn(listener: Listener): void {
    if (this.#stopping) {
      listener.close();
      return;
    }
    this.#listener = listener;
    const a = listener.addr;
    this.#log.info("listening", {
      address: hostPortText(a.hostname, a.port),
      tls: this.#o.node.tls,
    });
    this.#acceptLoop = this.#accept(listener);
  }

  async #accept(listener: Listener): Promise<void> {
    let pauseMs = ACCEPT_PAUSE_MS;
    for (;;) {
      let raw: RawConn;
      try {
        raw = await listener.accept();
        pauseMs = ACCEPT_PAUSE_MS;
      } catch (e) {
        if (this.#stopping) return;
        if (isOutOfDescriptors(e)) {
          // Connections wait in the kernel's queue meanwhile; accept again once some close.
          this.#log.error("federation listener out of file descriptors", {
            reason: errorText(e),
            action: `accepting pauses ${pauseMs} ms and resumes by itself`,
          });
          await this.#sleep(pauseMs);
          pauseMs = Math.min(pauseMs * 2, 1000);
          continue;
        }
        this.#log.error("listener stopped", { reason: errorText(e) });
        return;
      }
      if (this.#stopping) {
        raw.conn.close();
        return;
      }
      const source = sourceOf(raw.remote);
      const verdict = this.#inbound.admit(source, raw);
      if (verdict.kind === "refused") {
        // Unauthenticated connections cost buffers; a flood must not exhaust memory.
        this.#refuse("handshakes_full");
        this.#log.warn("connection refused", { remote: raw.remote, reason: verdict.reason });
        raw.conn.close();
        continue;
      }
      if (verdict.shed !== null) {
        this.#refuse("shed");
        this.#log.warn("connection shed", {
          remote: verdict.shed.remote,
          reason: `${this.#inbound.size} connections are authenticating; ` +
            `${verdict.shedSource} holds the most`,
        });
        verdict.shed.conn.close();
      }
      this.#handshakeInbound(raw, source);
    }
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resume) => {
      const timer = this.#o.clock.setTimeout(() => {
        this.#pause = null;
        resume();
      }, ms);
      this.#pause = { timer, resume };
    });
  }

  /** Listener side of §3: challenge, verify, then hand the connection over. */
  #handshakeInbound(raw: RawConn, source: string): void {
    const conn = this.#track(raw);
    this.#handshaking.add(conn);
    authenticateInbound(conn, raw.remote, this.#auth(), {
      keyFor: this.#o.keyFor,
      admit: (peer) => this.#admit(peer, raw),
      onAccepted: (peer, rttMs) => {
        raw.authenticated?.();
        this.#o.onInbound(peer, conn, raw.remote, rttMs);
      },
      onSettled: () => {
        this.#handshaking.delete(conn);
        this.#inbound.release(source, raw);
      },
    });
  }

  /** §11 first (the certificate must name the dialer), then the registry (§3, names in use). */
  #admit(peer: string, raw: RawConn): Admission | Promise<Admission> {
    if (this.#o.requireCertificateName && !(raw.certNames ?? []).includes(peer)) {
      const names = raw.certNames?.length ? raw.certNames.join(", ") : "no certificate";
      this.#log.warn("auth refused", {
        remote: raw.remote,
        code: "wrong_certificate",
        claimed: peer,
        certificate: names,
      });
      return {
        kind: "refuse",
        code: "wrong_certificate",
        reason: `the dialer says it is '${peer}' but its certificate names ${names}`,
      };
    }
    return this.#o.admit(peer, raw.remote);
  }

  #auth(): AuthContext {
    return {
      name: this.#o.node.name,
      clock: this.#o.clock,
      logger: this.#log,
      authTimeoutMs: this.#o.node.authTimeoutMs,
      tls: this.#o.node.tls,
      onRefused: (reason) => this.#refuse(reason),
    };
  }

  #refuse(reason: string): void {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
  }

  #track(raw: RawConn): FrameConnection {
    const conn = new FrameConnection(raw.conn, {
      maxFrameBytes: this.#o.node.maxFrameBytes,
      maxOutboundBytes: this.#o.maxOutboundBytes,
    });
    this.#all.add(conn);
    conn.closed().then(() => {
      this.#all.delete(conn);
      this.#o.onClosed();
    });
    return conn;
  }
}
