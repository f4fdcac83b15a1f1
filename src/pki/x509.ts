/**
 * The X.509 library, set up once, and what CA and node certificates share: validity limits,
 * serial numbers and the PEM encodings (the library's and node:crypto's, never our own).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { Buffer } from "node:buffer";
import { createPrivateKey } from "node:crypto";
import { CertError } from "./errors.ts";

x509.cryptoProvider.set(crypto);

export { x509 };

/** Default validity of a CA created here: long, because replacing it means reissuing every node. */
export const DEFAULT_CA_DAYS = 3650;
/** Default validity of a node certificate. */
export const DEFAULT_NODE_DAYS = 825;
/** Largest `days` accepted (100 years); beyond that dates stop meaning anything. */
export const MAX_DAYS = 36500;
/** Certificates start this far in the past so sites whose clocks lag a little accept them. */
export const BACKDATE_MS = 60 * 60 * 1000;
/** One day in milliseconds. */
export const DAY_MS = 24 * 60 * 60 * 1000;
/** The CA's key type, and node keys on request: EC P-256 (ES256 signatures, accepted by rustls). */
export const EC_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

/**
 * Key types of node certificates: `ed25519` (the default: a request signature costs tens of
 * microseconds to make and check, against about a millisecond for P-256 here; rustls and OpenSSL
 * 1.1.1+ accept it for TLS) or `p256` (EC P-256, for TLS stacks without Ed25519).
 */
export const NodeKeyTypes = ["ed25519", "p256"] as const;
export type NodeKeyType = typeof NodeKeyTypes[number];
/** The key type of node certificates when none is asked for. */
export const DEFAULT_NODE_KEY: NodeKeyType = "ed25519";

/** WebCrypto parameters that generate a node key of `type`. */
export function nodeKeyParams(type: NodeKeyType): Algorithm | EcKeyGenParams {
  return type === "ed25519" ? { name: "Ed25519" } : EC_P256;
}

/** `days` when it is a whole number from 1 to {@link MAX_DAYS}; a usage error otherwise. */
export function checkDays(days: number): number {
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CertError(
      "usage",
      `--days must be a whole number from 1 to ${MAX_DAYS}, got ${days}`,
    );
  }
  return days;
}

/** The certificate as one PEM block, ending in a newline like every text file. */
export function certificatePem(cert: x509.X509Certificate): string {
  return `${cert.toString("pem")}\n`;
}

/** A private CryptoKey as PKCS#8 PEM ("PRIVATE KEY"). */
export async function privateKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return createPrivateKey({ key: der, format: "der", type: "pkcs8" })
    .export({ type: "pkcs8", format: "pem" })
    .toString();
}

/** 16 random bytes, positive and of fixed length in DER (RFC 5280 §4.1.2.2). */
export function newSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x3f) | 0x40;
  return hex(bytes);
}

/** Lower-case hex of `bytes`. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}
