/**
 * `portal --config FILE`: assembles a node (federation, path router, modules,
 * HTTP API) from a resolved config, runs it until SIGTERM/SIGINT, then stops
 * within 5 s and exits 0.
 */
import { AccessError, createAccess } from "../access/mod.ts";
import type { Config } from "../config/types.ts";
import { ConfigError, formatWarning, loadConfig } from "../config/mod.ts";
import { createEvents, type Events, publishPeerChanges } from "../events/mod.ts";
import { Federation } from "../federation/federation.ts";
import { type HttpApi, startHttpApi } from "../http/mod.ts";
import { limitRemoteLines, LogLimiter } from "../log/limiter.ts";
import { createLogger, type Logger, stderrIsJournal } from "../log/logger.ts";
import { createNodeMetrics, type NodeMetrics } from "../metrics/mod.ts";
import { MAX_PEM_BYTES } from "../config/files.ts";
import { registerCore } from "../modules/core/mod.ts";
import { createIotModule, type IotModule } from "../modules/iot/mod.ts";
import { registerNodePaths } from "../federation/paths.ts";
import { PathRouter } from "../paths/mod.ts";
import { errorText } from "../util/errors.ts";
import { type Dialer, openListener, tcpTlsDialer } from "../transport/mod.ts";
import { openNodeTlsListener } from "../transport/node_tls.ts";
import { type Clock, systemClock } from "../util/clock.ts";
import { ReadFileError, readRegularTextFile } from "../util/read.ts";
import {
  type ConnectionPlan,
  type Descriptors,
  planConnections,
  probeCap,
  probeDescriptors,
} from "./limits.ts";
import { notifySystemd } from "./notify.ts";
import { VERSION } from "../version.ts";

/** `232`, `at least 8512` or `unknown`: the descriptors free at start, for log lines. */
function describeDescriptors(plan: ConnectionPlan): string {
  const d = plan.descriptors;
  return d === null ? "unknown" : `${d.atLeast ? "at least " : ""}${d.free}`;
}

/** A node that is up: listener bound, API serving, dials started. */
export interface RunningNode {
  readonly config: Config;
  readonly federation: Federation;
  readonly router: PathRouter;
  readonly http: HttpApi | null;
  readonly iot: IotModule | null;
  /** Subscriptions: this node's listeners and the nodes subscribed here. */
  readonly events: Events;
  /** What `/metrics` shows. */
  readonly metrics: NodeMetrics;
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

/**
 * Reads a PEM file as the config check did: a regular file under the size
 * bound, so a FIFO or a device swapped in since then is refused at once.
 */
async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readRegularTextFile(path, MAX_PEM_BYTES);
  } catch (e) {
    const why = e instanceof ReadFileError ? e.message : errorText(e);
    throw new StartError("tls_files", `${path}: cannot read ${what}: ${why}`);
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
  const caPem = node.tls && node.tlsCa ? await readPem(node.tlsCa, "tls_ca") : null;
  const caCerts = caPem === null ? null : [caPem];
  let cert = "";
  let key = "";
  // A listener needs them; a dialer presents them when asked (§11) and signs with them.
  if (node.tls && (node.listenPort !== null || (node.tlsCert && node.tlsKey))) {
    cert = await readPem(node.tlsCert ?? "", "tls_cert");
    key = await readPem(node.tlsKey ?? "", "tls_key");
  }
  const haveCert = cert !== "" && key !== "";
  const requireCert = node.tls && node.tlsClientAuth === "require";

  let access;
  try {
    access = await createAccess(config, {
      router,
      pems: { cert: haveCert ? cert : null, key: haveCert ? key : null, ca: caPem },
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
    clock,
    dialer: options.dialer ??
      tcpTlsDialer({ tls: node.tls, caCerts, clientCert: haveCert ? { cert, key } : null }),
    requireCertificateName: requireCert,
    listen: node.listenPort === null ? null : node.tls
      ? () =>
        openNodeTlsListener({
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
    certificates: [
      ...(haveCert ? [{ key: "tls_cert" as const, pem: cert }] : []),
      ...(caPem !== null ? [{ key: "tls_ca" as const, pem: caPem }] : []),
    ],
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

  let stopping: Promise<void> | null = null;
  return {
    config,
    federation,
    router,
    http,
    iot,
    events: ev,
    metrics,
    stop() {
      stopping ??= (async () => {
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
    },
  };
}

/** How long a stop may take before the process exits regardless. */
const STOP_DEADLINE_MS = 5000;

/** Runs a node until a signal; returns the exit status (2 config, 1 start failure, 0 clean stop). */
export async function runNode(configPath: string): Promise<number> {
  let config: Config;
  try {
    config = await loadConfig(configPath);
  } catch (e) {
    if (e instanceof ConfigError) {
      console.error(e.message);
      return 2;
    }
    throw e;
  }
  const logger = createLogger({
    level: config.portal.logLevel,
    format: config.portal.logFormat,
    journal: stderrIsJournal(),
  });
  for (const warning of config.warnings) logger.warn(formatWarning(warning));
  let running: RunningNode;
  try {
    running = await startNode(config, { logger });
  } catch (e) {
    if (e instanceof StartError) {
      logger.error(e.message);
      console.error(`portal: ${e.message}`);
      // A certificate file that is no longer what the config check read is a config error.
      return e.code === "tls_files" ? 2 : 1;
    }
    throw e;
  }
  // Listen for signals before telling systemd we are ready: a stop that
  // follows READY=1 at once must still take the graceful path.
  const signalled = waitForSignal(logger);
  const fedAddr = running.federation.listenAddr;
  logger.info("node ready", {
    node: config.node.name,
    version: VERSION,
    config: config.file,
    federation: fedAddr ? `${fedAddr.hostname}:${fedAddr.port}` : "off",
    api: running.http ? `${running.http.addr.hostname}:${running.http.addr.port}` : "off",
  });
  await notifySystemd("READY=1", logger);

  const signal = await signalled;
  logger.info("stopping", { signal });
  await notifySystemd("STOPPING=1", logger);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"late">((
    r,
  ) => (timer = setTimeout(() => r("late"), STOP_DEADLINE_MS)));
  const outcome = await Promise.race([running.stop().then(() => "done" as const), deadline]);
  clearTimeout(timer);
  if (outcome === "late") {
    logger.warn(`stop took longer than ${STOP_DEADLINE_MS / 1000}s; exiting anyway`);
  }
  logger.info("stopped");
  return 0;
}

function waitForSignal(logger: Logger): Promise<string> {
  return new Promise((resolve) => {
    const handlers: [Deno.Signal, () => void][] = [];
    const done = (sig: string) => {
      for (const [s, h] of handlers) Deno.removeSignalListener(s, h);
      resolve(sig);
    };
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const h = () => done(sig);
      handlers.push([sig, h]);
      Deno.addSignalListener(sig, h);
    }
    const hup = () =>
      logger.warn(
        "SIGHUP received: configuration is read at start only; restart portal to apply changes",
      );
    handlers.push(["SIGHUP", hup]);
    Deno.addSignalListener("SIGHUP", hup);
  });
}
