/**
 * node.ini builders (CONFIG.md): one function per section, joined by `iniText` or written by
 * `writeIni`. Nodes listen on port 0 unless told otherwise; read the real ports with
 * `nodeReady` and write the configs that need them afterwards.
 */

/** A value as written after `key = `; arrays are comma-separated; undefined leaves the key out. */
export type IniValue = string | number | boolean | readonly string[] | undefined;
/** Keys of one section, in order. */
export type IniFields = Readonly<Record<string, IniValue>>;

/** The federation key of test clusters. */
export const TEST_KEY = "end-to-end-test-key-0123456789";

function valueText(key: string, v: Exclude<IniValue, undefined>): string {
  const s = Array.isArray(v) ? v.join(", ") : String(v);
  if (/["\n\r]/.test(s)) throw new Error(`ini: the value of ${key} cannot hold quotes or newlines`);
  // Quoted when a comment marker or an edge space would otherwise change its meaning.
  return /[#;]|^\s|\s$/.test(s) || s === "" ? `"${s}"` : s;
}

/** `[name]` and its `key = value` lines. */
export function section(name: string, fields: IniFields = {}): string {
  const lines = [`[${name}]`];
  for (const [k, v] of Object.entries(fields)) {
    if (v !== undefined) lines.push(`${k} = ${valueText(k, v)}`);
  }
  return lines.join("\n") + "\n";
}

/** `# ` comment lines. */
export function comment(text: string): string {
  return text.split("\n").map((l) => (l === "" ? "#" : `# ${l}`)).join("\n") + "\n";
}

/** Options of {@link modNode}. */
export interface ModNodeOptions {
  /** `listen_port`: a port, `off` (dial-only) or 0 (a free one). Default 0. */
  readonly listenPort?: number | "off";
  /** Default {@link TEST_KEY}. */
  readonly key?: string;
  /** TLS with `NAME.pem`, `NAME.key` and `ca.pem` beside the config (see `makeCertDir`). Default true. */
  readonly tls?: boolean;
  /** More [mod_node] keys (`request_timeout`, `reconnect_initial`, ...). Default none. */
  readonly extra?: IniFields;
}

/** The [mod_node] section of node `name` on 127.0.0.1. */
export function modNode(name: string, options: ModNodeOptions = {}): string {
  const tls = options.tls ?? true;
  return section("mod_node", {
    name,
    federation_key: options.key ?? TEST_KEY,
    listen_host: "127.0.0.1",
    listen_port: options.listenPort ?? 0,
    tls,
    tls_cert: tls ? `${name}.pem` : undefined,
    tls_key: tls ? `${name}.key` : undefined,
    tls_ca: tls ? "ca.pem" : undefined,
    ...options.extra,
  });
}

/** Options of {@link peer}: the [peer:NAME] keys, with defaults for a local peer. */
export interface PeerOptions {
  /** Default 127.0.0.1 when a port is given, else none (reached through a hub). */
  readonly host?: string;
  readonly port?: number;
  /** Default true when a port is given. */
  readonly autoConnect?: boolean;
  /** `hub =`: the peers this one is reached through. */
  readonly hub?: string | readonly string[];
  /** More keys (`key`, `workers`, `tls_server_name`, ...). */
  readonly extra?: IniFields;
}

/** A [peer:NAME] section. */
export function peer(name: string, options: PeerOptions = {}): string {
  const direct = options.port !== undefined;
  return section(`peer:${name}`, {
    host: options.host ?? (direct ? "127.0.0.1" : undefined),
    port: options.port,
    auto_connect: options.autoConnect ?? (direct ? true : undefined),
    hub: options.hub,
    ...options.extra,
  });
}

/** The [mod_http] section; `listen` defaults to a free port on 127.0.0.1. */
export function http(listen = "127.0.0.1:0", extra: IniFields = {}): string {
  return section("mod_http", { listen, ...extra });
}

/** The [mod_iot] section. */
export function iot(fields: IniFields = {}): string {
  return section("mod_iot", fields);
}

/** A [device:ID] section. */
export function device(id: string, fields: IniFields): string {
  return section(`device:${id}`, fields);
}

/** The [portal] section (`log_format`, `log_level`). */
export function portal(fields: IniFields): string {
  return section("portal", fields);
}

/** Sections (and comments) as one file's text. */
export function iniText(...parts: string[]): string {
  return parts.join("\n");
}

/** Writes `DIR/NAME.ini` from sections; returns its path. */
export async function writeIni(dir: string, name: string, ...parts: string[]): Promise<string> {
  const path = `${dir}/${name}.ini`;
  await Deno.writeTextFile(path, iniText(...parts));
  return path;
}
