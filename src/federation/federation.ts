/**
 * The federation's core: the peer registry, requests this node sends (§8),
 * and every REQUEST/RESPONSE/EVENT frame that arrives — delivered here,
 * relayed on (§5), or dropped and counted. Links, serving, the routing policy
 * and the views live in their own files beside this one.
 */
import { LogLimiter } from "../log/limiter.ts";
import type { Logger } from "../log/logger.ts";
import type { PathResponse } from "../paths/types.ts";
import type { Link, Peer } from "../peer/peer.ts";
import type { WorkerPool } from "../peer/pool.ts";
import { waitUntil } from "../util/clock.ts";
import { SharedTimers } from "../util/timers.ts";
import { Watchers } from "../util/watchers.ts";
import {
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
} from "../wire/mod.ts";
import { admit, RelayScanner } from "./admit.ts";
import { LinkManager } from "./links.ts";
import { Outbound } from "./outbound.ts";
import { PendingRequests } from "./pending.ts";
import { PeerRegistry } from "./registry.ts";
import { PresenceService } from "./announcer.ts";
import { LEAVING_TOPIC, PRESENCE_TOPIC } from "./presence.ts";
import { Relay } from "./relay.ts";
import type { FederationOptions, RequestOptions } from "./options.ts";
import { type FederationConfig, type FederationReload, settle } from "./reload.ts";
import { RouteTable } from "./route_table.ts";
import { Sender } from "./sender.ts";
import { RequestServer } from "./serve.ts";
import { type OriginPool, OriginPools } from "./pools.ts";
import {
  type Counters,
  type FederationStatus,
  federationStatus,
  HubReachabilityLog,
  type PeerView,
  peerView,
} from "./views.ts";

export type { Counters, FederationStatus, PeerView };

export type { FederationOptions, RequestOptions } from "./options.ts";

/** Owns every peer and routes every message of this node. */
export class Federation {
  readonly name: string;

  readonly #o: FederationOptions;
  #config: FederationConfig;
  readonly #log: Logger;
  readonly #peers: PeerRegistry;
  readonly #pending: PendingRequests;
  readonly #relay: Relay;
  readonly #outbound: Outbound;
  readonly #routes: RouteTable;
  readonly #presence: PresenceService;
  readonly #out: Sender;
  readonly #links: LinkManager;
  readonly #server: RequestServer;
  readonly #pools: OriginPools;
  readonly #watchers = new Watchers();
  readonly #limiter: LogLimiter;
  readonly #ownsLimiter: boolean;
  readonly #reachability: HubReachabilityLog;
  readonly #clock: SharedTimers;
  #stopping = false;
  readonly #scanner: RelayScanner;

  constructor(options: FederationOptions) {
    this.#o = options;
    this.#config = options.config;
    const node = options.config.node;
    this.name = node.name;
    this.#scanner = new RelayScanner(node.name);
    this.#log = options.logger;
    // Every deadline, heartbeat and retry of this node shares one runtime timer.
    const clock = new SharedTimers(options.clock);
    this.#clock = clock;
    this.#ownsLimiter = options.limiter === undefined;
    this.#limiter = options.limiter ?? new LogLimiter({ logger: options.logger, clock });
    this.#pending = new PendingRequests(clock);
    this.#presence = new PresenceService({
      name: this.name,
      clock,
      links: () => this.#peers.links({ leaving: false }),
      send: (link, type, body) => this.#out.write(link, type, body),
      onChange: () => this.#changed(),
    });
    this.#routes = new RouteTable({
      name: this.name,
      configs: options.config.peers,
      linkOf: (name) => this.#peers.linkOf(name),
      presence: this.#presence.book,
      clock,
      isLeaving: (name) => this.#peers.get(name)?.leaving ?? false,
    });
    this.#out = new Sender({
      name: this.name,
      maxFrameBytes: node.maxFrameBytes,
      routes: this.#routes,
      logger: options.logger,
    });
    this.#outbound = new Outbound({
      name: this.name,
      pending: this.#pending,
      out: this.#out,
      requestTimeoutMs: () => this.#config.node.requestTimeoutMs,
      sign: options.sign,
    });
    this.#relay = new Relay({
      name: this.name,
      clock,
      logger: options.logger,
      routes: this.#routes,
      out: this.#out,
      defaultBudgetMs: () => this.#config.node.requestTimeoutMs,
    });
    this.#reachability = new HubReachabilityLog(options.config.peers, this.#routes, this.#log);
    this.#links = new LinkManager({
      node,
      logger: options.logger,
      clock,
      dialer: options.dialer,
      listen: options.listen,
      maxOutboundBytes: options.maxOutboundBytes,
      keyFor: (n) => this.#peers.keyFor(n),
      admit: (peer, remote) => this.#peers.admit(peer, remote),
      requireCertificateName: options.requireCertificateName,
      onInbound: (peer, conn, remote, rttMs) => this.#peers.adoptInbound(peer, conn, remote, rttMs),
      onClosed: () => this.#changed(),
    });
    this.#pools = new OriginPools({ node, peers: options.config.peers });
    this.#server = new RequestServer({
      name: this.name,
      clock,
      router: options.router,
      defaultBudgetMs: () => this.#config.node.requestTimeoutMs,
      respond: (dst, id, res) => this.#out.respond(dst, id, res),
      drop: (why) => this.#out.drop(why),
    });
    this.#peers = new PeerRegistry({
      node,
      peers: options.config.peers,
      events: {
        connect: (peer, signal, onTcpUp, onAuth) =>
          this.#links.connect(peer, signal, onTcpUp, onAuth),
        onFrame: (peer, link, frame) => this.#onFrame(peer, link, frame),
        onLinkUp: (peer, link) => this.#linkUp(peer, link),
        onLinkDown: (peer, link, reason) => this.#linkDown(peer, link, reason),
        onLatency: (peer, _link, ms) => this.#presence.latency(peer.name, ms),
        // A link coming up is reported by onLinkUp, once presence expects its hub.
        onStateChange: (peer) => peer.link === null && this.#watchers.notify(),
      },
      clock,
      logger: options.logger,
      limiter: this.#limiter,
      random: options.random,
    });
  }

  /** Messages sent, received, relayed and dropped. */
  get counters(): Counters {
    return this.#out.counters;
  }

  /** The address the listener is bound to, or null for a dial-only node. */
  get listenAddr(): { hostname: string; port: number } | null {
    return this.#links.listenAddr;
  }

  /** Open connections, authenticated or not. */
  get connectionCount(): number {
    return this.#links.connectionCount;
  }

  /** Inbound connections still authenticating. */
  get handshakeCount(): number {
    return this.#links.handshakeCount;
  }

  /** Inbound connections refused before authentication, by reason (a refusal code, `auth_timeout`, `handshakes_full`). */
  get refusedConnections(): ReadonlyMap<string, number> {
    return this.#links.refused;
  }

  /** Every origin's worker pool, least recently used first. */
  pools(): OriginPool[] {
    return this.#pools.all();
  }

  /** Opens the listener and starts dialing auto_connect peers. */
  start(): Promise<void> {
    const listening = this.listen();
    this.dialAll();
    return listening;
  }

  /** Opens the listener (nothing for a dial-only node); errors of a synchronous one are thrown. */
  listen(): Promise<void> {
    return this.#stopping ? Promise.resolve() : this.#links.listen();
  }

  /** Starts every auto_connect peer's dial-and-reconnect cycle. */
  dialAll(): void {
    this.#peers.startAll(this.#log);
  }

  /**
   * Leaves gracefully: tells every neighbour it is shutting down (they stop
   * sending new work and fail over at once), answers new requests 503, lets
   * what is in flight finish for up to `graceMs`, then stops. False when
   * requests were still in flight at the deadline (they fail then).
   */
  async drain(graceMs: number): Promise<boolean> {
    if (this.#stopping || this.#server.draining) return true;
    this.#server.draining = true;
    for (const link of this.#peers.links()) this.sendEvent(link.peer, LEAVING_TOPIC, {});
    const idle = () => this.#server.running + this.#pending.size + this.#relay.inFlight === 0;
    const finished = await waitUntil(this.#clock, idle, graceMs);
    await this.stop();
    return finished;
  }

  /**
   * Applies a new config while running (a reload): peers added, removed or
   * changed (only changed links are redialed), hubs, pool sizes, timeouts.
   * Keys that need a restart keep their running value and are reported.
   */
  reconfigure(next: FederationConfig): FederationReload {
    const { config, needsRestart } = settle(this.#config, next);
    this.#config = config;
    this.#routes.setConfigs(config.peers);
    this.#pools.reconfigure(config.node, config.peers);
    this.#reachability.peers = config.peers;
    const peers = this.#peers.reconfigure(config.node, config.peers);
    this.#changed();
    return { ...peers, needsRestart };
  }

  /** Stops accepting, fails pending requests, closes every connection. */
  async stop(): Promise<void> {
    if (this.#stopping) return;
    this.#stopping = true;
    this.#presence.stop();
    this.#pending.failAll(`${this.name} is shutting down`);
    this.#server.stop();
    this.#pools.close();
    this.#peers.stopAll();
    await this.#links.stop();
    if (this.#ownsLimiter) this.#limiter.stop();
  }

  /** Calls `fn` after every link up or down and routing change; returns the unsubscribe function. */
  watch(fn: () => void): () => void {
    return this.#watchers.watch(fn);
  }

  /** Resolves once `cond` holds, re-checked after every change `watch` reports. */
  when(cond: () => boolean): Promise<void> {
    return this.#watchers.when(cond);
  }

  #changed(): void {
    this.#reachability.check((name) => this.#peers.linkOf(name) !== null);
    this.#watchers.notify();
  }

  /** The worker pool serving requests from `origin`, if it has one. */
  pool(origin: string): WorkerPool | undefined {
    return this.#pools.peek(origin);
  }

  /** The peer actor for `name`, if known. */
  peer(name: string): Peer | undefined {
    return this.#peers.get(name);
  }

  /** Names of known peers: configured ones in file order, then those that dialed in. */
  peerNames(): string[] {
    return this.#peers.peerNames();
  }

  /** /node/peers */
  peerViews(): PeerView[] {
    return [...this.#peers.all()].map((p) => peerView(p, this.#routes));
  }

  /** /node/status (without uptime), from `views` when the caller has them already. */
  status(views: readonly PeerView[] = this.peerViews()): FederationStatus {
    return federationStatus(views, this.counters, this.#peers.names);
  }

  /**
   * Sends a request to `dst` and waits for its answer: this node's own router
   * for its own name, 404 for an unknown node, 502 at once when there is no
   * route or the link is lost, 504 at the deadline or when the caller leaves.
   */
  request(
    dst: string,
    method: Method,
    path: string,
    args: JsonObject = {},
    opts: RequestOptions = {},
  ): Promise<PathResponse> {
    const { signal, ttl = DEFAULT_TTL, origin = null } = opts;
    const answer = (status: number, error: string) => Promise.resolve({ status, error });
    if (this.#stopping) return answer(Status.Unreachable, `${this.name} is shutting down`);
    if (signal?.aborted) {
      return answer(
        Status.Timeout,
        `the caller stopped waiting before the request for ${dst} left`,
      );
    }
    if (ttl < 0) {
      const why = `${this.name} will not forward to ${dst}: the request has used up its hops (ttl)`;
      return answer(Status.Loop, why);
    }
    // A hop to this node itself still costs one, and keeps the caller's origin and signal.
    if (dst === this.name) {
      return this.#o.router.handle({ method, path, args, origin, signal, hops: ttl - 1 });
    }
    if (!this.#peers.has(dst) && !this.#routes.hasLearned(dst)) {
      return answer(
        Status.NotFound,
        `unknown node '${dst}': ${this.name} has no [peer:${dst}] section and no route to it`,
      );
    }
    const link = this.#routes.route(dst, null, "request");
    if (link === null) return answer(Status.Unreachable, this.#routes.noRouteSentence(dst));
    return this.#outbound.send(link, { dst, method, path, args, ttl, signal });
  }

  /** Sends an EVENT to `dst` by the routing rules; false when it had no route (counted). */
  sendEvent(dst: string, topic: string, data: unknown): boolean {
    const link = this.#stopping ? null : this.#routes.route(dst, null, "request");
    if (link === null) {
      this.#out.counters.dropped++;
      return false;
    }
    const body = encodeJson({ src: this.name, dst, topic, data });
    return this.#out.fits(body) && this.#out.write(link, MsgType.Event, body);
  }

  // ---- inbound frames ------------------------------------------------------------

  #onFrame(peer: Peer, link: Link, frame: Frame): void {
    const ctx = { localName: this.name, neighbour: peer.name, trusted: peer.configured };
    // A message for another node is relayed from its bytes (no parse, no re-encode);
    // one for this node, and whatever the scanner leaves, is decoded in full below.
    const scanned = this.#scanner.scan(frame, ctx);
    if (scanned !== null) {
      this.#out.counters.received++;
      if (scanned.src !== peer.name) this.#routes.learn(scanned.src, peer.name);
      return this.#relay.forwardScanned(link, frame, scanned);
    }
    const verdict = admit(frame, ctx);
    const where = { peer: peer.name, remote: link.remote };
    if (verdict.kind === "close") {
      const { code: rule, message: detail } = verdict.error;
      this.#limiter.log("warn", "protocol violation", peer.name, "protocol violation", {
        ...where,
        rule,
        detail,
      });
      return link.conn.close({ kind: "protocol", error: verdict.error });
    }
    if (verdict.kind !== "message") {
      this.#out.counters.received++;
      const to = verdict.kind === "malformed" ? verdict.answerTo : null;
      const why = verdict.kind === "drop"
        ? verdict.why
        : `malformed ${to === null ? "message" : "request"}: ${verdict.error.message}`;
      if (to === null) return this.#out.drop(why, where);
      return void this.#out.respond(to.src, to.id, { status: Status.BadRequest, error: why });
    }
    this.#out.counters.received++;
    const { msg, src, dst } = verdict;
    if (src !== peer.name) this.#routes.learn(src, peer.name);
    if (dst !== this.name) this.#relay.forward(link, frame, msg, dst);
    else if (frame.type === MsgType.Request) this.#serve(peer, msg as RequestMessage);
    else if (frame.type === MsgType.Response) this.#answered(link, msg as ResponseMessage);
    else this.#event(peer, msg as EventMessage);
  }

  /** An EVENT for this node: presence (§9) or a neighbour leaving, in its own name; others are logged. */
  #event(peer: Peer, ev: EventMessage): void {
    const own = ev.src === peer.name;
    if (ev.topic === LEAVING_TOPIC && own) {
      peer.markLeaving();
      this.#presence.neighbourLeaving();
      this.#changed();
    } else if (ev.topic === PRESENCE_TOPIC) {
      if (!this.#presence.receive(peer.name, ev)) {
        this.#out.drop(`presence from ${ev.src} is not a valid announcement`, { peer: peer.name });
      } else this.#changed();
    } else if (this.#o.onEvent) this.#o.onEvent(ev);
    else this.#log.debug("event", { from: ev.src, topic: ev.topic });
  }

  /** A request for this node goes into its origin's worker pool (§10). */
  #serve(peer: Peer, req: RequestMessage): void {
    this.#server.submit(this.#pools.get(req.src), req, peer.name);
  }

  /** A RESPONSE for one of our requests, accepted only from where it may come (§10). */
  #answered(link: Link, res: ResponseMessage): void {
    const accepted = this.#pending.answer(link.id, link.peer, res);
    if (accepted === null) {
      const why = `response ${res.id} from ${res.src} matches no pending request`;
      this.#out.drop(why, { peer: link.peer });
    } else if (accepted.from === "dst") this.#routes.recordRtt(accepted.dst, accepted.rttMs);
  }

  // ---- peers and links ---------------------------------------------------------------

  #linkUp(peer: Peer, link: Link): void {
    const { direction, remote } = link;
    this.#log.info("authenticated", { peer: peer.name, direction, remote });
    this.#presence.linkUp(peer.name);
    this.#changed();
  }

  /** A link went down: fail what was pending on it, here and at the origins of relayed requests. */
  #linkDown(peer: Peer, link: Link, reason: string): void {
    const n = this.#pending.failLink(
      link.id,
      `connection to ${peer.name} was lost before {dst} answered (${reason})`,
    );
    const lost = { peer: peer.name, count: n };
    if (n > 0) this.#log.warn("requests failed on a lost connection", lost);
    this.#relay.linkLost(peer.name, link, reason);
    this.#presence.linkDown(peer.name, link, peer.link === null);
    // A node without a section is forgotten with its last link; a link replaced
    // by a newer one (a reconnect) leaves the peer connected and kept.
    if (this.#peers.forgetIfUnconfigured(peer)) this.#routes.forgetNeighbour(peer.name);
    this.#changed();
  }
}
