/**
 * Assembling a node (federation, path router, modules, HTTP API) from a
 * resolved config, and taking it apart again: at once (stop) or gracefully
 * (drain). Reloads are in reload.ts, the process around it in run.ts.
 */
import { AccessError, createAccess } from "../access/mod.ts";
import type { Config } from "../config/types.ts";
import { createEvents, type Events, publishPeerChanges } from "../events/mod.ts";
import { Federation } from "../federation/federation.ts";
import { type HttpApi, startHttpApi } from "../http/mod.ts";
import { limitRemoteLines, LogLimiter } from "../log/limiter.ts";
import type { Logger, LogLevelSwitch } from "../log/logger.ts";
import { createNodeMetrics, type NodeMetrics } from "../metrics/mod.ts";
import { registerCore } from "../modules/core/mod.ts";
import { createIotModule, type IotModule } from "../modules/iot/mod.ts";
import { registerNodePaths } from "../federation/paths.ts";
import { PathRouter } from "../paths/mod.ts";
import { errorText } from "../util/errors.ts";
import { formatDuration } from "../util/format.ts";
import { type Dialer, openListener } from "../transport/mod.ts";
import { openTlsListener } from "./tls_listener.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { watchCertificateExpiry } from "./cert_watch.ts";
import { registerReloadPath, Reloader, type ReloadOutcome } from "./reload.ts";
import {
  accessPems,
  NodeCredentials,
  readTlsMaterial,
  TlsFilesError,
  type TlsMaterial,
  watchedCertificates,
} from "./tls_files.ts";
import {
  type ConnectionPlan,
  type Descriptors,
  planConnections,
  probeCap,
  probeDescriptors,
} from "./limits.ts";

/** `232`, `at least 8512` or `unknown`: the descriptors free at start, for log lines. */
function describeDescriptors(plan: ConnectionPlan): string {
  const d = plan.descriptors;
  return d === null ? "unknown" : `${d.atLeast ? "at least " : ""}${d.free}`;
}

/** A node that is up: listener bound, API serving, dials started. */
export interface RunningNode {
  /** The config in force: the one started with, or the last one a reload applied. */
  readonly config: Config;
  readonly federation: Federation;
  readonly router: PathRouter;
  readonly http: HttpApi | null;
  readonly iot: IotModule | null;
  /** Subscriptions: this node's listeners and the nodes subscribed here. */
  readonly events: Events;
  /** What `/metrics` shows. */
  readonly metrics: NodeMetrics;
  /** Reads the config file again and applies what changed, or refuses it (reload.ts). */
  reload(source: string): Promise<ReloadOutcome>;
  /**
   * Leaves gracefully: no new HTTP or federation requests, neighbours told
   * (the leaving EVENT), those in flight finish for up to `graceMs`; then stops.
   */
  drain(graceMs: number): Promise<void>;
  /** Stops everything: no new connections, pending requests failed, links closed. */
  stop(): Promise<void>;
}

/** Options of {@link startNode}. */
export interface StartNodeOptions {
  readonly logger: Logger;
  /** Default: the system clock. */
  readonly clock?: Clock;
  /** Default: TCP + TLS per the config. */
  readonly dialer?: Dialer;
  /** File descriptors free at start; default: counted (see runtime/limits.ts); null: unknown. */
  readonly descriptors?: Descriptors | null;
  /** The logger's level, which a reload sets; default none (the level is left alone). */
  readonly logLevel?: LogLevelSwitch;
  /** Wall clock, unix ms (certificate expiry). Default Date.now. */
  readonly now?: () => number;
}

/** Why a node could not start, with a sentence saying what to change. */
export class StartError extends Error {
  override readonly name = "StartError";
  constructor(
    readonly code: "tls_files" | "listen" | "http" | "iot" | "access",
    message: string,
  ) {
    super(message);
  }
}

/** Builds and starts a node from `config`. */
export async function startNode(config: Config, options: StartNodeOptions): Promise<RunningNode> {
  const clock = options.clock ?? systemClock;
  // Lines a remote party can repeat are limited per kind and source; summaries go unlimited.
  const limiter = new LogLimiter({ logger: options.logger, clock });
  const log = limitRemoteLines(options.logger, limiter);
  const node = config.node;
  const startedAt = clock.now();
  const router = new PathRouter();

  if (!node.tls) {
    log.warn("TLS is off (tls = false): federation traffic and keys' digests travel in clear text");
  }
  for (const p of config.peers) {
    if (node.tls && !p.tlsVerify) {
      log.warn(
        `tls_verify = false for peer ${p.name}: its certificate is not verified, so anyone on ` +
          `the path could pose as it; put its CA in tls_ca instead`,
      );
    }
  }
  const httpOn = config.http.listen !== null;
  const descriptors = options.descriptors !== undefined
    ? options.descriptors
    : probeDescriptors(probeCap(node.maxConnections, httpOn));
  const plan = planConnections(descriptors, node.maxConnections, httpOn);
  if (plan.warning !== null) log.warn(plan.warning);
  let material: TlsMaterial;
  try {
    material = await readTlsMaterial(node);
  } catch (e) {
    if (e instanceof TlsFilesError) throw new StartError("tls_files", e.message);
    throw e;
  }
  const caPem = material.ca;
  const cert = material.pair?.cert ?? "";
  const key = material.pair?.key ?? "";
  const requireCert = node.tls && node.tlsClientAuth === "require";
  const credentials = new NodeCredentials(node, material, options.dialer ?? null);

  let access;
  try {
    access = await createAccess(config, {
      router,
      pems: accessPems(material),
      logger: log,
      clock,
    });
  } catch (e) {
    if (e instanceof AccessError) throw new StartError("access", e.message);
    throw e;
  }

  // The events need the federation and the federation hands them EVENTs: linked below.
  let events: Events | null = null;
  // Made once the parts it reads exist; the listener reports refusals to it before that.
  let metrics: NodeMetrics | null = null;
  const federation = new Federation({
    config,
    router: access.gate,
    onEvent: (ev) => events?.hub.remote(ev.src, ev.topic, ev.data),
    sign: access.sign,
    logger: log,
    limiter,
    clock,
    dialer: credentials.dialer,
    requireCertificateName: requireCert,
    listen: node.listenPort === null ? null : node.tls
      ? () =>
        openTlsListener({
          hostname: node.listenHost,
          port: node.listenPort ?? 0,
          cert,
          key,
          clientCa: requireCert ? caPem : null,
          handshakeTimeoutMs: node.authTimeoutMs,
          maxConnections: plan.federation,
          clock,
          onTlsError: (remote, reason) => {
            metrics?.refused("tls_handshake");
            log.warn("TLS handshake failed", { remote, reason });
          },
          onRefused: (remote, reason) => {
            metrics?.refused("max_connections");
            log.warn("connection refused", { remote, reason });
          },
          onShed: (remote, reason) => {
            metrics?.refused("shed");
            log.warn("connection shed", { remote, reason });
          },
          onExhausted: (reason, pauseMs, holding) =>
            log.error("federation listener out of file descriptors", {
              reason,
              action: `accepting pauses ${pauseMs} ms and resumes by itself; from now on at ` +
                `most ${holding} connections are held (raise LimitNOFILE=)`,
              free_at_start: describeDescriptors(plan),
            }),
          onResumed: (failures) =>
            log.info("federation listener accepting again", { failed_accepts: failures }),
          onCertificateError: (reason) =>
            log.error("new certificate not taken by the federation listener", {
              reason,
              action: "the certificate in use stays; fix the files and reload again",
            }),
        }, log).then((listener) => {
          // A reload hands it new certificates for the connections that come after it.
          credentials.listener = listener;
          return listener;
        })
      : () => openListener({ hostname: node.listenHost, port: node.listenPort ?? 0 }),
  });
  registerCore(router, { name: node.name, clock, startedAt });
  registerNodePaths(router, { federation, clock, startedAt });
  const ev = createEvents({
    name: node.name,
    clock,
    logger: log.with({ component: "events" }),
    request: (dst, method, path, args) => federation.request(dst, method, path, args),
    send: (dst, topic, data) => federation.sendEvent(dst, topic, data),
    mayRead: access.mayRead,
  });
  events = ev;
  ev.register(router);
  const stopPeerEvents = publishPeerChanges(federation, ev.publish);

  let iot: IotModule | null = null;
  if (config.iot) {
    try {
      iot = createIotModule(config.iot, {
        clock,
        logger: log,
        node: node.name,
        onEvent: ev.publish,
      });
    } catch (e) {
      await access.close();
      throw new StartError("iot", `cannot set up [mod_iot]: ${errorText(e)}`);
    }
    iot.register(router);
  }

  metrics = createNodeMetrics({
    name: node.name,
    clock,
    federation,
    iot,
    gate: access.gate,
    events: ev,
    certificates: watchedCertificates(material),
  });

  try {
    await federation.listen();
  } catch (e) {
    await federation.stop();
    await access.close();
    limiter.stop();
    throw new StartError(
      "listen",
      `${errorText(e)} — is another portal running? check [mod_node] listen_port`,
    );
  }
  let http: HttpApi | null = null;
  if (config.http.listen !== null) {
    try {
      http = await startHttpApi({
        config: config.http,
        router: metrics.instrument(access.gate),
        logger: log,
        clock,
        maxConnections: plan.http,
        extras: {
          metrics,
          events: {
            source: ev.hub,
            node: node.name,
            knows: (name) => name === node.name || federation.peer(name) !== undefined,
          },
          dashboard: true,
        },
      });
    } catch (e) {
      await federation.stop();
      await access.close();
      limiter.stop();
      throw new StartError("http", errorText(e));
    }
  }
  iot?.start();
  federation.dialAll();

  const certWatch = watchCertificateExpiry(material.pair?.cert ?? null, node.tlsCert, {
    logger: log,
    clock,
    now: options.now,
  });
  const reloader = new Reloader({
    config,
    logger: log,
    parts: {
      federation,
      iot,
      access,
      http,
      level: options.logLevel ?? null,
      credentials,
      onCertificates: (m, certPath) => {
        metrics?.setCertificates(watchedCertificates(m));
        certWatch.check(m.pair?.cert ?? null, certPath);
      },
    },
  });
  registerReloadPath(router, reloader);

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      reloader.close();
      certWatch.stop();
      stopPeerEvents();
      ev.stop();
      await Promise.allSettled([
        http?.shutdown() ?? Promise.resolve(),
        iot?.stop() ?? Promise.resolve(),
        federation.stop(),
      ]);
      // Last: the outcome lines of CALLs that were still running are written first.
      await access.close();
      limiter.stop();
    })();
    return stopping;
  };
  let draining: Promise<void> | null = null;
  return {
    get config() {
      return reloader.config;
    },
    federation,
    router,
    http,
    iot,
    events: ev,
    metrics,
    reload: (source) => reloader.reload(source),
    drain(graceMs) {
      draining ??= (async () => {
        reloader.close();
        // Both stop taking new work at once; each lets its own requests in flight finish.
        const [, fed] = await Promise.allSettled([
          http?.drain(graceMs) ?? Promise.resolve(),
          federation.drain(graceMs),
        ]);
        if (fed.status === "fulfilled" && !fed.value) {
          log.warn("requests still in flight at the end of drain_timeout fail now", {
            drain_timeout: formatDuration(graceMs),
          });
        }
        await stop();
      })();
      return draining;
    },
    stop,
  };
}
