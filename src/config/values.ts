/**
 * Value parsers: one raw (non-empty) INI value in, a typed value or one sentence out.
 * Every value rule of CONFIG.md lives here once; hosts follow the project's host rule.
 */
import { isValidNodeName } from "../auth/primitives.ts";
import { MAX_TIMER_MS } from "../util/clock.ts";
import { clip, formatDuration } from "../util/format.ts";
import { hostPortText, parseHost, parseHostPort } from "../util/host.ts";
import { closest } from "./suggest.ts";

export type Parsed<T> = { readonly ok: true; readonly value: T } | {
  readonly ok: false;
  readonly message: string;
};
/** Turns one non-empty raw value into T, or says what was expected. */
export type Parser<T> = (raw: string) => Parsed<T>;

export const good = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const bad = (message: string): Parsed<never> => ({ ok: false, message });

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
export const NAME_RULE_TEXT = "1-64 characters of A-Z a-z 0-9 . _ -";

/** Node names that would shadow a path of their own under /node (PATHS.md). */
export const RESERVED_NODE_NAMES: readonly string[] = [
  ".",
  "..",
  "peers",
  "status",
  "audit",
  "reload",
];

/** Why `name` cannot name a node (this one or a peer), or null when it can. */
export function nodeNameProblem(name: string): string | null {
  if (!isValidNodeName(name)) return `a name is ${NAME_RULE_TEXT}`;
  if (RESERVED_NODE_NAMES.includes(name)) {
    return `'${name}' is reserved: a node of that name would shadow the path /node/${name} ` +
      `(reserved: ${RESERVED_NODE_NAMES.join(" ")})`;
  }
  return null;
}

/** Why `id` cannot name a device, or null when it can: the name rule, and a usable path segment. */
export function deviceIdProblem(id: string): string | null {
  if (!isValidNodeName(id)) return `an id is ${NAME_RULE_TEXT}`;
  if (id === "." || id === "..") return `'${id}' cannot be a path segment under /iot/devices`;
  return null;
}

export const text: Parser<string> = (raw) => good(raw);

export const nodeName: Parser<string> = (raw) => {
  const problem = nodeNameProblem(raw);
  return problem === null ? good(raw) : bad(problem);
};

export const bool: Parser<boolean> = (raw) => {
  const value = BOOLEANS[raw.toLowerCase()];
  return value === undefined ? bad("expected true/false, yes/no, on/off or 1/0") : good(value);
};

export function integer(min: number, max: number): Parser<number> {
  return (raw) => {
    const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
    return n >= min && n <= max ? good(n) : bad(`expected a whole number from ${min} to ${max}`);
  };
}

export const listenPort: Parser<number | null> = (raw) => {
  if (raw.toLowerCase() === OFF) return good(null);
  const port = integer(0, 65535)(raw);
  return port.ok ? port : bad("expected a port from 0 to 65535 (0 picks a free one) or 'off'");
};

/** A duration in ms of at least `minMs`; bare numbers are seconds. */
export function duration(minMs = 1): Parser<number> {
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
export function size(min: number, max: number): Parser<number> {
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

export const fraction: Parser<number> = (raw) => {
  const n = /^\d+(\.\d+)?$|^\.\d+$/.test(raw) ? Number(raw) : NaN;
  return n >= 0 && n <= 1 ? good(n) : bad("expected a fraction from 0 to 1, such as 0.2");
};

/** One of `choices`, case-insensitive. */
export function oneOf<T extends string>(choices: readonly T[]): Parser<T> {
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

/** Options of {@link hostName}. */
export interface HostNameOptions {
  /** Allow an IPv6 zone id (addresses this node dials or binds). Default false. */
  readonly zone?: boolean;
  /** The key that holds the port, named when someone writes `HOST:PORT`. Default: none. */
  readonly portKey?: string;
}

/** A host name or IP address without a port, canonical (IPv6 without brackets, names lowercased). */
export function hostName(options: HostNameOptions = {}): Parser<string> {
  return (raw) => {
    const host = parseHost(raw, options);
    if (host.ok) return good(host.value.value);
    // `host = localhost:19090` is a common slip: say where the port goes.
    const withPort = options.portKey === undefined ? null : parseHostPort(raw);
    return withPort?.ok && withPort.value.port !== null
      ? bad(
        `expected a host without ':PORT'; write ${withPort.value.host.value} here and ` +
          `${options.portKey} = ${withPort.value.port}`,
      )
      : bad(host.message);
  };
}

/** A device address: HOST, HOST:PORT or [IPv6]:PORT, canonical, as it goes after `http://`. */
export const deviceHost: Parser<string> = (raw) => {
  const parsed = parseHostPort(raw, { portOptional: true });
  if (!parsed.ok) return bad(parsed.message);
  const { host, port } = parsed.value;
  return good(port === null ? host.value : hostPortText(host.value, port));
};

/** `HOST:PORT` of a listener. */
export interface ListenAddress {
  readonly hostname: string;
  readonly port: number;
}

/** `HOST:PORT`, `[IPv6]:PORT` or `off`; port 0 picks a free one. */
export const listenAddress: Parser<ListenAddress | null> = (raw) => {
  if (raw.toLowerCase() === OFF) return good(null);
  const expected = "expected HOST:PORT (such as 127.0.0.1:8080, 0.0.0.0:8080, [::1]:8080) or 'off'";
  if (/^\d+$/.test(raw)) {
    return bad(`${expected}; for this machine only write 127.0.0.1:${raw}`);
  }
  const parsed = parseHostPort(raw, { minPort: 0 });
  if (!parsed.ok) return bad(`${expected}; ${parsed.message}`);
  return good({ hostname: parsed.value.host.value, port: parsed.value.port ?? 0 });
};

/** A file path, kept as written; resolved against the config file's directory later. */
export const filePath: Parser<string> = (raw) =>
  raw.startsWith("~") ? bad("'~' is not expanded; give an absolute or relative path") : good(raw);

/** Printable ASCII without spaces, so it survives an `Authorization: Bearer` header as written. */
export const bearerToken: Parser<string> = (raw) =>
  /^[\x21-\x7e]+$/.test(raw) ? good(raw) : bad("a token is printable ASCII without spaces");

/** A comma-separated list of `item`s: no empty items, no item twice (compared as parsed). */
export function list<T>(item: Parser<T>): Parser<readonly T[]> {
  return (raw) => {
    const out: T[] = [];
    const seen = new Set<string>();
    for (const part of raw.split(",").map((p) => p.trim())) {
      if (part === "") {
        return bad("an empty item in the list (two commas in a row, or one at an end)");
      }
      const parsed = item(part);
      if (!parsed.ok) return bad(`'${clip(part)}': ${parsed.message}`);
      const key = JSON.stringify(parsed.value);
      if (seen.has(key)) return bad(`'${clip(part)}' is listed twice`);
      seen.add(key);
      out.push(parsed.value);
    }
    return good(out);
  };
}

/** `64k`, `1m`, `1g` when exact, else bytes. */
export function formatSize(bytes: number): string {
  for (const [unit, size] of [["g", KIB ** 3], ["m", KIB ** 2], ["k", KIB]] as const) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return `${bytes}`;
}
