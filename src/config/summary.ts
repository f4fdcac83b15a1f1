/** The summary `portal check-config` prints for a valid config. Never shows keys or tokens. */
import { formatDuration } from "../util/format.ts";
import { hostPortText } from "../util/host.ts";
import { certificateExpiry, day, DAY_MS } from "./files.ts";
import type { Config, NodeConfig, PeerConfig } from "./types.ts";

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);
const SIGNED: Readonly<Record<NodeConfig["sign"] | NodeConfig["requireSigned"], string>> = {
  off: "nothing",
  none: "nothing",
  call: "CALLs",
  all: "all requests",
};

/** Options of {@link describeConfig}. */
export interface DescribeOptions {
  /** The current time (ms since the epoch), for certificate days left. Default: now. */
  readonly now?: number;
}

/** A short multi-line description of what this config will do when started. */
export async function describeConfig(config: Config, opts: DescribeOptions = {}): Promise<string> {
  const { node, http, iot, portal, acl } = config;
  const lines: string[] = [`node ${node.name} (${config.file})`];

  const listener = node.listenPort === null
    ? "off (dial-only)"
    : `${hostPortText(node.listenHost, node.listenPort)}${
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
    const expiry = node.tlsCert === null ? null : await certificateExpiry(node.tlsCert);
    if (expiry !== null) {
      const left = Math.floor((expiry.getTime() - (opts.now ?? Date.now())) / DAY_MS);
      lines.push(`  tls_cert: expires ${day(expiry)} (${left} days left)`);
    }
    lines.push(
      `  identity: client certificates ${
        node.tlsClientAuth === "require" ? "required" : "not asked for"
      }; signs ${SIGNED[node.sign]}; requires signatures on ${SIGNED[node.requireSigned]}`,
    );
  }
  if (node.auditLog !== null) lines.push(`  audit log: ${node.auditLog}`);

  if (http.listen === null) {
    lines.push("  HTTP API: off");
  } else {
    const open = !LOOPBACK.has(http.listen.hostname) && http.token === null
      ? " (anyone who can reach it can switch devices: set token)"
      : "";
    const tokens = http.token === null
      ? "no token"
      : http.readToken === null
      ? "token set"
      : "token and read_token set";
    lines.push(
      `  HTTP API: ${hostPortText(http.listen.hostname, http.listen.port)}, ${tokens}${open}`,
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

  if (acl === null) {
    lines.push("  acl: none ([acl] absent): every node may do everything here");
  } else {
    const others = acl.entries.some((e) => e.origin === "*")
      ? "origins without an entry follow '*'"
      : "origins without an entry are refused (403)";
    lines.push(`  acl: ${acl.entries.length} entries; anything no rule allows gets 403; ${others}`);
    const aclWidth = Math.max(0, ...acl.entries.map((e) => e.origin.length));
    for (const entry of acl.entries) {
      lines.push(
        `    ${entry.origin.padEnd(aclWidth)}  ${entry.rules.map((r) => r.text).join(", ")}`,
      );
    }
  }
  lines.push(`  log: ${portal.logLevel}, ${portal.logFormat}`);

  for (const w of config.warnings) lines.push(`  warning: ${w.message} (line ${w.line})`);
  return lines.join("\n");
}

function describePeer(peer: PeerConfig, federationKey: string): string {
  const parts = [peer.host === null ? "no host" : hostPortText(peer.host, peer.port)];
  parts.push(peer.autoConnect ? "auto_connect" : "no auto_connect");
  if (peer.hubs.length > 0) parts.push(`hub ${peer.hubs.join(", ")}`);
  if (peer.key !== federationKey) parts.push("own key");
  if (!peer.tlsVerify) parts.push("TLS verification OFF");
  return parts.join(", ");
}
