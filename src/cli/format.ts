/**
 * How the shell prints answers (seed: "Diagnostics"). Every formatter takes
 * the JSON as received and falls back to pretty JSON when it has an
 * unexpected shape, so a newer node never makes an older shell crash.
 */

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Pretty JSON, two-space indent. */
export function formatJson(value: unknown): string {
  return JSON.stringify(value, null, 2) ?? "null";
}

/** Columns left-aligned with at least two spaces between them; no trailing blanks. */
export function formatTable(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => widths[i] = Math.max(widths[i] ?? 0, cell.length));
  }
  return rows
    .map((row) => row.map((cell, i) => i === row.length - 1 ? cell : cell.padEnd(widths[i] + 2)))
    .map((cells) => cells.join("").trimEnd())
    .join("\n");
}

/** An integer with thousands separated by commas: 14203 → `14,203`; not a number → `-`. */
export function thousands(n: unknown): string {
  if (typeof n !== "number" || !Number.isFinite(n)) return "-";
  const sign = n < 0 ? "-" : "";
  const digits = String(Math.trunc(Math.abs(n)));
  return sign + digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Latency as `12ms`, or `-` when unknown. */
export function formatLatency(ms: unknown): string {
  return typeof ms === "number" && Number.isFinite(ms) ? `${Math.round(ms)}ms` : "-";
}

/** A duration in seconds as `3d 4h 5m 6s`, largest units first. */
export function formatUptime(seconds: unknown): string {
  if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) return "-";
  let s = Math.floor(seconds);
  const parts: string[] = [];
  for (const [unit, size] of [["d", 86400], ["h", 3600], ["m", 60]] as const) {
    if (s >= size || parts.length > 0) {
      parts.push(`${Math.floor(s / size)}${unit}`);
      s %= size;
    }
  }
  parts.push(`${s}s`);
  return parts.join(" ");
}

function cell(v: unknown): string {
  if (v === null || v === undefined || v === "") return "-";
  return typeof v === "string" ? v : JSON.stringify(v);
}

/** `/node/peers` as the seed's table; a VIA column appears when any peer is reached via a hub. */
export function formatPeers(value: unknown): string {
  if (!Array.isArray(value) || !value.every(isObject)) return formatJson(value);
  const peers = value as Obj[];
  const withVia = peers.some((p) => p.via !== null && p.via !== undefined);
  const header = ["NAME", "HOST", "PORT", "STATUS", "LATENCY"];
  if (withVia) header.push("VIA");
  const rows = peers.map((p) => {
    const row = [
      cell(p.name),
      cell(p.host),
      cell(p.port),
      cell(p.status),
      formatLatency(p.latency_ms),
    ];
    if (withVia) row.push(cell(p.via));
    return row;
  });
  return formatTable([header, ...rows]);
}

/** `/node/status` as the seed's summary, counters with thousands separators. */
export function formatStatus(value: unknown): string {
  if (!isObject(value)) return formatJson(value);
  return [
    `Peers: ${thousands(value.peers_connected)} connected, ` +
    `${thousands(value.peers_disconnected)} disconnected`,
    `Messages sent: ${thousands(value.messages_sent)}`,
    `Messages received: ${thousands(value.messages_received)}`,
    `Messages relayed: ${thousands(value.messages_relayed)}`,
    `Messages dropped: ${thousands(value.messages_dropped)}`,
    `Uptime: ${formatUptime(value.uptime_s)}`,
  ].join("\n");
}

/** A device's `on` as a word. */
export function switchState(on: unknown): string {
  return on === true ? "on" : on === false ? "off" : "unknown";
}

function isDevice(v: Obj): boolean {
  return typeof v.id === "string" && "on" in v;
}

/**
 * A LIST answer, one entry per line: names as they are; devices as
 * `id  kind  label  on|off|unknown  [offline]`, aligned; other objects by
 * their `id` or `name` followed by the rest as compact JSON.
 */
export function formatList(value: unknown): string {
  if (!Array.isArray(value)) return formatJson(value);
  const rows = value.map((entry): string[] => {
    if (typeof entry === "string") return [entry];
    if (!isObject(entry)) return [JSON.stringify(entry)];
    if (isDevice(entry)) {
      const row = [cell(entry.id), cell(entry.kind), cell(entry.label), switchState(entry.on)];
      if (entry.online === false) row.push("offline");
      return row;
    }
    const key = typeof entry.id === "string"
      ? "id"
      : typeof entry.name === "string"
      ? "name"
      : null;
    if (key === null) return [JSON.stringify(entry)];
    const { [key]: label, ...rest } = entry;
    return Object.keys(rest).length === 0 ? [String(label)] : [String(label), JSON.stringify(rest)];
  });
  return formatTable(rows);
}

/** A device's state after `iot on|off|toggle|status`: `plug-001: on`, `(offline)` when so. */
export function formatDeviceState(id: string, value: unknown): string {
  if (!isObject(value) || !("on" in value)) return `${id}: ${JSON.stringify(value)}`;
  const name = typeof value.id === "string" ? value.id : id;
  return `${name}: ${switchState(value.on)}${value.online === false ? " (offline)" : ""}`;
}

/** A failed request as `404: no such path: /x`; a 401 says how to give the token. */
export function formatFailure(status: number, error: string | undefined): string {
  const hint = status === 401 ? " (give it with --token, $PORTAL_TOKEN or --config)" : "";
  return `${status}: ${error ?? `request failed with status ${status}`}${hint}`;
}

/** The CLI's one-line error for a failed request: `error: 404: no such path: /x`. */
export function formatError(status: number, error: string | undefined): string {
  return `error: ${formatFailure(status, error)}`;
}

/**
 * The names in a LIST answer: strings as they are, objects by `id` or `name`
 * (`/iot/devices` answers device objects). Anything else gives no names.
 */
export function entryNames(body: unknown): string[] {
  if (!Array.isArray(body)) return [];
  const names: string[] = [];
  for (const entry of body) {
    if (typeof entry === "string") names.push(entry);
    else if (typeof entry === "object" && entry !== null) {
      const { id, name } = entry as { id?: unknown; name?: unknown };
      if (typeof id === "string") names.push(id);
      else if (typeof name === "string") names.push(name);
    }
  }
  return names;
}
