/** The bearer-token check of the HTTP API ([mod_http] token). */
import { createHash, timingSafeEqual } from "node:crypto";

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
export function bearerChecker(token: string): (authorization: string | null) => TokenCheck {
  const expected = sha256(token);
  return (authorization) => {
    if (authorization === null) return "missing";
    const m = /^Bearer[ \t]+(.*)$/i.exec(authorization.trim());
    if (m === null) return "missing";
    const given = sha256(m[1].trim());
    return timingSafeEqual(given, expected) ? "ok" : "wrong";
  };
}
