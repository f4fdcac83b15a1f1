/**
 * Who the HTTP API answers ([mod_http] token, read_token, allowed_hosts):
 * built from the config at start and rebuilt on a reload.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { HttpConfig } from "../config/types.ts";
import { parseHostPort } from "../util/host.ts";

/** Outcome of checking an `Authorization` header. */
export type TokenCheck = "ok" | "missing" | "wrong";

const encoder = new TextEncoder();

function sha256(text: string): Uint8Array {
  return new Uint8Array(createHash("sha256").update(encoder.encode(text)).digest());
}

/**
 * Builds a checker for `Authorization: Bearer <token>`. Both sides are hashed
 * before the constant-time comparison, so neither the content nor the length
 * of the expected token leaks through timing.
 */
function bearerChecker(token: string): (authorization: string | null) => TokenCheck {
  const expected = sha256(token);
  return (authorization) => {
    if (authorization === null) return "missing";
    const m = /^Bearer[ \t]+(.*)$/i.exec(authorization.trim());
    if (m === null) return "missing";
    const given = sha256(m[1].trim());
    return timingSafeEqual(given, expected) ? "ok" : "wrong";
  };
}

/** The Host names served without a token: loopback names, the listen address, or `allowed_hosts`. */
export function allowedHostNames(config: HttpConfig): ReadonlySet<string> {
  if (config.allowedHosts !== null) return new Set(config.allowedHosts.map((h) => h.toLowerCase()));
  const names = new Set(["localhost", "127.0.0.1", "::1"]);
  const listen = config.listen?.hostname;
  if (listen && listen !== "0.0.0.0" && listen !== "::") names.add(listen.toLowerCase());
  return names;
}

/** The host name of a Host header (canonical: lowercase, IPv6 without brackets); null when absent. */
function hostOf(header: string | undefined | null): string | null {
  if (header === undefined || header === null) return null;
  const parsed = parseHostPort(header, { portOptional: true, minPort: 0 });
  // An unparsable Host is never an allowed name; keep it (cut) for the sentence.
  return parsed.ok ? parsed.value.host.value.toLowerCase() : header.slice(0, 60).toLowerCase();
}

/** The token checks and Host rule of one [mod_http] section. */
export interface ApiAuth {
  /** Checks the full-access token; null when the API has none (then every caller has full access). */
  readonly checkToken: ((authorization: string | null) => TokenCheck) | null;
  /** Checks read_token; null when there is none. */
  readonly checkRead: ((authorization: string | null) => TokenCheck) | null;
  /** The names a tokenless API answers. */
  readonly hosts: ReadonlySet<string>;
  /** The host of a Host header that is not one of `hosts`; null when it is (or there is none). */
  foreignHost(header: string | undefined): string | null;
}

/** The checks of `config`'s tokens and allowed hosts. */
export function apiAuth(config: HttpConfig): ApiAuth {
  const hosts = allowedHostNames(config);
  /** Host header values already judged (clients send the same one again and again). */
  const verdicts = new Map<string, string | null>();
  return {
    checkToken: config.token === null ? null : bearerChecker(config.token),
    checkRead: config.readToken === null ? null : bearerChecker(config.readToken),
    hosts,
    foreignHost(header) {
      if (header === undefined) return null;
      let verdict = verdicts.get(header);
      if (verdict === undefined) {
        const host = hostOf(header);
        verdict = host === null || hosts.has(host) ? null : host;
        if (verdicts.size >= 256) verdicts.clear();
        verdicts.set(header, verdict);
      }
      return verdict;
    },
  };
}
