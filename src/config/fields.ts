/**
 * Field tables: for each fixed-key section, every key with its parser and default (CONFIG.md).
 * Rules between keys live in the section resolvers (sections/), not here.
 */
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/constants.ts";
import { closest } from "./suggest.ts";
import type {
  DriverName,
  LogFormat,
  LogLevel,
  RequireSigned,
  SignMode,
  TlsClientAuth,
} from "./types.ts";
import {
  bearerToken,
  bool,
  deviceHost,
  duration,
  filePath,
  fraction,
  hostName,
  integer,
  list,
  listenAddress,
  listenPort,
  nodeName,
  oneOf,
  type Parser,
  size,
  text,
} from "./values.ts";

/** One key of a section: how its value is parsed and what it is when absent. */
export interface Field<T> {
  readonly parse: Parser<T>;
  /** The default, or a placeholder for a required key (never used: its absence is an issue). */
  readonly fallback: T;
  readonly required: boolean;
  /** Never echoed in messages. */
  readonly secret: boolean;
}

const optional = <T>(parse: Parser<T>, fallback: T): Field<T> => ({
  parse,
  fallback,
  required: false,
  secret: false,
});
const unset = <T>(parse: Parser<T>, secret = false): Field<T | null> => ({
  parse,
  fallback: null,
  required: false,
  secret,
});
const required = <T>(parse: Parser<T>, placeholder: T, secret = false): Field<T> => ({
  parse,
  fallback: placeholder,
  required: true,
  secret,
});

export type Table = Record<string, Field<unknown>>;
/** The values a table yields, key by key. */
export type Values<T extends Table> = { [K in keyof T]: T[K] extends Field<infer V> ? V : never };

const KIB = 1024;
const workers = integer(1, 1024);
const queueLimit = integer(1, 1_000_000);
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];
const DRIVERS: readonly DriverName[] = ["sim", "tasmota", "shelly"];
const TLS_CLIENT_AUTH: readonly TlsClientAuth[] = ["off", "require"];
const REQUIRE_SIGNED: readonly RequireSigned[] = ["none", "call", "all"];
const SIGN_MODES: readonly SignMode[] = ["off", "call", "all"];
/** Drivers that reach a device over the network and so need `host`. */
export const NETWORK_DRIVERS: readonly DriverName[] = ["tasmota", "shelly"];

export const NODE_FIELDS = {
  name: required(nodeName, ""),
  federation_key: required(text, "", true),
  listen_port: optional(listenPort, 9090),
  listen_host: optional(hostName({ zone: true, portKey: "listen_port" }), "0.0.0.0"),
  tls: optional(bool, true),
  tls_cert: unset(filePath),
  tls_key: unset(filePath),
  tls_ca: unset(filePath),
  workers: optional(workers, 4),
  queue_limit: optional(queueLimit, 1024),
  request_timeout: optional(duration(), 10_000),
  ping_interval: optional(duration(), 10_000),
  ping_max_missed: optional(integer(1, 1000), 3),
  auth_timeout: optional(duration(), 5_000),
  max_frame_bytes: optional(size(KIB, KIB ** 3), DEFAULT_MAX_FRAME_BYTES),
  reconnect_initial: optional(duration(), 1_000),
  reconnect_max: optional(duration(), 60_000),
  reconnect_jitter: optional(fraction, 0),
  /** Unset: derived from the open-file limit at start. */
  max_connections: unset(integer(1, 1_000_000)),
  tls_client_auth: optional(oneOf(TLS_CLIENT_AUTH), "off"),
  require_signed: optional(oneOf(REQUIRE_SIGNED), "none"),
  /** Extension key: which of this node's own requests it signs (when it has a cert and key). */
  sign: optional(oneOf(SIGN_MODES), "call"),
  audit_log: unset(filePath),
  /** Extension key: how long SIGTERM lets requests in flight finish; 0 stops at once. */
  drain_timeout: optional(duration(0), 5_000),
};

export const PEER_FIELDS = {
  host: unset(hostName({ zone: true, portKey: "port" })),
  port: optional(integer(1, 65535), 9090),
  auto_connect: optional(bool, false),
  /** Tried in order (failover). */
  hub: optional(list(nodeName), [] as readonly string[]),
  key: unset(text, true),
  /** Unset: [mod_node]'s. */
  workers: unset(workers),
  queue_limit: unset(queueLimit),
  tls_server_name: unset(hostName()),
  tls_verify: optional(bool, true),
};

export const HTTP_FIELDS = {
  listen: optional(listenAddress, { hostname: "127.0.0.1", port: 8080 }),
  token: unset(bearerToken, true),
  read_token: unset(bearerToken, true),
  /** Extension key: Host header values accepted when no token is set. */
  allowed_hosts: unset(list(hostName())),
};

export const IOT_FIELDS = {
  // Polling a device on the LAN more often than this only loads it.
  poll_interval: optional(duration(100), 30_000),
};

export const DEVICE_FIELDS = {
  driver: required(oneOf(DRIVERS), "sim" as DriverName),
  host: unset(deviceHost),
  kind: optional(text, "plug"),
  /** Unset: the device ID. */
  label: unset(text),
  user: unset(text),
  password: unset(text, true),
  channel: optional(integer(0, 255), 0),
  timeout: optional(duration(), 3_000),
};

export const PORTAL_FIELDS = {
  log_level: optional(oneOf(LOG_LEVELS), "info"),
  log_format: optional(oneOf(LOG_FORMATS), "text"),
};

/** Keys that only some drivers use; anywhere else they are an error, not silently ignored. */
export const DRIVER_ONLY_KEYS: Readonly<Record<string, readonly DriverName[]>> = {
  host: NETWORK_DRIVERS,
  timeout: NETWORK_DRIVERS,
  user: ["tasmota"],
  password: ["tasmota"],
  channel: ["shelly"],
};

/** Where each key is valid, for "it belongs in [...]" hints. */
const KEY_HOMES: ReadonlyArray<readonly [string, Table]> = [
  ["[mod_node]", NODE_FIELDS],
  ["[peer:NAME]", PEER_FIELDS],
  ["[mod_http]", HTTP_FIELDS],
  ["[mod_iot]", IOT_FIELDS],
  ["[device:ID]", DEVICE_FIELDS],
  ["[portal]", PORTAL_FIELDS],
];

/** " (did you mean 'x'?)", or " (it belongs in [y])" for a key of another section, or "". */
export function keyHint(key: string, table: Table): string {
  const near = closest(key, Object.keys(table));
  if (near) return ` (did you mean '${near}'?)`;
  const homes = KEY_HOMES.filter(([, t]) => t !== table && Object.hasOwn(t, key.toLowerCase()))
    .map(([home]) => home);
  return homes.length > 0 ? ` (it belongs in ${homes.join(" or ")})` : "";
}
