/** Challenge-response primitives (PORTAL02.md §3). */
import { createHash, timingSafeEqual } from "node:crypto";
import { DIGEST_BYTES, NONCE_BYTES } from "../wire/constants.ts";

/** A source of random bytes, injectable for deterministic tests. */
export type RandomSource = (out: Uint8Array) => Uint8Array;

/** The cryptographic source used in production. */
export const cryptoRandom: RandomSource = (out) => crypto.getRandomValues(out);

/** A fresh 32-byte nonce. */
export function newNonce(random: RandomSource = cryptoRandom): Uint8Array {
  return random(new Uint8Array(NONCE_BYTES));
}

const encoder = new TextEncoder();

/** SHA-256(nonce || key), key as UTF-8. */
export function authDigest(nonce: Uint8Array, key: string): Uint8Array {
  const h = createHash("sha256");
  h.update(nonce);
  h.update(encoder.encode(key));
  return new Uint8Array(h.digest());
}

/** Constant-time check of a received digest against the expected one. */
export function verifyDigest(nonce: Uint8Array, key: string, received: Uint8Array): boolean {
  const expected = authDigest(nonce, key);
  // Length is public (always 32 on the wire); only content must be compared in constant time.
  if (received.byteLength !== DIGEST_BYTES) return false;
  return timingSafeEqual(expected, received);
}

const NAME_RULE = /^[A-Za-z0-9._-]{1,64}$/;

/** True when `name` is 1 to 64 characters of [A-Za-z0-9._-]. */
export function isValidNodeName(name: string): boolean {
  return NAME_RULE.test(name);
}
