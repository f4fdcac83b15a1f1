/**
 * The resolved configuration: every field present, typed and readonly.
 * Produced from a node.ini by `loadConfig`; nothing downstream reads raw INI.
 */

import type { AclConfig } from "../auth/acl.ts";

// [acl]'s shape belongs to the policy that reads it (auth/acl.ts); the config only fills it in.
export type { AclConfig, AclEntry, AclMethod, AclRule } from "../auth/acl.ts";

/** Log verbosity, lowest first. */
export type LogLevel = "debug" | "info" | "warn" | "error";
/** `text` is one line per event for journald; `json` one JSON object per line. */
export type LogFormat = "text" | "json";

/** [mod_node]: this node and its federation listener. */
export interface NodeConfig {
  readonly name: string;
  readonly federationKey: string;
  /** null when `listen_port = off` (a dial-only node); 0 picks a free port. */
  readonly listenPort: number | null;
  readonly listenHost: string;
  readonly tls: boolean;
  /** Absolute paths, resolved against the config file's directory. */
  readonly tlsCert: string | null;
  readonly tlsKey: string | null;
  readonly tlsCa: string | null;
  readonly workers: number;
  readonly queueLimit: number;
  readonly requestTimeoutMs: number;
  readonly pingIntervalMs: number;
  readonly pingMaxMissed: number;
  readonly authTimeoutMs: number;
  readonly maxFrameBytes: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  /** Fraction 0..1 of each reconnect wait that may be added at random. */
  readonly reconnectJitter: number;
  /**
   * Federation connections (authenticated or not) the listener holds; null when
   * unset, meaning: derived at start from the process's open-file limit.
   */
  readonly maxConnections: number | null;
  /** `require`: dialers must present a certificate naming them (PORTAL02.md §11). */
  readonly tlsClientAuth: TlsClientAuth;
  /** Which requests from other nodes must carry a valid signature (PORTAL02.md §11). */
  readonly requireSigned: RequireSigned;
  /** Which of this node's own requests it signs, when it has a certificate and key. */
  readonly sign: SignMode;
  /** Absolute path of the audit file (one JSON line per CALL decided here); null: none. */
  readonly auditLog: string | null;
  /** How long a stopping node lets requests in flight finish (SIGTERM drain). */
  readonly drainTimeoutMs: number;
}

/** `[mod_node] tls_client_auth`. */
export type TlsClientAuth = "off" | "require";
/** `[mod_node] require_signed`: none, CALLs only, or every REQUEST. */
export type RequireSigned = "none" | "call" | "all";
/** `[mod_node] sign`: which requests this node signs with its TLS key. */
export type SignMode = "off" | "call" | "all";

/** [peer:NAME]: a node this one knows. */
export interface PeerConfig {
  readonly name: string;
  /** null: reached only through its hub or when it dials in. */
  readonly host: string | null;
  readonly port: number;
  readonly autoConnect: boolean;
  /**
   * Names of other [peer:...] sections through which this peer is reached when
   * no direct link is open, in order of preference (failover); empty: none.
   */
  readonly hubs: readonly string[];
  /** The key for this peer: its own `key`, else federation_key. */
  readonly key: string;
  readonly workers: number;
  readonly queueLimit: number;
  /** Name verified in the peer's certificate: tls_server_name, else host. */
  readonly tlsServerName: string | null;
  readonly tlsVerify: boolean;
}

/** [mod_http]: the HTTP API. */
export interface HttpConfig {
  /** null when `listen = off`. */
  readonly listen: { readonly hostname: string; readonly port: number } | null;
  /** Full access: every method. */
  readonly token: string | null;
  /** May only GET and LIST. */
  readonly readToken: string | null;
  /**
   * Host header values accepted when no token is set (against DNS rebinding);
   * null: the loopback names plus the listen address.
   */
  readonly allowedHosts: readonly string[] | null;
}

/** Which device driver a [device:ID] uses. */
export type DriverName = "sim" | "tasmota" | "shelly";

/** [device:ID]: one device this node drives. */
export interface DeviceConfig {
  readonly id: string;
  readonly driver: DriverName;
  /** Required for network drivers (tasmota, shelly); null for sim. */
  readonly host: string | null;
  readonly kind: string;
  readonly label: string;
  /** Tasmota web user/password, Shelly digest auth is not supported. */
  readonly user: string | null;
  readonly password: string | null;
  /** Shelly switch channel (`id` in RPC calls). */
  readonly channel: number;
  /** Timeout of every network call to the device. */
  readonly timeoutMs: number;
}

/** [mod_iot] plus its [device:ID] sections; null in Config when absent. */
export interface IotConfig {
  readonly pollIntervalMs: number;
  readonly devices: readonly DeviceConfig[];
}

/** [portal]: process-wide settings. */
export interface PortalConfig {
  readonly logLevel: LogLevel;
  readonly logFormat: LogFormat;
}

/** A whole node.ini, resolved. */
export interface Config {
  /** Absolute path of the file it came from. */
  readonly file: string;
  readonly node: NodeConfig;
  /** In file order. */
  readonly peers: readonly PeerConfig[];
  readonly http: HttpConfig;
  readonly iot: IotConfig | null;
  readonly portal: PortalConfig;
  /** null when the file has no [acl] section: every request is allowed (the seed's behaviour). */
  readonly acl: AclConfig | null;
  /**
   * Things that are legal but probably wrong (an example key, tls = false with
   * certificates set): shown by check-config and logged at start.
   */
  readonly warnings: readonly ConfigWarning[];
}

/** A warning about a legal config, located like an issue. */
export interface ConfigWarning {
  readonly file: string;
  readonly line: number;
  readonly section?: string;
  readonly key?: string;
  /** One readable sentence. */
  readonly message: string;
  /**
   * `cert_expiring`: tls_cert expires within 30 days (config/files.ts EXPIRY_WARNING_DAYS). A running node's
   * expiry watch says that itself (at start, daily, on a reload), so it skips this one.
   */
  readonly code?: "cert_expiring";
}
