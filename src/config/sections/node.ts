/** [mod_node]: this node, its federation listener and its TLS identity (CONFIG.md). */
import { formatDuration } from "../../util/format.ts";
import type { ResolveContext } from "../context.ts";
import { IssueCode } from "../errors.ts";
import { NODE_FIELDS } from "../fields.ts";
import type { RawSection } from "../ini.ts";
import { readSection } from "../read_section.ts";
import type { NodeConfig, SignMode } from "../types.ts";

/** A file the config names, to be checked before the node starts. */
export interface ReferencedFile {
  /** PEM files are read; audit_log is written (appended to). */
  readonly key: "tls_cert" | "tls_key" | "tls_ca" | "audit_log";
  readonly section: string;
  /** As written in the file. */
  readonly value: string;
  /** Resolved against the config file's directory. */
  readonly path: string;
  readonly line: number;
}

/** The resolved [mod_node] and the files it names. */
export interface NodeResolution {
  readonly node: NodeConfig;
  /** Whether the section exists (rules that compare with this node's name need it). */
  readonly present: boolean;
  /** Line of each key set, for rules in other sections that point back here. */
  readonly lines: { readonly listen_port?: number };
  readonly files: readonly ReferencedFile[];
}

/** A placeholder key from the example configs, which must not reach production. */
const EXAMPLE_KEY_PREFIX = "change-me";
/** Shorter shared secrets are guessable offline from one captured handshake. */
const SHORT_KEY_CHARS = 16;

/** What is weak about a shared key, as the end of a sentence about it; null when nothing is. */
export function keyWeakness(key: string): string | null {
  if (key.startsWith(EXAMPLE_KEY_PREFIX)) {
    return "is still the example value; replace it with a long random secret";
  }
  return key.length < SHORT_KEY_CHARS ? `is shorter than ${SHORT_KEY_CHARS} characters` : null;
}

/** Resolves [mod_node] (null when the file has none, which is an issue). */
export function resolveNode(section: RawSection | null, ctx: ResolveContext): NodeResolution {
  if (!section) {
    ctx.issue(
      IssueCode.MissingSection,
      1,
      "missing [mod_node] section; it needs at least name and federation_key",
      { section: "mod_node" },
    );
  }
  const { values: v, lines, valid } = readSection(section, NODE_FIELDS, ctx);
  const label = section?.name ?? "mod_node";
  const where = (key: string) => ({ section: label, key });
  const listens = v.listen_port !== null;
  const set = (key: keyof typeof NODE_FIELDS) => lines[key] !== undefined;

  if (section && v.tls && listens) {
    for (const key of ["tls_cert", "tls_key"] as const) {
      if (set(key)) continue;
      ctx.issue(
        IssueCode.MissingKey,
        section.line,
        `missing '${key}' in [${label}]: it is required when tls = true and the node ` +
          `listens (set listen_port = off for a dial-only node)`,
        where(key),
      );
    }
  }
  if (v.reconnect_initial > v.reconnect_max) {
    const key = set("reconnect_initial") ? "reconnect_initial" : "reconnect_max";
    ctx.issue(
      IssueCode.Conflict,
      lines[key] ?? 1,
      `reconnect_initial (${formatDuration(v.reconnect_initial)}) is longer than ` +
        `reconnect_max (${formatDuration(v.reconnect_max)}) in [${label}]`,
      where(key),
    );
  }

  // The TLS identity: each setting that uses it needs TLS and the files it is made of.
  const needs = (key: keyof typeof NODE_FIELDS, wants: [boolean, string][], why: string) => {
    const missing = wants.filter(([ok]) => !ok).map(([, what]) => what);
    if (!valid.has(key) || missing.length === 0) return;
    ctx.issue(
      IssueCode.Conflict,
      lines[key] ?? 1,
      `${key} = ${v[key]} needs ${missing.join(" and ")} in [${label}]: ${why}`,
      where(key),
    );
  };
  const tlsOn: [boolean, string] = [v.tls, "tls = true"];
  if (v.tls_client_auth !== "off") {
    needs(
      "tls_client_auth",
      [tlsOn, [set("tls_ca"), "tls_ca"]],
      "dialers' certificates are " +
        "verified against it (system roots would accept anyone's public certificate)",
    );
    if (!listens) {
      ctx.warn(
        lines.tls_client_auth!,
        "tls_client_auth = require has no effect: this node does not listen (listen_port = off)",
        where("tls_client_auth"),
      );
    }
  }
  if (v.require_signed !== "none") {
    needs(
      "require_signed",
      [tlsOn, [set("tls_ca"), "tls_ca"]],
      "signatures are verified " +
        "against the certificates it holds",
    );
  }
  if (v.sign !== "off") {
    needs(
      "sign",
      [tlsOn, [set("tls_cert"), "tls_cert"], [set("tls_key"), "tls_key"]],
      "requests " +
        "are signed with the TLS key and carry its certificate",
    );
  }
  // Unset, `sign` is `call` for a node that has a TLS certificate and key, else `off`.
  const sign: SignMode = set("sign")
    ? v.sign
    : v.tls && v.tls_cert !== null && v.tls_key !== null
    ? "call"
    : "off";

  const unusedTls = (["tls_cert", "tls_key", "tls_ca"] as const).filter(set);
  if (valid.has("tls") && !v.tls && unusedTls.length > 0) {
    ctx.warn(
      lines.tls!,
      `tls = false, so ${unusedTls.join(", ")} ${unusedTls.length > 1 ? "are" : "is"} not ` +
        "used: the federation runs over plain TCP and nothing is signed",
      where("tls"),
    );
  }
  const weak = valid.has("federation_key") ? keyWeakness(v.federation_key) : null;
  if (weak) ctx.warn(lines.federation_key!, `federation_key ${weak}`, where("federation_key"));

  const abs = (p: string | null) => (p === null ? null : ctx.absolute(p));
  const files: ReferencedFile[] = [];
  // The certificate and key are used whenever TLS is on: to listen, to sign, and as the
  // client certificate that tls_client_auth listeners ask for.
  const fileKeys = [...(v.tls ? (["tls_cert", "tls_key", "tls_ca"] as const) : []), "audit_log"];
  for (const key of fileKeys as ReferencedFile["key"][]) {
    const value = v[key];
    const line = lines[key];
    if (section && value !== null && line !== undefined) {
      files.push({ key, section: label, value, path: ctx.absolute(value), line });
    }
  }

  return {
    node: {
      name: v.name,
      federationKey: v.federation_key,
      listenPort: v.listen_port,
      listenHost: v.listen_host,
      tls: v.tls,
      tlsCert: abs(v.tls_cert),
      tlsKey: abs(v.tls_key),
      tlsCa: abs(v.tls_ca),
      workers: v.workers,
      queueLimit: v.queue_limit,
      requestTimeoutMs: v.request_timeout,
      pingIntervalMs: v.ping_interval,
      pingMaxMissed: v.ping_max_missed,
      authTimeoutMs: v.auth_timeout,
      maxFrameBytes: v.max_frame_bytes,
      reconnectInitialMs: v.reconnect_initial,
      reconnectMaxMs: v.reconnect_max,
      reconnectJitter: v.reconnect_jitter,
      maxConnections: v.max_connections,
      tlsClientAuth: v.tls_client_auth,
      requireSigned: v.require_signed,
      sign,
      auditLog: abs(v.audit_log),
      drainTimeoutMs: v.drain_timeout,
    },
    present: section !== null,
    lines: { listen_port: lines.listen_port },
    files,
  };
}
