/**
 * The one host rule of the project: what a host name or IP address is, for
 * node.ini (`host`, `listen_host`, device hosts, listen addresses), for
 * certificates (`gen-certs --host`) and for device URLs. Pure: no lookups.
 */

/** A host as written, classified. IPv6 is canonical and without brackets; DNS names lowercased. */
export type Host =
  | { readonly kind: "ipv4"; readonly value: string }
  | { readonly kind: "ipv6"; readonly value: string }
  | { readonly kind: "dns"; readonly value: string };

/** A parse result: the value, or one sentence saying what was expected. */
export type HostResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly message: string };

/** Options of {@link parseHost}. */
export interface ParseHostOptions {
  /** Accept a leading `*.` label (certificates only). Default false. */
  readonly wildcard?: boolean;
  /** Accept an IPv6 zone id such as `%eth0` (dialing only; never in a certificate). Default false. */
  readonly zone?: boolean;
  /**
   * Letters, digits and hyphens only: a certificate's DNS name (RFC 5280
   * "preferred name syntax"), where an underscore is refused. Default false.
   */
  readonly strict?: boolean;
}

// Letters, digits and inner hyphens; underscores too, as resolvers and /etc/hosts accept them.
const LABEL = /^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$/;
const STRICT_LABEL = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const OCTET = /^(?:0|[1-9][0-9]{0,2})$/;

const fail = (message: string): HostResult<never> => ({ ok: false, message });

/**
 * Classifies a host name or IP address without a port: IPv4 dotted quads,
 * IPv6 (brackets allowed), or a DNS name of letter/digit/hyphen/underscore labels.
 */
export function parseHost(input: string, options: ParseHostOptions = {}): HostResult<Host> {
  const raw = input.trim();
  if (raw === "") return fail("expected a host name or IP address, got nothing");
  if (/\s/.test(raw)) return fail("a host name or IP address has no spaces");
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(raw) || raw.includes("/")) {
    return fail("expected a host name or IP address, not a URL or path (drop 'http://' and '/…')");
  }
  if (/^\[[^\]]*\]:[0-9]*$/.test(raw)) {
    return fail("expected a host without ':PORT' (the port is given on its own)");
  }
  const bracketed = raw.startsWith("[") && raw.endsWith("]");
  const bare = bracketed ? raw.slice(1, -1) : raw;
  const colons = bare.split(":").length - 1;
  if (!bracketed && colons === 1) {
    return fail("expected a host without ':PORT' (the port is given on its own)");
  }
  if (bracketed || colons > 1) {
    const percent = bare.indexOf("%");
    const addr = percent < 0 ? bare : bare.slice(0, percent);
    const zone = percent < 0 ? undefined : bare.slice(percent + 1);
    if (zone !== undefined && !options.zone) {
      return fail("an IPv6 zone id (%…) is not allowed here");
    }
    if (zone !== undefined && !/^[\w.-]+$/.test(zone)) return fail("not a valid IPv6 zone id");
    let canonical: string;
    try {
      canonical = new URL(`http://[${addr}]/`).hostname.slice(1, -1);
    } catch {
      return fail("not a valid IPv6 address");
    }
    return { ok: true, value: { kind: "ipv6", value: zone ? `${canonical}%${zone}` : canonical } };
  }
  if (/^[0-9.]+$/.test(bare)) {
    const parts = bare.split(".");
    if (parts.length !== 4 || parts.some((p) => !OCTET.test(p) || Number(p) > 255)) {
      return fail("not a valid IPv4 address (four numbers 0-255, no leading zeros)");
    }
    return { ok: true, value: { kind: "ipv4", value: bare } };
  }
  // DNS names compare case-insensitively; a trailing dot (fully qualified) is dropped.
  const name = (bare.endsWith(".") ? bare.slice(0, -1) : bare).toLowerCase();
  if (/[^\x21-\x7e]/.test(name)) {
    return fail("use the ASCII (xn--) form of an international name");
  }
  if (name.length > 253) return fail("a DNS name is at most 253 characters");
  const labels = name.split(".");
  for (const [i, l] of labels.entries()) {
    if (i === 0 && l === "*" && options.wildcard) {
      if (labels.length < 3) return fail("a wildcard needs at least two labels after '*.'");
      continue;
    }
    if (options.strict && !STRICT_LABEL.test(l)) {
      return fail(
        "not a valid host name or IP address for a certificate (labels of letters, digits " +
          "and '-', 1-63 characters, not starting or ending with '-')",
      );
    }
    if (!LABEL.test(l)) {
      return fail(
        "not a valid host name or IP address (labels of letters, digits, '-' and '_', " +
          "1-63 characters, not starting or ending with '-')",
      );
    }
  }
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    return fail("not a valid IPv4 address, and a host name cannot end in a numeric label");
  }
  return { ok: true, value: { kind: "dns", value: name } };
}

/** `HOST:PORT`, `[IPv6]:PORT`, or a bare host when the port is optional. */
export interface HostPort {
  readonly host: Host;
  /** null when absent (allowed only with `portOptional`). */
  readonly port: number | null;
}

/** Options of {@link parseHostPort}. */
export interface ParseHostPortOptions {
  /** Accept a host without `:PORT` (port null). Default false. */
  readonly portOptional?: boolean;
  /** Lowest port accepted. Default 1; a listener passes 0 (a free port). */
  readonly minPort?: number;
}

/**
 * Parses `HOST:PORT` / `[IPv6]:PORT`, or with `portOptional` also a bare
 * host (a bare IPv6 address included). Ports from `minPort` to 65535.
 */
export function parseHostPort(
  input: string,
  options: ParseHostPortOptions = {},
): HostResult<HostPort> {
  const raw = input.trim();
  const minPort = options.minPort ?? 1;
  // A URL or path is refused by parseHost with a sentence saying so.
  if (raw.includes("/")) return parseHost(raw) as HostResult<never>;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(raw);
  const oneColon = bracketed ? null : /^([^:]*):([^:]*)$/.exec(raw);
  // Without brackets, two colons or more can only be a bare IPv6 address (no port).
  const hostText = bracketed ? `[${bracketed[1]}]` : oneColon ? oneColon[1] : raw;
  const portText = bracketed ? bracketed[2] : oneColon ? oneColon[2] : undefined;
  const host = parseHost(hostText);
  if (!host.ok) return host;
  if (portText === undefined) {
    if (options.portOptional) return { ok: true, value: { host: host.value, port: null } };
    return fail(
      host.value.kind === "ipv6" && !bracketed
        ? "put an IPv6 address in brackets before the port, as in [::1]:8080"
        : "the port is missing (HOST:PORT)",
    );
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port < minPort || port > 65535) {
    return fail(`the port after ':' must be from ${minPort} to 65535`);
  }
  return { ok: true, value: { host: host.value, port } };
}

/** The host as it goes into a URL authority: IPv6 in brackets. */
export function urlHost(host: Host): string {
  return host.kind === "ipv6" ? `[${host.value.replace("%", "%25")}]` : host.value;
}

/** `host:port` for messages and URLs (IPv6 bracketed). */
export function hostPortText(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
