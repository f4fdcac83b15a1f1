/** Builds resolved configs and in-process nodes for federation tests. */
import type { NodeConfig, PeerConfig } from "../../src/config/types.ts";
import { Federation, type FederationOptions } from "../../src/federation/federation.ts";
import { memoryLogger } from "../../src/log/logger.ts";
import { registerCore } from "../../src/modules/core/mod.ts";
import { registerNodePaths } from "../../src/federation/paths.ts";
import { PathRouter } from "../../src/paths/mod.ts";
import { openListener, tcpTlsDialer } from "../../src/transport/mod.ts";
import { type Clock, systemClock } from "../../src/util/clock.ts";
import { within } from "../kit/async.ts";

export const KEY = "test-federation-key";

/** A [mod_node] with test-friendly defaults (plain TCP, port 0). */
export function nodeConfig(name: string, over: Partial<NodeConfig> = {}): NodeConfig {
  return {
    name,
    federationKey: KEY,
    listenPort: 0,
    listenHost: "127.0.0.1",
    tls: false,
    tlsCert: null,
    tlsKey: null,
    tlsCa: null,
    workers: 4,
    queueLimit: 1024,
    requestTimeoutMs: 10_000,
    pingIntervalMs: 10_000,
    pingMaxMissed: 3,
    authTimeoutMs: 5_000,
    maxFrameBytes: 1024 * 1024,
    reconnectInitialMs: 1000,
    reconnectMaxMs: 60_000,
    reconnectJitter: 0,
    maxConnections: null,
    tlsClientAuth: "off",
    requireSigned: "none",
    sign: "call",
    auditLog: null,
    drainTimeoutMs: 5_000,
    ...over,
  };
}

/** A [peer:NAME] with defaults. */
export function peerConfig(name: string, over: Partial<PeerConfig> = {}): PeerConfig {
  return {
    name,
    host: "127.0.0.1",
    port: 9090,
    autoConnect: true,
    hubs: [],
    key: KEY,
    workers: 4,
    queueLimit: 1024,
    tlsServerName: null,
    tlsVerify: true,
    ...over,
  };
}

/** One in-process node: federation, router and a log kept in memory. */
export interface TestNode {
  readonly fed: Federation;
  readonly router: PathRouter;
  readonly log: string[];
  readonly port: number;
}

/** Starts a node with plain TCP (unless `node.tls`) on 127.0.0.1. */
export function startTestNode(
  node: NodeConfig,
  peers: PeerConfig[],
  opts: {
    clock?: Clock;
    router?: PathRouter;
    start?: boolean;
    onEvent?: FederationOptions["onEvent"];
  } = {},
): TestNode {
  const clock = opts.clock ?? systemClock;
  const router = opts.router ?? new PathRouter();
  const logger = memoryLogger();
  const fed = new Federation({
    config: { node, peers },
    router,
    logger,
    clock,
    dialer: tcpTlsDialer({ tls: node.tls, caCerts: null }),
    listen: node.listenPort === null
      ? null
      : () => openListener({ hostname: node.listenHost, port: node.listenPort ?? 0 }),
    onEvent: opts.onEvent,
  });
  registerCore(router, { name: node.name, clock, startedAt: clock.now() });
  registerNodePaths(router, { federation: fed, clock, startedAt: clock.now() });
  if (opts.start === false) return { fed, router, log: logger.lines, port: node.listenPort ?? 0 };
  fed.start();
  return { fed, router, log: logger.lines, port: fed.listenAddr?.port ?? 0 };
}

/** Resolves when `node`'s link to `peer` is up. */
export function linked(node: TestNode, peer: string): Promise<void> {
  return within(
    node.fed.when(() => node.fed.peer(peer)?.link != null),
    `${node.fed.name} ↔ ${peer}`,
  );
}

/** Resolves when `node` routes to `peer` through `hub` (the hub announced it, §9). */
export function reachableVia(node: TestNode, peer: string, hub: string): Promise<void> {
  return within(
    node.fed.when(() => {
      const v = node.fed.peerViews().find((p) => p.name === peer);
      return v?.status === "via-hub" && v.via === hub;
    }),
    `${node.fed.name} → ${peer} via ${hub}`,
  );
}
