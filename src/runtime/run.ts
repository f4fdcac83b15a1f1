/**
 * `portal --config FILE`: starts a node (node.ts) and runs it until SIGTERM
 * or SIGINT; SIGHUP reloads the config file (reload.ts). A stop drains: no
 * new requests, those in flight finish within drain_timeout, neighbours are
 * told; then the process exits 0.
 */
import type { Config } from "../config/types.ts";
import { ConfigError, formatWarning, loadConfig } from "../config/mod.ts";
import { createLogger, type Logger, LogLevelSwitch, stderrIsJournal } from "../log/logger.ts";
import { formatDuration } from "../util/format.ts";
import { type RunningNode, StartError, startNode } from "./node.ts";
import { notifySystemd } from "./notify.ts";
import { VERSION } from "../version.ts";
import { hostPortText } from "../util/host.ts";

export { type RunningNode, StartError, startNode, type StartNodeOptions } from "./node.ts";

/**
 * Time a stop may take beyond drain_timeout before the process exits
 * regardless: closing links and writing the last audit lines.
 */
const STOP_MARGIN_MS = 5000;

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
  const logLevel = new LogLevelSwitch(config.portal.logLevel);
  const logger = createLogger({
    level: logLevel,
    format: config.portal.logFormat,
    journal: stderrIsJournal(),
  });
  // The expiry watch (cert_watch.ts) says it when the node starts.
  for (const warning of config.warnings) {
    if (warning.code !== "cert_expiring") logger.warn(formatWarning(warning));
  }
  let running: RunningNode;
  try {
    running = await startNode(config, { logger, logLevel });
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
  const signals = listenForSignals(logger, running);
  const fedAddr = running.federation.listenAddr;
  logger.info("node ready", {
    node: config.node.name,
    version: VERSION,
    config: config.file,
    federation: fedAddr ? hostPortText(fedAddr.hostname, fedAddr.port) : "off",
    api: running.http ? hostPortText(running.http.addr.hostname, running.http.addr.port) : "off",
  });
  await notifySystemd("READY=1", logger);

  const signal = await signals.stop;
  const graceMs = running.config.node.drainTimeoutMs;
  logger.info("stopping", { signal, drain_timeout: formatDuration(graceMs) });
  await notifySystemd("STOPPING=1", logger);
  const deadlineMs = graceMs + STOP_MARGIN_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), deadlineMs)));
  const outcome = await Promise.race([
    running.drain(graceMs).then(() => "done" as const),
    deadline,
  ]);
  clearTimeout(timer);
  signals.remove();
  if (outcome === "late") {
    logger.warn(`stop took longer than ${formatDuration(deadlineMs)}; exiting anyway`);
  }
  logger.info("stopped");
  return 0;
}

/**
 * SIGTERM and SIGINT resolve `stop`; SIGHUP reloads (one at a time: a second
 * SIGHUP during a reload queues one more, which reads the file as it is then).
 */
function listenForSignals(
  logger: Logger,
  node: RunningNode,
): { stop: Promise<string>; remove: () => void } {
  const handlers: [Deno.Signal, () => void][] = [];
  const remove = () => {
    for (const [s, h] of handlers.splice(0)) Deno.removeSignalListener(s, h);
  };
  let stopping = false;
  const stop = new Promise<string>((resolve) => {
    for (const sig of ["SIGTERM", "SIGINT"] as const) {
      const h = () => {
        if (stopping) return;
        stopping = true;
        resolve(sig);
      };
      handlers.push([sig, h]);
      Deno.addSignalListener(sig, h);
    }
  });
  const hup = () => {
    if (stopping) {
      logger.warn("SIGHUP received while stopping: not reloading");
      return;
    }
    // The outcome is logged by the reload itself.
    node.reload("SIGHUP").catch((e) => logger.error("reload failed", { error: String(e) }));
  };
  handlers.push(["SIGHUP", hup]);
  Deno.addSignalListener("SIGHUP", hup);
  return { stop, remove };
}
