/** The summary `portal check-config` prints for a valid config. Never shows keys or tokens. */
import { formatDuration } from "../util/format.ts";
import type { Config, PeerConfig } from "./types.ts";

/** A placeholder key from the example configs, which must not reach production. */
const EXAMPLE_KEY_PREFIX = "change-me";
/** Shorter shared secrets are guessable offline from one captured handshake. */
const SHORT_KEY_CHARS = 16;
const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** A short multi-line description of what this config will do when started. */
export function describeConfig(config: Config): string {
  const { node, http, iot, portal } = config;
  const lines: string[] = [`node ${node.name} (${config.file})`];

  const listener = node.listenPort === null
    ? "off (dial-only)"
    : `${hostPort(node.listenHost, node.listenPort)}${
      node.listenPort === 0 ? " (a free port)" : ""
    }, TLS ${node.tls ? "on" : "off (plain TCP)"}`;
  lines.push(`  federation listener: ${listener}`);
  if (node.tls) {
    const files = [
      ...(node.tlsCert ? [`cert ${node.tlsCert}`] : []),
      ...(node.tlsKey ? [`key ${node.tlsKey}`] : []),
      `CA ${node.tlsCa ?? "system roots"}`,
    ];
    lines.push(`  TLS files: ${files.join(", ")}`);
  }

  if (http.listen === null) {
    lines.push("  HTTP API: off");
  } else {
    const open = !LOOPBACK.has(http.listen.hostname) && http.token === null
      ? " (anyone who can reach it can switch devices: set token)"
      : "";
    lines.push(
      `  HTTP API: ${hostPort(http.listen.hostname, http.listen.port)}, ` +
        `${http.token === null ? "no token" : "token set"}${open}`,
    );
  }

  lines.push(`  peers: ${config.peers.length}`);
  const width = Math.max(0, ...config.peers.map((p) => p.name.length));
  for (const peer of config.peers) {
    lines.push(`    ${peer.name.padEnd(width)}  ${describePeer(peer, node.federationKey)}`);
  }

  if (iot === null) {
    lines.push("  devices: none ([mod_iot] off)");
  } else {
    const list = iot.devices.map((d) => `${d.id} (${d.driver}${d.host ? ` ${d.host}` : ""})`);
    lines.push(
      `  devices: ${iot.devices.length}${list.length > 0 ? `: ${list.join(", ")}` : ""}; ` +
        `poll every ${formatDuration(iot.pollIntervalMs)}`,
    );
  }
  lines.push(`  log: ${portal.logLevel}, ${portal.logFormat}`);

  for (const warning of keyWarnings(config)) lines.push(`  warning: ${warning}`);
  return lines.join("\n");
}

function describePeer(peer: PeerConfig, federationKey: string): string {
  const parts = [peer.host === null ? "no host" : hostPort(peer.host, peer.port)];
  parts.push(peer.autoConnect ? "auto_connect" : "no auto_connect");
  if (peer.hubs.length > 0) parts.push(`hub ${peer.hubs.join(", ")}`);
  if (peer.key !== federationKey) parts.push("own key");
  if (!peer.tlsVerify) parts.push("TLS verification OFF");
  return parts.join(", ");
}

/** Says what is weak about the keys without revealing them. */
function keyWarnings(config: Config): string[] {
  const keys = [
    { where: "federation_key", key: config.node.federationKey },
    ...config.peers
      .filter((p) => p.key !== config.node.federationKey)
      .map((p) => ({ where: `key in [peer:${p.name}]`, key: p.key })),
  ];
  const out: string[] = [];
  for (const { where, key } of keys) {
    if (key.startsWith(EXAMPLE_KEY_PREFIX)) {
      out.push(`${where} is still the example value; replace it with a long random secret`);
    } else if (key.length < SHORT_KEY_CHARS) {
      out.push(`${where} is shorter than ${SHORT_KEY_CHARS} characters`);
    }
  }
  return out;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(":") ? `[${host}]` : host}:${port}`;
}
