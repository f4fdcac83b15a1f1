/**
 * The resolved configuration: every field present, typed and readonly.
 * Produced from a node.ini by `loadConfig`; nothing downstream reads raw INI.
 */

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
}

/** [peer:NAME]: a node this one knows. */
export interface PeerConfig {
  readonly name: string;
  /** null: reached only through its hub or when it dials in. */
  readonly host: string | null;
  readonly port: number;
  readonly autoConnect: boolean;
  /** Name of another [peer:...] through which this peer is reached. */
  readonly hub: string | null;
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
  readonly token: string | null;
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
}
