/**
 * Request signatures (PORTAL02 §11): the signed bytes, and the origin's signer. An origin signs
 * each REQUEST with the private key of its TLS certificate, so no relay can forge or alter it;
 * the destination checks it with {@link RequestVerifier} (verify.ts).
 */
import { Buffer } from "node:buffer";
import {
  createPrivateKey,
  type KeyObject,
  sign as cryptoSign,
  verify as cryptoVerify,
  X509Certificate,
} from "node:crypto";
import { errorText } from "../util/errors.ts";
import { cryptoRandom, type RandomSource } from "./primitives.ts";
import { certificateBlocks, describeKey, type SigAlg, sigAlgOf } from "./x509.ts";

/** First element of every signed array: the protocol and version of the signature scheme. */
export const SIG_CONTEXT = "PORTAL02-SIG-1";
/** Random bytes in each nonce. */
export const SIG_NONCE_BYTES = 16;
/** Bytes of an ES256 signature (IEEE P1363 r‖s). */
export const ES256_SIGNATURE_BYTES = 64;

/** The `sig` member of a REQUEST. */
export interface RequestSignature {
  readonly alg: SigAlg;
  /** Base64 (standard, padded) DER of the origin's leaf certificate. */
  readonly x5c: string;
  /** Unix milliseconds when signed. */
  readonly ts: number;
  /** Base64url (unpadded) of {@link SIG_NONCE_BYTES} random bytes. */
  readonly nonce: string;
  /** Base64url (unpadded) signature over {@link signedBytes}. */
  readonly value: string;
}

/** The fields of a REQUEST that its signature covers. */
export interface SignableRequest {
  readonly src: string;
  readonly dst: string;
  readonly id: number;
  readonly method: string;
  readonly path: string;
  readonly args?: unknown;
}

/** What went wrong setting up signing or verifying (bad files), as opposed to a bad request. */
export type SignatureErrorCode = "bad_cert" | "bad_key" | "key_mismatch" | "unsupported_key";

/** A certificate, key or CA bundle that cannot sign or verify requests. */
export class SignatureError extends Error {
  override readonly name = "SignatureError";
  constructor(readonly code: SignatureErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/**
 * JSON with object keys sorted (by UTF-16 code units, as Array.prototype.sort) at every depth and
 * no whitespace; otherwise JSON.stringify's rules (toJSON, undefined members dropped, undefined
 * array items and non-finite numbers as null). Throws TypeError on cycles, BigInt, or a value
 * JSON cannot hold at the top.
 */
export function canonicalJson(value: unknown): string {
  const out = write(value, new Set());
  if (out === undefined) throw new TypeError(`canonicalJson: ${typeof value} is not JSON`);
  return out;
}

function write(value: unknown, open: Set<object>): string | undefined {
  if (value !== null && typeof value === "object" && "toJSON" in value) {
    const toJSON = (value as { toJSON: unknown }).toJSON;
    if (typeof toJSON === "function") value = toJSON.call(value, "");
  }
  if (value === null || typeof value !== "object") {
    if (typeof value === "bigint") throw new TypeError("canonicalJson: BigInt is not JSON");
    return JSON.stringify(value); // undefined for undefined, functions and symbols
  }
  if (value instanceof Number || value instanceof String || value instanceof Boolean) {
    return JSON.stringify(value);
  }
  if (open.has(value)) throw new TypeError("canonicalJson: the value is cyclic");
  open.add(value);
  let text: string;
  if (Array.isArray(value)) {
    text = `[${value.map((item) => write(item, open) ?? "null").join(",")}]`;
  } else {
    const parts: string[] = [];
    const record = value as Record<string, unknown>;
    for (const key of Object.keys(record).sort()) {
      const member = write(record[key], open);
      if (member !== undefined) parts.push(`${JSON.stringify(key)}:${member}`);
    }
    text = `{${parts.join(",")}}`;
  }
  open.delete(value);
  return text;
}

const encoder = new TextEncoder();

/**
 * The bytes a signature covers: UTF-8 of
 * `["PORTAL02-SIG-1", src, dst, id, method, path, args ?? {}, ts, nonce]` in canonical JSON.
 */
export function signedBytes(
  req: SignableRequest & { ts: number; nonce: string },
): Uint8Array<ArrayBuffer> {
  return encoder.encode(
    canonicalJson([
      SIG_CONTEXT,
      req.src,
      req.dst,
      req.id,
      req.method,
      req.path,
      req.args ?? {},
      req.ts,
      req.nonce,
    ]),
  );
}

/** Signs `data` with `key` by `alg` (ES256 in IEEE P1363 form). */
export function signData(alg: SigAlg, data: Uint8Array, key: KeyObject): Buffer {
  switch (alg) {
    case "ES256":
      return cryptoSign("sha256", data, { key, dsaEncoding: "ieee-p1363" });
    case "RS256":
      return cryptoSign("sha256", data, key);
    case "EdDSA":
      return cryptoSign(null, data, key);
  }
}

/** Whether `signature` over `data` verifies with `key` by `alg`. */
export function verifyData(
  alg: SigAlg,
  data: Uint8Array,
  key: KeyObject,
  signature: Uint8Array,
): boolean {
  switch (alg) {
    case "ES256":
      return cryptoVerify("sha256", data, { key, dsaEncoding: "ieee-p1363" }, signature);
    case "RS256":
      return cryptoVerify("sha256", data, key, signature);
    case "EdDSA":
      return cryptoVerify(null, data, key, signature);
  }
}

/** Options of {@link RequestSigner}. */
export interface RequestSignerOptions {
  /** The node's certificate PEM (`tls_cert`); its first CERTIFICATE block is the leaf sent. */
  readonly certPem: string;
  /** The matching private key PEM (`tls_key`): EC P-256, RSA or Ed25519. */
  readonly keyPem: string;
  /** Wall clock in unix milliseconds, for `ts`. Default `Date.now`. */
  readonly now?: () => number;
  /** Source of nonce bytes. Default the cryptographic source. */
  readonly random?: RandomSource;
}

/** Signs this node's REQUESTs with its TLS key. Sync: one node:crypto sign per request. */
export class RequestSigner {
  /** The algorithm every signature uses, from the key type. */
  readonly alg: SigAlg;
  /** Base64 DER of the leaf, computed once and sent in every signature. */
  readonly x5c: string;
  /** The leaf's subject, for logs. */
  readonly subject: string;
  readonly #key: KeyObject;
  readonly #now: () => number;
  readonly #random: RandomSource;

  /** Reads and pairs the certificate and key; throws {@link SignatureError} when they don't fit. */
  constructor(opts: RequestSignerOptions) {
    const leafPem = certificateBlocks(opts.certPem)[0];
    if (leafPem === undefined) {
      throw new SignatureError("bad_cert", 'the certificate has no PEM "CERTIFICATE" block');
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(leafPem);
    } catch (e) {
      throw new SignatureError("bad_cert", `the certificate is unreadable: ${errorText(e)}`, {
        cause: e,
      });
    }
    try {
      this.#key = createPrivateKey(opts.keyPem);
    } catch (e) {
      throw new SignatureError("bad_key", `the private key is unreadable: ${errorText(e)}`, {
        cause: e,
      });
    }
    const alg = sigAlgOf(this.#key);
    if (alg === null) {
      throw new SignatureError(
        "unsupported_key",
        `a ${describeKey(this.#key)} key cannot sign requests; ` +
          "use EC P-256 (as gen-certs makes), RSA or Ed25519",
      );
    }
    if (!cert.checkPrivateKey(this.#key)) {
      throw new SignatureError(
        "key_mismatch",
        `the private key does not belong to the certificate ${cert.subject.replace(/\n/g, ", ")}`,
      );
    }
    this.alg = alg;
    this.x5c = cert.raw.toString("base64");
    this.subject = cert.subject.replace(/\n/g, ", ");
    this.#now = opts.now ?? Date.now;
    this.#random = opts.random ?? cryptoRandom;
  }

  /** The `sig` member for `req`: a fresh nonce, the clock's time, and the signature. */
  sign(req: SignableRequest): RequestSignature {
    const ts = Math.floor(this.#now());
    const nonce = Buffer.from(this.#random(new Uint8Array(SIG_NONCE_BYTES))).toString("base64url");
    const value = signData(this.alg, signedBytes({ ...req, ts, nonce }), this.#key)
      .toString("base64url");
    return { alg: this.alg, x5c: this.x5c, ts, nonce, value };
  }
}
