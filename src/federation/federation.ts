/**
 * The federation: the registry of peers, accepting and dialing links (the
 * handshake itself runs in authenticate.ts), routing and relaying
 * (PORTAL02.md §5), requests in flight (§8) and the counters.
 */
import type { Config, PeerConfig } from "../config/types.ts";
import type { Logger } from "../log/logger.ts";
import type { PathResponse, PathRouter } from "../paths/mod.ts";
import { type Connected, type Link, Peer, type PeerHost } from "../peer/peer.ts";
import { FrameConnection } from "../transport/connection.ts";
import { errorText } from "../util/errors.ts";
import type { Dialer, Listener, RawConn } from "../transport/mod.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import {
  decodeEvent,
  decodeJsonObject,
  decodeRequest,
  decodeResponse,
  DEFAULT_TTL,
  encodeJson,
  type EventMessage,
  type Frame,
  type JsonObject,
  type Method,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
  Status,
  WireError,
} from "../wire/mod.ts";
import { type AuthContext, authenticateInbound, authenticateOutbound } from "./authenticate.ts";
import { PendingRequests } from "./pending.ts";
import { RelayedRequests } from "./relayed.ts";
import { LearnedRoutes } from "./routes.ts";

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

/** Options of {@link Federation}. */
export interface FederationOptions {
  readonly config: Pick<Config, "node" | "peers">;
  readonly router: PathRouter;
  readonly logger: Logger;
  readonly clock: Clock;
  readonly dialer: Dialer;
  /** Opens the listener; null for a dial-only node. */
  readonly listen: (() => Listener | Promise<Listener>) | null;
  /** Uniform [0,1) source for reconnect jitter. Default Math.random. */
  readonly random?: () => number;
  /** Bytes queued to one peer before it is closed as a slow consumer. Default 8 MiB. */
  readonly maxOutboundBytes?: number;
}

type Message = RequestMessage | ResponseMessage | EventMessage;

/** Longest a TCP connect plus TLS handshake may take before the attempt counts as failed. */
const DIAL_TIMEOUT_MS = 10_000;

/** Connections allowed to be authenticating at once; more are closed on accept. */
const MAX_HANDSHAKES = 1024;

/** Owns every peer and routes every message of this node. */
export class Federation {
  readonly name: string;
  readonly counters: Counters = { sent: 0, received: 0, relayed: 0, dropped: 0 };
  readonly #o: FederationOptions;
  readonly #log: Logger;
  readonly #peers = new Map<string, Peer>();
  readonly #configs = new Map<string, PeerConfig>();
  readonly #pending: PendingRequests;
  readonly #routes = new LearnedRoutes();
  readonly #relayed = new RelayedRequests();
  /** Round-trip of the latest answered request per destination (latency of via-hub peers). */
  readonly #rtt = new Map<string, number>();
  readonly #handshaking = new Set<FrameConnection>();
  readonly #allConns = new Set<FrameConnection>();
  readonly #host: PeerHost;
  readonly #watchers = new Set<() => void>();
  /** Cancels each request being served here, so stop() leaves no timer behind. */
  readonly #serving = new Set<() => void>();
  #listener: Listener | null = null;
  #acceptLoop: Promise<void> | null = null;
  #stopping = false;

  constructor(options: FederationOptions) {
    this.#o = options;
    this.name = options.config.node.name;
    this.#log = options.logger;
    this.#pending = new PendingRequests(options.clock);
    const node = options.config.node;
    this.#host = {
      localName: this.name,
      clock: options.clock,
      logger: options.logger,
      pingIntervalMs: node.pingIntervalMs,
      pingMaxMissed: node.pingMaxMissed,
      connect: (peer, signal, onTcpUp, onAuth) => this.#connect(peer, signal, onTcpUp, onAuth),
      onFrame: (peer, link, frame) => this.#onFrame(peer, link, frame),
      onLinkUp: (peer, link) => {
        this.#log.info("authenticated", {
          peer: peer.name,
          direction: link.direction,
          remote: link.remote,
        });
        this.#changed();
      },
      onLinkDown: (peer, link, reason) => {
        const n = this.#pending.failLink(
          link.id,
          `connection to ${peer.name} was lost before {dst} answered (${reason})`,
        );
        if (n > 0) {
          this.#log.warn("requests failed on a lost connection", { peer: peer.name, count: n });
        }
        const relayed = this.#relayed.takeLink(link.id, this.#o.clock.now());
        let undeliverable = 0;
        for (const r of relayed) {
          const sent = this.#respond(r.src, r.id, {
            status: Status.Unreachable,
            error: `${this.name} lost its connection to ${peer.name} before ${r.dst} answered ` +
              `(${reason})`,
          }, { quiet: true });
          if (!sent) undeliverable++;
        }
        if (undeliverable > 0) {
          // One line for all: their origins are gone too (often the same outage).
          this.#log.warn("dropped message", {
            reason: `no route back for ${undeliverable} failed relayed requests`,
            peer: peer.name,
          });
        }
        if (relayed.length > 0) {
          this.#log.warn("relayed requests failed on a lost connection", {
            peer: peer.name,
            count: relayed.length,
          });
        }
        // A node without a section is forgotten with its last link; a link replaced
        // by a newer one (a reconnect) leaves the peer connected and kept.
        if (!peer.configured && peer.link === null) {
          this.#peers.delete(peer.name);
          this.#routes.forgetNeighbour(peer.name);
          peer.stop();
        }
        this.#changed();
      },
    };
    for (const pc of options.config.peers) {
      this.#configs.set(pc.name, pc);
      this.#peers.set(pc.name, this.#newPeer(pc, true));
    }
  }

  /** The address the listener is bound to, or null for a dial-only node. */
  get listenAddr(): { hostname: string; port: number } | null {
    return this.#listener?.addr ?? null;
  }

  /** Opens the listener and starts dialing auto_connect peers. */
  start(): Promise<void> {
    const listening = this.listen();
    this.dialAll();
    return listening;
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

  #acceptOn(listener: Listener): void {
    if (this.#stopping) {
      listener.close();
      return;
    }
    this.#listener = listener;
    const a = listener.addr;
    this.#log.info("listening", {
      address: `${a.hostname}:${a.port}`,
      tls: this.#o.config.node.tls,
    });
    this.#acceptLoop = this.#accept(listener);
  }

  /** Starts every auto_connect peer's dial-and-reconnect cycle. */
  dialAll(): void {
    for (const p of this.#peers.values()) {
      if (p.dials) {
        this.#log.info("dialing", { peer: p.name, address: `${p.config.host}:${p.config.port}` });
      }
      p.start();
    }
  }

  /** Stops accepting, fails pending requests, closes every connection. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#listener?.close();
    this.#pending.failAll(`${this.name} is shutting down`);
    for (const cancel of [...this.#serving]) cancel();
    for (const c of this.#handshaking) c.close({ kind: "local", why: "node stopping" });
    for (const p of this.#peers.values()) p.stop();
    const conns = [...this.#allConns];
    for (const c of conns) c.close({ kind: "local", why: "node stopping" });
    await Promise.allSettled(conns.map((c) => c.closed()));
    await this.#acceptLoop;
  }

  /** Calls `fn` after every link up or down; returns the unsubscribe function. */
  watch(fn: () => void): () => void {
    this.#watchers.add(fn);
    return () => this.#watchers.delete(fn);
  }

  /** Resolves once `cond` holds, re-checked after every link change. */
  when(cond: () => boolean): Promise<void> {
    if (cond()) return Promise.resolve();
    return new Promise((resolve) => {
      const stop = this.watch(() => {
        if (!cond()) return;
        stop();
        resolve();
      });
    });
  }

  #changed(): void {
    for (const fn of [...this.#watchers]) fn();
  }

  /** Open connections, authenticated or not. */
  get connectionCount(): number {
    return this.#allConns.size;
  }

  /** The peer actor for `name`, if known. */
  peer(name: string): Peer | undefined {
    return this.#peers.get(name);
  }

  /** Names of known peers: configured ones in file order, then those that dialed in. */
  peerNames(): string[] {
    return [...this.#peers.keys()];
  }

  /** /node/peers */
  peerViews(): PeerView[] {
    return [...this.#peers.values()].map((p) => this.#view(p));
  }

  #view(p: Peer): PeerView {
    const base = { name: p.name, host: p.config.host, port: p.config.host ? p.config.port : null };
    const s = p.state;
    if (s.kind === "connected") {
      return {
        ...base,
        status: "connected",
        latency_ms: roundMs(s.link.heartbeat.latencyMs),
        via: null,
        direction: s.link.direction,
      };
    }
    const via = this.#indirect(p.name);
    if (via !== null) {
      return {
        ...base,
        status: "via-hub",
        latency_ms: roundMs(this.#rtt.get(p.name) ?? null),
        via,
        direction: null,
      };
    }
    const status = s.kind === "connecting" || s.kind === "authenticating"
      ? "connecting"
      : "disconnected";
    return { ...base, status, latency_ms: null, via: null, direction: null };
  }

  /** /node/status */
  status(): JsonObject {
    const views = this.peerViews();
    const up = views.filter((v) => v.status === "connected" || v.status === "via-hub").length;
    return {
      peers_connected: up,
      peers_disconnected: views.length - up,
      messages_sent: this.counters.sent,
      messages_received: this.counters.received,
      messages_relayed: this.counters.relayed,
      messages_dropped: this.counters.dropped,
    };
  }

  /**
   * Sends a request to `dst` and waits for its answer: 404 for an unknown
   * node, 502 at once when there is no route or the link is lost, 504 at the
   * deadline.
   */
  request(
    dst: string,
    method: Method,
    path: string,
    args: JsonObject = {},
    signal?: AbortSignal,
    ttl: number = DEFAULT_TTL,
  ): Promise<PathResponse> {
    if (this.#stopping) {
      return Promise.resolve({
        status: Status.Unreachable,
        error: `${this.name} is shutting down`,
      });
    }
    if (dst === this.name) return this.#o.router.handle({ method, path, args, origin: null });
    if (ttl < 0) {
      return Promise.resolve({
        status: Status.Loop,
        error: `${this.name} will not forward to ${dst}: the request has used up its hops (ttl)`,
      });
    }
    if (!this.#peers.has(dst) && this.#routes.via(dst) === undefined) {
      return Promise.resolve({
        status: Status.NotFound,
        error:
          `unknown node '${dst}': ${this.name} has no [peer:${dst}] section and no route to it`,
      });
    }
    const link = this.#route(dst, null);
    if (link === null) {
      return Promise.resolve({ status: Status.Unreachable, error: this.#noRouteSentence(dst) });
    }
    const timeoutMs = this.#o.config.node.requestTimeoutMs;
    const { id, response } = this.#pending.open(dst, link.id, timeoutMs);
    if (signal) {
      // The caller left (HTTP client gone, API stopping): stop waiting, never re-send.
      const onAbort = () =>
        this.#pending.resolve(id, {
          status: Status.Timeout,
          error: `the caller stopped waiting for ${dst}`,
        });
      signal.addEventListener("abort", onAbort, { once: true });
      response.finally(() => signal.removeEventListener("abort", onAbort));
    }
    const msg: RequestMessage = {
      id,
      src: this.name,
      dst,
      method,
      path,
      args,
      ttl,
      timeout_ms: timeoutMs,
    };
    const body = encodeJson(msg);
    if (!this.#fits(body)) {
      // A frame over the limit would make the receiver close the link for everyone.
      this.#pending.resolve(id, {
        status: Status.TooLarge,
        error: `the request for ${dst}${path} is ${body.byteLength} bytes, over max_frame_bytes ` +
          `(${this.#o.config.node.maxFrameBytes})`,
      });
      return response;
    }
    this.#write(link, MsgType.Request, body);
    return response;
  }

  // ---- routing -------------------------------------------------------------

  /** §5: direct link, then the configured hub, then the learned route; never back out `from`. */
  #route(dst: string, from: Link | null): Link | null {
    const usable = (l: Link | null | undefined): Link | null =>
      l && l.conn.isOpen && l !== from ? l : null;
    const direct = usable(this.#peers.get(dst)?.link);
    if (direct) return direct;
    for (const hub of this.#configs.get(dst)?.hubs ?? []) {
      const viaHub = usable(this.#peers.get(hub)?.link);
      if (viaHub) return viaHub;
    }
    const learned = this.#routes.via(dst);
    return learned === undefined ? null : usable(this.#peers.get(learned)?.link);
  }

  /** The neighbour a peer without a direct link is reachable through, or null. */
  #indirect(dst: string): string | null {
    const link = this.#route(dst, null);
    return link === null || link.peer === dst ? null : link.peer;
  }

  #noRouteSentence(dst: string): string {
    const hubs = this.#configs.get(dst)?.hubs ?? [];
    const hub = hubs.join("', '");
    return hubs.length > 0
      ? `no route to ${dst}: not connected to it, and its hub '${hub}' is not connected either`
      : `no route to ${dst}: not connected to it, and no hub is configured for it`;
  }

  /** True when a body fits the frame limit (ours; PORTAL02 gives every node the same default). */
  #fits(body: Uint8Array): boolean {
    return body.byteLength <= this.#o.config.node.maxFrameBytes;
  }

  #write(link: Link, type: MsgType, body: Uint8Array): boolean {
    const ok = link.conn.send(type, body);
    if (ok) this.counters.sent++;
    else this.counters.dropped++;
    return ok;
  }

  /**
   * Sends a RESPONSE to `dst` by the routing rules; returns false when it was
   * dropped (counted; logged unless `quiet`, where the caller logs a summary).
   */
  #respond(dst: string, id: number, res: PathResponse, opts: { quiet?: boolean } = {}): boolean {
    const msg: ResponseMessage = res.status >= 200 && res.status < 300
      ? { id, src: this.name, dst, status: res.status, body: res.body ?? null }
      : { id, src: this.name, dst, status: res.status, error: res.error ?? `status ${res.status}` };
    const link = this.#route(dst, null);
    if (link === null) {
      if (opts.quiet) this.counters.dropped++;
      else this.#drop(`no route to ${dst} for the response to request ${id}`);
      return false;
    }
    let body = encodeJson(msg);
    if (!this.#fits(body)) {
      body = encodeJson({
        id,
        src: this.name,
        dst,
        status: Status.TooLarge,
        error: `the answer from ${this.name} is ${body.byteLength} bytes, over max_frame_bytes ` +
          `(${this.#o.config.node.maxFrameBytes})`,
      });
    }
    return this.#write(link, MsgType.Response, body);
  }

  #drop(why: string, fields: Record<string, string | number> = {}): void {
    this.counters.dropped++;
    this.#log.warn("dropped message", { reason: why, ...fields });
  }

  // ---- inbound frames --------------------------------------------------------

  #onFrame(peer: Peer, link: Link, frame: Frame): void {
    let msg: Message;
    try {
      msg = frame.type === MsgType.Request
        ? decodeRequest(frame.body)
        : frame.type === MsgType.Response
        ? decodeResponse(frame.body)
        : decodeEvent(frame.body);
    } catch (e) {
      const err = e instanceof WireError ? e : new WireError("bad_json", errorText(e));
      // §2 closes only for bodies that are not JSON objects; a well-formed
      // object with a bad field is answered (requests) or dropped.
      if (err.code === "bad_field") {
        this.counters.received++;
        this.#rejectMalformed(peer, link, frame, err);
        return;
      }
      this.#log.warn("protocol violation", {
        peer: peer.name,
        remote: link.remote,
        rule: err.code,
        detail: err.message,
      });
      link.conn.close({ kind: "protocol", error: err });
      return;
    }
    this.counters.received++;
    const { src, dst } = msg;
    if (typeof src !== "string" || typeof dst !== "string" || src === "" || dst === "") {
      const err = new WireError(
        "bad_field",
        "message without 'src' and 'dst' after authentication",
      );
      this.#log.warn("protocol violation", {
        peer: peer.name,
        remote: link.remote,
        rule: err.code,
      });
      link.conn.close({ kind: "protocol", error: err });
      return;
    }
    if (src === this.name) {
      this.#drop("message claims to come from this node", { peer: peer.name });
      return;
    }
    if (src !== peer.name && !peer.configured) {
      this.#drop(`forged src: '${peer.name}' may not speak for '${src}'`, {
        peer: peer.name,
        remote: link.remote,
      });
      return;
    }
    if (src !== peer.name) this.#routes.learn(src, peer.name);
    if (dst === this.name) this.#deliver(peer, link, frame.type, msg);
    else this.#relay(link, frame, msg, dst);
  }

  /** A REQUEST with a usable id and src gets 400; anything else malformed is dropped and counted. */
  #rejectMalformed(peer: Peer, link: Link, frame: Frame, err: WireError): void {
    const o = decodeJsonObject(frame.body);
    const { id, src } = o;
    const answerable = frame.type === MsgType.Request && typeof id === "number" &&
      Number.isSafeInteger(id) && id >= 0 && typeof src === "string" && src !== "" &&
      (src === peer.name || peer.configured);
    if (!answerable) {
      this.#drop(`malformed message: ${err.message}`, { peer: peer.name, remote: link.remote });
      return;
    }
    this.#respond(src, id, {
      status: Status.BadRequest,
      error: `malformed request: ${err.message}`,
    });
  }

  #deliver(peer: Peer, link: Link, type: MsgType, msg: Message): void {
    switch (type) {
      case MsgType.Request:
        this.#serve(peer, msg as RequestMessage);
        return;
      case MsgType.Response: {
        const res = msg as ResponseMessage;
        const pending = this.#pending.get(res.id);
        const dst = pending?.dst;
        // A relay on the path may answer a failure in its own name (502/508), but
        // only on the link the request left on: nobody else may fail our requests.
        const relayFailure = pending !== undefined && res.src !== dst && res.status >= 400 &&
          link.id === pending.linkId;
        if (dst === undefined || (res.src !== dst && !relayFailure)) {
          this.#drop(`response ${res.id} from ${res.src} matches no pending request`);
          return;
        }
        const rtt = this.#pending.resolve(
          res.id,
          res.status >= 200 && res.status < 300
            ? { status: res.status, body: res.body }
            : { status: res.status, error: res.error ?? `status ${res.status}` },
        );
        if (rtt !== null && res.src === dst) this.#rtt.set(dst, rtt);
        return;
      }
      default: {
        const ev = msg as EventMessage;
        this.#log.debug("event", { from: ev.src, topic: ev.topic });
      }
    }
  }

  /** A request for this node goes into the sending neighbour's worker pool. */
  #serve(peer: Peer, req: RequestMessage): void {
    const clock = this.#o.clock;
    const budget = req.timeout_ms ?? this.#o.config.node.requestTimeoutMs;
    const queuedAt = clock.now();
    const accepted = peer.pool.submit(async () => {
      const left = budget - (clock.now() - queuedAt);
      if (left <= 0) {
        this.#drop(`request ${req.id} from ${req.src} expired in the queue`);
        return;
      }
      const abort = new AbortController();
      let timer: TimerHandle | null = null;
      let cancel = () => {};
      const expired = new Promise<null>((resolve) => {
        cancel = () => {
          abort.abort();
          resolve(null);
        };
        timer = clock.setTimeout(cancel, left);
      });
      this.#serving.add(cancel);
      const work = this.#o.router.handle({
        method: req.method,
        path: req.path,
        args: req.args ?? {},
        origin: req.src,
        signal: abort.signal,
        hops: (req.ttl ?? DEFAULT_TTL) - 1,
      }).catch((e): PathResponse => ({
        status: Status.Internal,
        error: `${req.method} ${req.path} failed on ${this.name}: ${errorText(e)}`,
      }));
      // A handler that ignores its deadline must not hold a worker forever.
      let res: PathResponse | null;
      try {
        res = await Promise.race([work, expired]);
      } finally {
        if (timer !== null) clock.clear(timer);
        this.#serving.delete(cancel);
      }
      if (this.#stopping) return;
      if (res === null) {
        this.#drop(`request ${req.id} from ${req.src} for ${req.path} outlived its deadline`);
        return;
      }
      this.#respond(req.src, req.id, res);
    });
    if (!accepted) {
      this.#respond(req.src, req.id, {
        status: Status.Overloaded,
        error: `${this.name} is overloaded: the queue for peer ${peer.name} is full ` +
          `(${peer.pool.queued} waiting, ${peer.pool.active} running)`,
      });
    }
  }

  /** §5: forward a message for another node, ttl reduced; 502/508 back to src for requests. */
  #relay(from: Link, frame: Frame, msg: Message, dst: string): void {
    if (frame.type === MsgType.Request) {
      const req = msg as RequestMessage;
      const ttl = req.ttl ?? DEFAULT_TTL;
      if (ttl <= 0) {
        this.#respond(req.src, req.id, {
          status: Status.Loop,
          error: `request ${req.id} for ${req.dst} ran out of hops (ttl spent) at ${this.name}`,
        });
        return;
      }
      const link = this.#route(req.dst, from);
      if (link === null) {
        this.#respond(req.src, req.id, {
          status: Status.Unreachable,
          error: `${this.name} cannot relay to ${req.dst}: ${this.#noRouteSentence(req.dst)}`,
        });
        return;
      }
      const body = encodeJson({ ...req, ttl: ttl - 1 });
      if (!this.#fits(body)) {
        this.#respond(req.src, req.id, {
          status: Status.TooLarge,
          error:
            `request ${req.id} for ${req.dst} is too large to relay (${body.byteLength} bytes)`,
        });
        return;
      }
      if (this.#write(link, MsgType.Request, body)) {
        this.counters.relayed++;
        const now = this.#o.clock.now();
        this.#relayed.add(link.id, {
          src: req.src,
          id: req.id,
          dst: req.dst,
          expiresAt: now + (req.timeout_ms ?? this.#o.config.node.requestTimeoutMs),
        }, now);
      }
      return;
    }
    if (frame.type === MsgType.Response) {
      this.#relayed.answered(from.id, dst, (msg as ResponseMessage).id);
    }
    const link = this.#route(dst, from);
    if (link === null) {
      this.#drop(`no route to ${dst} to relay a message from ${msg.src}`);
      return;
    }
    // Responses and events carry no ttl: forward the exact bytes.
    if (this.#write(link, frame.type, frame.body.slice())) this.counters.relayed++;
  }

  // ---- connections -----------------------------------------------------------

  #newPeer(config: PeerConfig, configured: boolean): Peer {
    const node = this.#o.config.node;
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

  #frameConn(raw: RawConn): FrameConnection {
    const conn = new FrameConnection(raw.conn, {
      maxFrameBytes: this.#o.config.node.maxFrameBytes,
      maxOutboundBytes: this.#o.maxOutboundBytes,
    });
    this.#allConns.add(conn);
    conn.closed().then(() => {
      this.#allConns.delete(conn);
      this.#changed();
    });
    return conn;
  }

  async #accept(listener: Listener): Promise<void> {
    for (;;) {
      let raw: RawConn;
      try {
        raw = await listener.accept();
      } catch (e) {
        if (!this.#stopping) this.#log.error("listener stopped", { reason: errorText(e) });
        return;
      }
      if (this.#stopping) {
        raw.conn.close();
        return;
      }
      if (this.#handshaking.size >= MAX_HANDSHAKES) {
        // Unauthenticated connections cost buffers; a flood must not exhaust memory.
        this.#log.warn("auth refused", {
          remote: raw.remote,
          reason: `${MAX_HANDSHAKES} connections are already authenticating`,
        });
        raw.conn.close();
        continue;
      }
      this.#handshakeInbound(raw);
    }
  }

  /** Listener side of §3: challenge, verify, then hand the link to its peer. */
  #handshakeInbound(raw: RawConn): void {
    const conn = this.#frameConn(raw);
    this.#handshaking.add(conn);
    authenticateInbound(conn, raw.remote, this.#authContext(), {
      keyFor: (n) => this.#configs.get(n)?.key ?? this.#o.config.node.federationKey,
      onAccepted: (peer, rttMs) => this.#attachInbound(peer, conn, raw.remote, rttMs),
      onSettled: () => this.#handshaking.delete(conn),
    });
  }

  #authContext(): AuthContext {
    return {
      name: this.name,
      clock: this.#o.clock,
      logger: this.#log,
      authTimeoutMs: this.#o.config.node.authTimeoutMs,
    };
  }

  #attachInbound(name: string, conn: FrameConnection, remote: string, rttMs: number): void {
    let peer = this.#peers.get(name);
    if (!peer) {
      // Every node can act as a hub: accept authenticated nodes it has no section for.
      const node = this.#o.config.node;
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

  /** Dialer side of §3, used by peer actors. Hands over the link synchronously. */
  #connect(
    peer: PeerConfig,
    signal: AbortSignal,
    onTcpUp: () => void,
    onAuthenticated: (c: Connected) => void,
  ): Promise<void> {
    // A firewall that drops packets would hold a connect for minutes: bound it.
    const dial = new AbortController();
    const onOuter = () => dial.abort();
    signal.addEventListener("abort", onOuter, { once: true });
    const dialTimer = this.#o.clock.setTimeout(() => dial.abort(), DIAL_TIMEOUT_MS);
    const dialed = this.#o.dialer(peer, dial.signal).catch((e) => {
      if (dial.signal.aborted && !signal.aborted) {
        throw new Error(
          `cannot connect to ${peer.host}:${peer.port}: no answer within ${
            DIAL_TIMEOUT_MS / 1000
          }s`,
        );
      }
      throw e;
    }).finally(() => {
      this.#o.clock.clear(dialTimer);
      signal.removeEventListener("abort", onOuter);
    });
    return dialed.then((raw) => {
      if (signal.aborted || this.#stopping) {
        raw.conn.close();
        throw new Error("dial cancelled");
      }
      onTcpUp();
      const conn = this.#frameConn(raw);
      this.#handshaking.add(conn);
      return authenticateOutbound(
        conn,
        raw.remote,
        peer,
        this.#authContext(),
        signal,
        onAuthenticated,
      )
        .finally(() => this.#handshaking.delete(conn));
    });
  }
}

function roundMs(ms: number | null): number | null {
  return ms === null ? null : Math.round(ms * 10) / 10;
}
