/**
 * The schema: raw INI sections resolved into the typed, readonly Config (CONFIG.md).
 * Each section is a table of key → parser and default; cross-key rules come after, in one place.
 */
import { dirname, isAbsolute, resolve } from "node:path";
import { isValidNodeName } from "../auth/primitives.ts";
import { DEFAULT_MAX_FRAME_BYTES } from "../wire/constants.ts";
import { MAX_TIMER_MS } from "../util/clock.ts";
import { clip, formatDuration } from "../util/format.ts";
import { type ConfigIssue, IssueCode } from "./errors.ts";
import type { RawIni, RawSection } from "./ini.ts";
import type {
  Config,
  DeviceConfig,
  DriverName,
  HttpConfig,
  IotConfig,
  LogFormat,
  LogLevel,
  NodeConfig,
  PeerConfig,
  PortalConfig,
} from "./types.ts";

// ---------------------------------------------------------------------------------------------
// Value parsers

type Parsed<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly message: string;
};
/** Turns one non-empty raw value into T, or says what was expected. */
type Parser<T> = (raw: string) => Parsed<T>;

const good = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (message: string): Parsed<never> => ({ ok: false, message });

const KIB = 1024;
const SIZE_UNITS: Record<string, number> = { "": 1, k: KIB, m: KIB ** 2, g: KIB ** 3 };
const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const BOOLEANS: Record<string, boolean> = {
  true: true,
  yes: true,
  on: true,
  "1": true,
  false: false,
  no: false,
  off: false,
  "0": false,
};
const OFF = "off";
const NAME_RULE_TEXT = "1-64 characters of A-Z a-z 0-9 . _ -";

const text: Parser<string> = (raw) => good(raw);

const nodeName: Parser<string> = (raw) =>
  isValidNodeName(raw) ? good(raw) : bad(`a name is ${NAME_RULE_TEXT}`);

const bool: Parser<boolean> = (raw) => {
  const value = BOOLEANS[raw.toLowerCase()];
  return value === undefined ? bad("expected true/false, yes/no, on/off or 1/0") : good(value);
};

function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    if (!/^\d+$/.test(raw)) return bad(`expected a whole number from ${min} to ${max}`);
    const n = Number(raw);
    return n >= min && n <= max ? good(n) : bad(`expected a whole number from ${min} to ${max}`);
  };
}

const listenPort: Parser<number | null> = (raw) => {
  if (raw.toLowerCase() === OFF) return good(null);
  const port = integer(0, 65535)(raw);
  return port.ok ? port : bad("expected a port from 0 to 65535 (0 picks a free one) or 'off'");
};

/** A duration in ms; bare numbers are seconds. */
function duration(minMs = 1): Parser<number> {
  const expected = `expected a duration such as 500ms, 10s, 2m or 1h (a bare number is seconds)`;
  return (raw) => {
    const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(raw);
    const unit = m ? DURATION_UNITS[m[2] === "" ? "s" : m[2].toLowerCase()] : undefined;
    if (!m || unit === undefined) return bad(expected);
    const ms = Math.round(Number(m[1]) * unit);
    if (ms < minMs) return bad(`must be at least ${formatDuration(minMs)}`);
    if (ms > MAX_TIMER_MS) return bad("must be at most 24 days");
    return good(ms);
  };
}

/** A size in bytes; k, m, g are powers of 1024. */
function size(min: number, max: number): Parser<number> {
  return (raw) => {
    const m = /^(\d+)\s*([kmg]?)$/i.exec(raw);
    if (!m) return bad("expected a size such as 64k, 1m, 1g or a number of bytes");
    const bytes = Number(m[1]) * SIZE_UNITS[m[2].toLowerCase()];
    if (bytes < min || bytes > max) {
      return bad(`must be from ${formatSize(min)} to ${formatSize(max)}`);
    }
    return good(bytes);
  };
}

const fraction: Parser<number> = (raw) => {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(raw) ? Number(raw) : NaN;
  return n >= 0 && n <= 1 ? good(n) : bad("expected a fraction from 0 to 1, such as 0.2");
};

function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
  return (raw) => {
    const lower = raw.toLowerCase();
    const hit = choices.find((c) => c === lower);
    if (hit !== undefined) return good(hit);
    const near = closest(raw, choices) ??
      choices.find((c) => lower.startsWith(c) || (lower.length > 1 && c.startsWith(lower)));
    return bad(
      `expected one of ${choices.join(", ")}` + (near ? ` (did you mean '${near}'?)` : ""),
    );
  };
}

/** A host name or IP address, without a port; IPv6 may be bracketed (brackets are removed). */
const hostName: Parser<string> = (raw) => {
  const host = /^\[.*\]$/.test(raw) ? raw.slice(1, -1) : raw;
  if (host.includes("://") || host.includes("/")) {
    return bad("expected a host name or IP address, not a URL or path");
  }
  const colons = host.split(":").length - 1;
  if (colons === 1) {
    return bad("expected a host without ':PORT'; the port has a key of its own");
  }
  const ok = host.length <= 253 &&
    (colons === 0 ? /^[A-Za-z0-9._-]+$/.test(host) : /^[0-9A-Fa-f:.]+(%[\w.-]+)?$/.test(host));
  return ok ? good(host) : bad("expected a host name or IP address");
};

/** A device address: HOST, HOST:PORT or [IPv6]:PORT, kept as written for the device's URLs. */
const deviceHost: Parser<string> = (raw) => {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(raw) ?? /^([^:\s]+):(\d+)$/.exec(raw);
  if (!m) return hostName(raw);
  const host = hostName(m[1]);
  if (!host.ok) return host;
  if (m[2] !== undefined && !integer(1, 65535)(m[2]).ok) {
    return bad("the port after ':' must be from 1 to 65535");
  }
  return good(raw);
};

/** `HOST:PORT`, `[IPv6]:PORT` or `off`. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

const listenAddress: Parser<ListenAddress | null> = (raw) => {
  if (raw.toLowerCase() === OFF) return good(null);
  const expected = "expected HOST:PORT (such as 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080) or 'off'";
  if (/^\d+$/.test(raw)) {
    return bad(`${expected}; for this machine only write 127.0.0.1:${raw}`);
  }
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(raw) ?? /^([^:\s]+):(\d+)$/.exec(raw);
  if (!m) {
    return bad(
      raw.split(":").length > 2 ? `${expected}; put an IPv6 address in brackets` : expected,
    );
  }
  const host = hostName(m[1]);
  if (!host.ok) return bad(`${expected}; ${host.message}`);
  const port = integer(0, 65535)(m[2]);
  if (!port.ok) return bad(`${expected}; the port must be from 0 to 65535`);
  return good({ hostname: host.value, port: port.value });
};

/** A file path, kept as written; resolved against the config file's directory later. */
const filePath: Parser<string> = (raw) =>
  raw.startsWith("~") ? bad("'~' is not expanded; give an absolute or relative path") : good(raw);

/** Printable ASCII without spaces, so it survives an `Authorization: Bearer` header as written. */
const bearerToken: Parser<string> = (raw) =>
  /^[\x21-\x7e]+$/.test(raw) ? good(raw) : bad("a token is printable ASCII without spaces");

// ---------------------------------------------------------------------------------------------
// Section tables

interface Field<T> {
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

const workers = integer(1, 1024);
const queueLimit = integer(1, 1_000_000);
const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];
const LOG_FORMATS: readonly LogFormat[] = ["text", "json"];
const DRIVERS: readonly DriverName[] = ["sim", "tasmota", "shelly"];
/** Drivers that reach a device over the network and so need `host`. */
const NETWORK_DRIVERS: readonly DriverName[] = ["tasmota", "shelly"];

const NODE_FIELDS = {
  name: required(nodeName, ""),
  federation_key: required(text, "", true),
  listen_port: optional(listenPort, 9090),
  listen_host: optional(hostName, "0.0.0.0"),
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
};

const PEER_FIELDS = {
  host: unset(hostName),
  port: optional(integer(1, 65535), 9090),
  auto_connect: optional(bool, false),
  hub: unset(nodeName),
  key: unset(text, true),
  /** Unset: [mod_node]'s. */
  workers: unset(workers),
  queue_limit: unset(queueLimit),
  tls_server_name: unset(hostName),
  tls_verify: optional(bool, true),
};

const HTTP_FIELDS = {
  listen: optional(listenAddress, { hostname: "127.0.0.1", port: 8080 }),
  token: unset(bearerToken, true),
};

const IOT_FIELDS = {
  // Polling a device on the LAN more often than this only loads it.
  poll_interval: optional(duration(100), 30_000),
};

const DEVICE_FIELDS = {
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

const PORTAL_FIELDS = {
  log_level: optional(oneOf(LOG_LEVELS), "info"),
  log_format: optional(oneOf(LOG_FORMATS), "text"),
};

/** Keys that only some drivers use; anywhere else they are an error, not silently ignored. */
const DRIVER_ONLY_KEYS: Readonly<Record<string, readonly DriverName[]>> = {
  host: NETWORK_DRIVERS,
  timeout: NETWORK_DRIVERS,
  user: ["tasmota"],
  password: ["tasmota"],
  channel: ["shelly"],
};

type Table = Record<string, Field<unknown>>;
type Values<T extends Table> = { [K in keyof T]: T[K] extends Field<infer V> ? V : never };

const SINGLE_SECTIONS = ["mod_node", "mod_http", "mod_iot", "portal"] as const;
type SingleSection = typeof SINGLE_SECTIONS[number];
const NAMED_SECTIONS = ["peer", "device"] as const;
const SINGLE_TABLES: Readonly<Record<SingleSection, Table>> = {
  mod_node: NODE_FIELDS,
  mod_http: HTTP_FIELDS,
  mod_iot: IOT_FIELDS,
  portal: PORTAL_FIELDS,
};
const NAMED_TABLES: Readonly<Record<typeof NAMED_SECTIONS[number], Table>> = {
  peer: PEER_FIELDS,
  device: DEVICE_FIELDS,
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

// ---------------------------------------------------------------------------------------------
// Resolution

/** Where the text came from: the path as the user gave it, and its absolute form. */
export interface ConfigSource {
  readonly file: string;
  readonly absolutePath: string;
}

/** A file the config names that must be readable for the node to start. */
export interface ReferencedFile {
  readonly key: "tls_cert" | "tls_key" | "tls_ca";
  readonly section: string;
  /** As written in the file. */
  readonly value: string;
  /** Resolved against the config file's directory. */
  readonly path: string;
  readonly line: number;
}

/**
 * The resolved config and every issue found. When `issues` is not empty, `config` is a best
 * effort (defaults in place of bad values) that must not be used to run anything.
 */
export interface Resolution {
  readonly config: Config;
  readonly issues: readonly ConfigIssue[];
  /** Files to check for readability: certificates that are needed with these settings. */
  readonly files: readonly ReferencedFile[];
}

/** One section's values (defaults where absent) and the lines of the keys it set. */
interface SectionValues<T extends Table> {
  readonly values: Values<T>;
  /** Lines of the keys present, valid or not. */
  readonly lines: Partial<Record<keyof T, number>>;
  /** Keys whose value parsed. */
  readonly valid: ReadonlySet<keyof T>;
}

type Classified =
  | { readonly kind: "single"; readonly id: SingleSection }
  | { readonly kind: "peer" | "device"; readonly id: string }
  | { readonly kind: "unknown"; readonly hint: string };

/** Resolves raw INI into Config, collecting every issue rather than stopping at the first. */
export function resolveConfig(ini: RawIni, source: ConfigSource): Resolution {
  const issues: ConfigIssue[] = [];
  const report = (
    code: ConfigIssue["code"],
    line: number,
    message: string,
    where: { section?: string; key?: string } = {},
  ) => issues.push({ code, file: source.file, line, message, ...where });

  // Sort sections out by kind, reporting unknown and duplicate ones.
  const singles = new Map<string, RawSection>();
  const peers = new Map<string, RawSection>();
  const devices = new Map<string, RawSection>();
  for (const section of ini.sections) {
    const c = classify(section.name);
    if (c.kind === "unknown") {
      report(IssueCode.UnknownSection, section.line, `unknown section [${section.name}]${c.hint}`, {
        section: section.name,
      });
      continue;
    }
    const seen = c.kind === "single" ? singles : c.kind === "peer" ? peers : devices;
    const first = seen.get(c.id);
    if (first) {
      report(
        IssueCode.DuplicateSection,
        section.line,
        `duplicate section [${section.name}] (first on line ${first.line})`,
        { section: section.name },
      );
      // Its keys are still checked, so one run reports everything; missing ones would be noise.
      const table = c.kind === "single" ? SINGLE_TABLES[c.id] : NAMED_TABLES[c.kind];
      readSection(section, table, report, { requireKeys: false });
      continue;
    }
    seen.set(c.id, section);
  }

  // [mod_node]
  const nodeSection = singles.get("mod_node") ?? null;
  if (!nodeSection) {
    report(
      IssueCode.MissingSection,
      1,
      "missing [mod_node] section; it needs at least name and federation_key",
      { section: "mod_node" },
    );
  }
  const n = readSection(nodeSection, NODE_FIELDS, report);
  const nv = n.values;
  const baseDir = dirname(source.absolutePath);
  const abs = (p: string | null) => (p === null ? null : resolve(baseDir, p));
  const listens = nv.listen_port !== null;
  if (nodeSection && nv.tls && listens) {
    for (const key of ["tls_cert", "tls_key"] as const) {
      if (n.lines[key] !== undefined) continue;
      report(
        IssueCode.MissingKey,
        nodeSection.line,
        `missing '${key}' in [${nodeSection.name}]: it is required when tls = true and the node ` +
          `listens (set listen_port = off for a dial-only node)`,
        { section: nodeSection.name, key },
      );
    }
  }
  if (nv.reconnect_initial > nv.reconnect_max) {
    const key = n.lines.reconnect_initial !== undefined ? "reconnect_initial" : "reconnect_max";
    report(
      IssueCode.Conflict,
      n.lines[key] ?? 1,
      `reconnect_initial (${formatDuration(nv.reconnect_initial)}) is longer than ` +
        `reconnect_max (${formatDuration(nv.reconnect_max)}) in [${nodeSection?.name}]`,
      { section: nodeSection?.name, key },
    );
  }
  const node: NodeConfig = {
    name: nv.name,
    federationKey: nv.federation_key,
    listenPort: nv.listen_port,
    listenHost: nv.listen_host,
    tls: nv.tls,
    tlsCert: abs(nv.tls_cert),
    tlsKey: abs(nv.tls_key),
    tlsCa: abs(nv.tls_ca),
    workers: nv.workers,
    queueLimit: nv.queue_limit,
    requestTimeoutMs: nv.request_timeout,
    pingIntervalMs: nv.ping_interval,
    pingMaxMissed: nv.ping_max_missed,
    authTimeoutMs: nv.auth_timeout,
    maxFrameBytes: nv.max_frame_bytes,
    reconnectInitialMs: nv.reconnect_initial,
    reconnectMaxMs: nv.reconnect_max,
    reconnectJitter: nv.reconnect_jitter,
    maxConnections: null,
    tlsClientAuth: "off",
    requireSigned: "none",
    sign: "call",
    auditLog: null,
    drainTimeoutMs: 5_000,
  };

  // [peer:NAME]
  const peerConfigs: PeerConfig[] = [];
  for (const [name, section] of peers) {
    const p = readSection(section, PEER_FIELDS, report);
    const pv = p.values;
    const where = { section: section.name };
    if (!isValidNodeName(name)) {
      report(
        IssueCode.BadName,
        section.line,
        `invalid peer name '${name}' in [${section.name}]: a name is ${NAME_RULE_TEXT}`,
        where,
      );
    } else if (nodeSection && name === nv.name) {
      report(
        IssueCode.BadName,
        section.line,
        `[${section.name}] names this node itself ([mod_node] name = ${nv.name}); ` +
          `a node does not peer with itself`,
        where,
      );
    }
    if (pv.hub !== null && p.lines.hub !== undefined) {
      const line = p.lines.hub;
      const hubWhere = { ...where, key: "hub" };
      if (pv.hub === name) {
        report(
          IssueCode.BadValue,
          line,
          `[${section.name}] names itself as its hub; name another [peer:...]`,
          hubWhere,
        );
      } else if (!peers.has(pv.hub)) {
        const isSelf = nodeSection !== null && pv.hub === nv.name;
        const near = closest(pv.hub, [...peers.keys()].filter((k) => k !== name));
        report(
          IssueCode.UnknownHub,
          line,
          `hub '${pv.hub}' in [${section.name}] names no [peer:${pv.hub}] section` +
            (isSelf
              ? ` ('${pv.hub}' is this node)`
              : near
              ? ` (did you mean '${near}'?)`
              : `; add one with the hub's host and port`),
          hubWhere,
        );
      }
    }
    if (pv.auto_connect && pv.host === null && p.lines.auto_connect !== undefined) {
      report(
        IssueCode.Conflict,
        p.lines.auto_connect,
        `auto_connect = true in [${section.name}] needs 'host' to dial`,
        { ...where, key: "auto_connect" },
      );
    }
    peerConfigs.push({
      name,
      host: pv.host,
      port: pv.port,
      autoConnect: pv.auto_connect,
      hubs: pv.hub === null ? [] : [pv.hub],
      key: pv.key ?? nv.federation_key,
      workers: pv.workers ?? nv.workers,
      queueLimit: pv.queue_limit ?? nv.queue_limit,
      tlsServerName: pv.tls_server_name ?? pv.host,
      tlsVerify: pv.tls_verify,
    });
  }

  // [mod_http]
  const httpSection = singles.get("mod_http") ?? null;
  const h = readSection(httpSection, HTTP_FIELDS, report);
  const http: HttpConfig = {
    listen: h.values.listen,
    token: h.values.token,
    readToken: null,
    allowedHosts: null,
  };
  const clash = portClash(node, http);
  if (clash) {
    const inHttp = h.lines.listen !== undefined;
    report(
      IssueCode.Conflict,
      (inHttp ? h.lines.listen : n.lines.listen_port) ?? 1,
      `the HTTP API (${clash}) and the federation listener (listen_port = ${node.listenPort}) ` +
        `would use the same port; change one of them`,
      inHttp ? { section: "mod_http", key: "listen" } : { section: "mod_node", key: "listen_port" },
    );
  }

  // [mod_iot] and [device:ID]
  const iotSection = singles.get("mod_iot") ?? null;
  const deviceConfigs: DeviceConfig[] = [];
  for (const [id, section] of devices) {
    const d = readSection(section, DEVICE_FIELDS, report);
    deviceConfigs.push(resolveDevice(id, section, d, iotSection !== null, report));
  }
  const iot: IotConfig | null = iotSection
    ? {
      pollIntervalMs: readSection(iotSection, IOT_FIELDS, report).values.poll_interval,
      devices: deviceConfigs,
    }
    : null;

  // [portal]
  const pv = readSection(singles.get("portal") ?? null, PORTAL_FIELDS, report).values;
  const portal: PortalConfig = { logLevel: pv.log_level, logFormat: pv.log_format };

  const files: ReferencedFile[] = [];
  if (nodeSection && node.tls) {
    const needed = listens ? (["tls_cert", "tls_key", "tls_ca"] as const) : (["tls_ca"] as const);
    for (const key of needed) {
      const value = nv[key];
      const line = n.lines[key];
      if (value === null || line === undefined) continue;
      files.push({ key, section: nodeSection.name, value, path: resolve(baseDir, value), line });
    }
  }

  return {
    config: {
      file: source.absolutePath,
      node,
      peers: peerConfigs,
      http,
      iot,
      portal,
      acl: null,
      warnings: [],
    },
    issues,
    files,
  };
}

type Report = (
  code: ConfigIssue["code"],
  line: number,
  message: string,
  where?: { section?: string; key?: string },
) => void;

function resolveDevice(
  id: string,
  section: RawSection,
  d: SectionValues<typeof DEVICE_FIELDS>,
  hasIot: boolean,
  report: Report,
): DeviceConfig {
  const dv = d.values;
  const where = { section: section.name };
  if (!hasIot) {
    report(
      IssueCode.MissingSection,
      section.line,
      `[${section.name}] needs a [mod_iot] section (it may be empty)`,
      where,
    );
  }
  if (!isValidNodeName(id)) {
    report(
      IssueCode.BadName,
      section.line,
      `invalid device id '${id}' in [${section.name}]: an id is ${NAME_RULE_TEXT}`,
      where,
    );
  }
  // Driver-specific rules only make sense once the driver itself is known to be right.
  if (d.valid.has("driver")) {
    if (NETWORK_DRIVERS.includes(dv.driver) && dv.host === null && d.lines.host === undefined) {
      report(
        IssueCode.MissingKey,
        section.line,
        `missing 'host' in [${section.name}]: driver '${dv.driver}' reaches the device over ` +
          `the network`,
        { ...where, key: "host" },
      );
    }
    for (const [key, drivers] of Object.entries(DRIVER_ONLY_KEYS)) {
      const line = d.lines[key as keyof typeof DEVICE_FIELDS];
      if (line === undefined || drivers.includes(dv.driver)) continue;
      report(
        IssueCode.Conflict,
        line,
        `'${key}' in [${section.name}] is not used by driver '${dv.driver}' ` +
          `(only by ${drivers.join(", ")}); remove it`,
        { ...where, key },
      );
    }
    if (dv.driver === "tasmota" && (dv.user === null) !== (dv.password === null)) {
      const key = dv.user === null ? "password" : "user";
      report(
        IssueCode.Conflict,
        d.lines[key] ?? section.line,
        `[${section.name}] sets '${key}' without '${key === "user" ? "password" : "user"}'; ` +
          `Tasmota web auth needs both (its default user is 'admin')`,
        { ...where, key },
      );
    }
  }
  return {
    id,
    driver: dv.driver,
    host: dv.host,
    kind: dv.kind,
    label: dv.label ?? id,
    user: dv.user,
    password: dv.password,
    channel: dv.channel,
    timeoutMs: dv.timeout,
  };
}

/** Parses one section against its table; a null section yields the defaults. */
function readSection<T extends Table>(
  section: RawSection | null,
  table: T,
  report: Report,
  { requireKeys = true } = {},
): SectionValues<T> {
  const values: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(table)) values[key] = field.fallback;
  const lines: Partial<Record<keyof T, number>> = {};
  const valid = new Set<keyof T>();
  if (!section) return { values: values as Values<T>, lines, valid };

  const label = `[${section.name}]`;
  for (const entry of section.entries) {
    const where = { section: section.name, key: entry.key };
    const field = Object.hasOwn(table, entry.key) ? table[entry.key] : undefined;
    if (!field) {
      report(
        IssueCode.UnknownKey,
        entry.line,
        `unknown key '${entry.key}' in ${label}${keyHint(entry.key, table)}`,
        where,
      );
      continue;
    }
    const first = lines[entry.key];
    if (first !== undefined) {
      report(
        IssueCode.DuplicateKey,
        entry.line,
        `duplicate key '${entry.key}' in ${label} (first set on line ${first})`,
        where,
      );
      continue;
    }
    lines[entry.key as keyof T] = entry.line;
    // null: the reader already reported the line's syntax.
    if (entry.value === null) continue;
    if (entry.value === "") {
      report(
        IssueCode.BadValue,
        entry.line,
        `empty value for '${entry.key}' in ${label}; ` +
          (field.required ? "it is required" : "remove the line to use the default") +
          ` (a value that starts with '#' or ';' must be quoted)`,
        where,
      );
      continue;
    }
    const parsed = field.parse(entry.value);
    if (parsed.ok) {
      values[entry.key] = parsed.value;
      valid.add(entry.key);
    } else {
      const shown = field.secret ? "" : ` '${clip(entry.value)}'`;
      report(
        IssueCode.BadValue,
        entry.line,
        `bad value${shown} for '${entry.key}' in ${label}: ${parsed.message}`,
        where,
      );
    }
  }
  for (const [key, field] of Object.entries(table)) {
    if (requireKeys && field.required && lines[key] === undefined) {
      report(IssueCode.MissingKey, section.line, `missing '${key}' in ${label}`, {
        section: section.name,
        key,
      });
    }
  }
  return { values: values as Values<T>, lines, valid };
}

function classify(name: string): Classified {
  const colon = name.indexOf(":");
  if (colon < 0) {
    const single = SINGLE_SECTIONS.find((s) => s === name);
    if (single) return { kind: "single", id: single };
    if ((NAMED_SECTIONS as readonly string[]).includes(name)) {
      return { kind: "unknown", hint: ` (it needs a name, as in [${name}:NAME])` };
    }
    const spaced = /^(peer|device)[\s._-]+(.+)$/i.exec(name);
    if (spaced) {
      return {
        kind: "unknown",
        hint: ` (did you mean [${spaced[1].toLowerCase()}:${spaced[2]}]?)`,
      };
    }
    const near = closest(name, SINGLE_SECTIONS);
    return { kind: "unknown", hint: near ? ` (did you mean [${near}]?)` : "" };
  }
  const prefix = name.slice(0, colon).trim();
  const id = name.slice(colon + 1).trim();
  if (prefix === "peer" || prefix === "device") return { kind: prefix, id };
  const near = closest(prefix, NAMED_SECTIONS);
  if (near) return { kind: "unknown", hint: ` (did you mean [${near}:${id}]?)` };
  const single = closest(name, SINGLE_SECTIONS);
  return { kind: "unknown", hint: single ? ` (did you mean [${single}]?)` : "" };
}

/** " (did you mean 'x'?)", or " (it belongs in [y])" for a key of another section, or "". */
function keyHint(key: string, table: Table): string {
  const near = closest(key, Object.keys(table));
  if (near) return ` (did you mean '${near}'?)`;
  const homes = KEY_HOMES.filter(([, t]) => t !== table && Object.hasOwn(t, key.toLowerCase()))
    .map(([home]) => home);
  return homes.length > 0 ? ` (it belongs in ${homes.join(" or ")})` : "";
}

/** The HTTP listen address when it would bind the federation listener's port, else null. */
function portClash(node: NodeConfig, http: HttpConfig): string | null {
  if (!http.listen || node.listenPort === null || node.listenPort === 0) return null;
  if (http.listen.port !== node.listenPort) return null;
  const wildcard = (h: string) => h === "0.0.0.0" || h === "::";
  const a = http.listen.hostname;
  const b = node.listenHost;
  if (a !== b && !wildcard(a) && !wildcard(b)) return null;
  return `${a.includes(":") ? `[${a}]` : a}:${http.listen.port}`;
}

/** The candidate nearest to `input` (case-insensitive), if near enough to be a typo. */
export function closest(input: string, candidates: readonly string[]): string | null {
  const lower = input.toLowerCase();
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const d = editDistance(lower, candidate.toLowerCase());
    // Short words are one typo apart at most, or everything would suggest everything.
    const limit = Math.max(lower.length, candidate.length) <= 5 ? 1 : 2;
    if (d <= limit && d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

/** Optimal string alignment distance: Levenshtein plus adjacent transpositions. */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}

function formatSize(bytes: number): string {
  for (const [unit, size] of [["g", KIB ** 3], ["m", KIB ** 2], ["k", KIB]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}

/** Absolute form of `file`, against `cwd` when relative. */
export function absolutePath(file: string, cwd: string): string {
  return isAbsolute(file) ? resolve(file) : resolve(cwd, file);
}
