/**
 * What a reload may change in a running federation and what it may not
 * (issue "Change without downtime"): the node's name, listener and TLS mode
 * are fixed for the life of the process; everything else applies to new
 * links, new requests and new dials at once.
 */
import type { Config, NodeConfig } from "../config/types.ts";
import type { ReloadedPeers } from "./registry.ts";

/** The part of a config the federation uses. */
export type FederationConfig = Pick<Config, "node" | "peers">;

/** What a reload did, and what it could not do. */
export interface FederationReload extends ReloadedPeers {
  /** [mod_node] keys whose new value needs a restart; the old value stays in force. */
  readonly needsRestart: readonly string[];
}

/** [mod_node] keys a running node cannot take: they define its identity or its sockets. */
const FIXED: readonly (readonly [keyof NodeConfig, string])[] = [
  ["name", "name"],
  ["listenHost", "listen_host"],
  ["listenPort", "listen_port"],
  ["tls", "tls"],
  ["tlsClientAuth", "tls_client_auth"],
  ["maxConnections", "max_connections"],
];

/**
 * The config to run with after a reload: `next`, except the fixed keys,
 * which keep their running values; and the list of those that differ.
 */
export function settle(
  running: FederationConfig,
  next: FederationConfig,
): { config: FederationConfig; needsRestart: string[] } {
  const needsRestart: string[] = [];
  let node: NodeConfig = next.node;
  for (const [field, key] of FIXED) {
    if (running.node[field] === next.node[field]) continue;
    needsRestart.push(key);
    node = { ...node, [field]: running.node[field] };
  }
  return { config: { node, peers: next.peers }, needsRestart };
}
