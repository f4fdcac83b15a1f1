/**
 * A node's metrics: everything is read from the running node at scrape time
 * (peers, pools, devices, counters), except request latencies, which are
 * observed as requests pass through {@link NodeMetrics.instrument}, and
 * listener refusals, which the TLS listener reports as they happen.
 */
import type { GateCounters } from "../access/gate.ts";
import type { Events } from "../events/mod.ts";
import { splitRemote } from "../events/topics.ts";
import type { Federation, PeerView } from "../federation/federation.ts";
import type { IotModule } from "../modules/iot/mod.ts";
import type { PathRequest, PathResponse, PathService } from "../paths/types.ts";
import { certificateInfo } from "../pki/info.ts";
import type { Clock } from "../util/clock.ts";
import { VERSION } from "../version.ts";
import { type LabeledValue, Scrape, single } from "./exposition.ts";
import { Histogram } from "./histogram.ts";

/** A PEM whose first certificate's expiry is watched, named by the config key it came from. */
export interface WatchedCertificate {
  readonly key: "tls_cert" | "tls_ca";
  readonly pem: string;
}

/** What the metrics read. */
export interface NodeMetricsOptions {
  /** This node's name. */
  readonly name: string;
  readonly clock: Clock;
  /** Wall clock, unix ms (certificate expiry, process start). Default Date.now. */
  readonly now?: () => number;
  readonly federation: Federation;
  readonly iot?: IotModule | null;
  /** The access gate's decisions. */
  readonly gate?: { readonly counters: GateCounters } | null;
  readonly events?: Events | null;
  /** Certificates whose expiry is exposed. Default none. */
  readonly certificates?: readonly WatchedCertificate[];
}

/** Why a collector is added: a part of the node that has figures of its own (the SSE streams). */
export type Collector = (scrape: Scrape) => void;

/** Label value for a destination that is neither this node nor a known peer. */
export const UNKNOWN_DESTINATION = "unknown";

/** The node's metrics. */
export interface NodeMetrics {
  /** The exposition text now. */
  render(): string;
  /** Adds figures read at each scrape. */
  collect(collector: Collector): void;
  /** Wraps the service the HTTP API calls, timing each request by destination, method and status. */
  instrument(service: PathService): PathService;
  /** A connection the listener refused before the federation saw it (`max_connections`, `tls_handshake`). */
  refused(reason: "max_connections" | "tls_handshake" | "shed"): void;
  /** The certificates in use after a reload re-read them. */
  setCertificates(list: readonly WatchedCertificate[]): void;
}

const PEER_STATES = ["connected", "via-hub", "connecting", "disconnected"] as const;

/** Builds the metrics of one node. */
export function createNodeMetrics(o: NodeMetricsOptions): NodeMetrics {
  const now = o.now ?? Date.now;
  const startedAtUnix = now();
  const fed = o.federation;
  const collectors: Collector[] = [];
  const listenerRefused = new Map<string, number>();
  const requests = new Histogram({
    name: "portal_request_duration_seconds",
    help: "Requests made through this node's HTTP API (shell, dashboard, programs), by " +
      "destination node, method and answer status: time to the answer.",
    labelNames: ["destination", "method", "status"],
  });
  const watched = (list: readonly WatchedCertificate[]) =>
    list.flatMap((c) => {
      try {
        const info = certificateInfo(c.pem, { path: c.key });
        return [{ key: c.key, subject: info.subject, notAfter: info.notAfter.getTime() }];
      } catch {
        // The node runs with these files; one it cannot read here has nothing to expose.
        return [];
      }
    });
  let certificates = watched(o.certificates ?? []);

  const destinationOf = (path: string): string => {
    const { node } = splitRemote(path, o.name);
    if (node === null) return o.name;
    return fed.peer(node) !== undefined ? node : UNKNOWN_DESTINATION;
  };

  const collectPeers = (s: Scrape, views: readonly PeerView[]) => {
    const peer = (name: string) => ({ peer: name });
    s.gauge(
      "portal_peer_up",
      "1 when the peer is reachable (connected, or via a hub that lists it), else 0.",
      views.map((v) => ({
        labels: peer(v.name),
        value: v.status === "connected" || v.status === "via-hub" ? 1 : 0,
      })),
    );
    s.gauge(
      "portal_peer_state",
      "The peer's status as node peers shows it: 1 for the current state, 0 for the others.",
      views.flatMap((v) =>
        PEER_STATES.map((state) => ({
          labels: { peer: v.name, state },
          value: v.status === state ? 1 : 0,
        }))
      ),
    );
    s.gauge(
      "portal_peer_rtt_seconds",
      "Round trip to the peer: its latest PONG, or through a hub the hub's plus the hub's own.",
      views.filter((v) => v.latency_ms !== null).map((v) => ({
        labels: peer(v.name),
        value: v.latency_ms! / 1000,
      })),
    );
    const actors = views.flatMap((v) => {
      const p = fed.peer(v.name);
      return p === undefined ? [] : [p];
    });
    const traffic = (
      key: "received" | "sent" | "relayed" | "dropped",
    ): LabeledValue[] => actors.map((p) => ({ labels: peer(p.name), value: p.traffic[key] }));
    s.counter(
      "portal_peer_messages_received_total",
      "REQUEST, RESPONSE and EVENT messages received on links to the peer.",
      traffic("received"),
    );
    s.counter(
      "portal_peer_messages_sent_total",
      "Messages written to the peer's link, relayed ones included.",
      traffic("sent"),
    );
    s.counter(
      "portal_peer_messages_relayed_total",
      "Messages relayed to the peer on behalf of other nodes.",
      traffic("relayed"),
    );
    s.counter(
      "portal_peer_messages_dropped_total",
      "Messages for the peer that its link refused (closed, or too much queued).",
      traffic("dropped"),
    );
    s.counter(
      "portal_peer_reconnects_total",
      "Times a new link to the peer came up after its first.",
      actors.map((p) => ({ labels: peer(p.name), value: Math.max(0, p.linksUp - 1) })),
    );
    const at = o.clock.now();
    s.gauge(
      "portal_peer_link_uptime_seconds",
      "How long the direct link to the peer has been up; 0 without one.",
      actors.map((p) => ({
        labels: peer(p.name),
        value: p.link === null ? 0 : Math.max(0, (at - p.link.since) / 1000),
      })),
    );
  };

  const collectFederation = (s: Scrape, views: readonly PeerView[]) => {
    const c = fed.counters;
    s.counter(
      "portal_messages_sent_total",
      "Messages this node wrote to its links.",
      single(c.sent),
    );
    s.counter(
      "portal_messages_received_total",
      "Messages that arrived on this node's links.",
      single(c.received),
    );
    s.counter(
      "portal_messages_relayed_total",
      "Messages this node relayed for other nodes.",
      single(c.relayed),
    );
    s.counter(
      "portal_messages_dropped_total",
      "Messages that went no further: no route, refused by a link, malformed or not trusted.",
      single(c.dropped),
    );
    let authenticated = 0;
    for (const name of fed.peerNames()) if (fed.peer(name)?.link) authenticated++;
    s.gauge(
      "portal_authenticated_peers",
      "Peers with an authenticated link to this node now.",
      single(authenticated),
    );
    s.gauge(
      "portal_pending_handshakes",
      "Connections still authenticating (PORTAL02 section 3).",
      single(fed.handshakeCount),
    );
    s.gauge(
      "portal_open_connections",
      "Federation connections open, authenticated or not.",
      single(fed.connectionCount),
    );
    // The listener and the link manager may count the same reason (`shed`): summed.
    const refused = new Map(fed.refusedConnections);
    for (const [reason, n] of listenerRefused) refused.set(reason, (refused.get(reason) ?? 0) + n);
    s.counter(
      "portal_refused_connections_total",
      "Inbound connections turned away before authentication, by reason.",
      [...refused].map(([reason, value]) => ({ labels: { reason }, value })),
    );
    const status = fed.status(views);
    s.counter(
      "portal_name_conflicts_total",
      "Dialers refused with 409 because a live connection held their name.",
      single(status.name_conflicts),
    );
    const pools = fed.pools();
    const pool = (f: (p: (typeof pools)[number]["pool"]) => number): LabeledValue[] =>
      pools.map(({ origin, pool }) => ({ labels: { origin }, value: f(pool) }));
    s.gauge(
      "portal_pool_running",
      "Requests from the origin node running now.",
      pool((p) => p.active),
    );
    s.gauge(
      "portal_pool_queued",
      "Requests from the origin node waiting for a worker.",
      pool((p) => p.queued),
    );
    s.gauge("portal_pool_workers", "Workers of the origin's pool.", pool((p) => p.workers));
    s.gauge(
      "portal_pool_queue_limit",
      "Queue bound of the origin's pool.",
      pool((p) => p.queueLimit),
    );
    s.counter(
      "portal_pool_rejected_total",
      "Requests from the origin answered 503 because its queue was full.",
      pool((p) => p.rejected),
    );
  };

  const collectNode = (s: Scrape) => {
    const iot = o.iot ?? null;
    if (iot !== null) {
      const devices = iot.devices();
      s.gauge(
        "portal_device_online",
        "1 when the last exchange with the device succeeded.",
        devices.map((d) => ({ labels: { device: d.id }, value: d.online ? 1 : 0 })),
      );
      s.gauge(
        "portal_device_on",
        "1 when the device is on, 0 when off; absent while unknown.",
        devices.filter((d) => d.on !== null).map((d) => ({
          labels: { device: d.id },
          value: d.on ? 1 : 0,
        })),
      );
      const c = iot.counters;
      s.counter("portal_device_polls_total", "State reads sent by the poller.", single(c.polls));
      s.counter("portal_device_commands_total", "Switch commands sent.", single(c.commands));
      s.counter(
        "portal_device_changes_total",
        "On or online changes observed.",
        single(c.changes),
      );
      s.counter(
        "portal_device_failures_total",
        "Device exchanges that failed.",
        single(c.failures),
      );
    }
    const gate = o.gate ?? null;
    if (gate !== null) {
      s.counter(
        "portal_access_decisions_total",
        "Requests the access gate decided ([acl], signatures, tokens), by verdict.",
        [
          { labels: { verdict: "allowed" }, value: gate.counters.allowed },
          { labels: { verdict: "refused" }, value: gate.counters.refused },
        ],
      );
    }
    const events = o.events ?? null;
    if (events !== null) {
      const p = events.publisher;
      s.gauge(
        "portal_event_subscriptions",
        "Subscriptions other nodes hold on this node's paths.",
        single(p.size),
      );
      s.counter(
        "portal_events_sent_total",
        "EVENTs sent to subscribed nodes.",
        single(p.counters.sent),
      );
      s.counter(
        "portal_events_dropped_total",
        "EVENTs not sent: a subscriber's queue full (oldest dropped), no route, or refused.",
        single(p.counters.dropped),
      );
      s.counter(
        "portal_event_leases_expired_total",
        "Subscriptions that ended because their lease ran out unrenewed.",
        single(p.counters.expired),
      );
      s.gauge(
        "portal_event_listeners",
        "Event streams on this node (SSE, watch).",
        single(events.hub.listeners),
      );
      s.gauge(
        "portal_event_remote_subscriptions",
        "Subscriptions this node holds on other nodes for its listeners.",
        single(events.hub.remotes().length),
      );
    }
    const wall = now();
    s.gauge(
      "portal_certificate_expiry_seconds",
      "Seconds until the certificate's notAfter; negative once expired.",
      certificates.map((c) => ({
        labels: { key: c.key, subject: c.subject },
        value: Math.round((c.notAfter - wall) / 1000),
      })),
    );
    s.gauge(
      "portal_build_info",
      "Always 1; the labels say which build runs.",
      [{ labels: { version: VERSION, deno: Deno.version.deno, node: o.name }, value: 1 }],
    );
    s.gauge(
      "process_start_time_seconds",
      "Start time of the process since the unix epoch.",
      single(Math.round(startedAtUnix / 1000)),
    );
    s.gauge(
      "process_resident_memory_bytes",
      "Resident memory of the process.",
      single(Deno.memoryUsage().rss),
    );
  };

  return {
    render() {
      const s = new Scrape();
      // One set of peer rows per scrape: a hub's thousands of peers are walked once.
      const views = fed.peerViews();
      collectPeers(s, views);
      collectFederation(s, views);
      collectNode(s);
      s.add(requests.family());
      for (const c of collectors) c(s);
      return s.render();
    },
    collect(collector) {
      collectors.push(collector);
    },
    instrument(service) {
      return {
        async handle(req: PathRequest): Promise<PathResponse> {
          const started = o.clock.now();
          let status = 500;
          try {
            const res = await service.handle(req);
            status = res.status;
            return res;
          } finally {
            requests.observe(
              { destination: destinationOf(req.path), method: req.method, status: String(status) },
              (o.clock.now() - started) / 1000,
            );
          }
        },
      };
    },
    refused(reason) {
      listenerRefused.set(reason, (listenerRefused.get(reason) ?? 0) + 1);
    },
    setCertificates(list) {
      certificates = watched(list);
    },
  };
}
