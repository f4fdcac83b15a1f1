/**
 * The destination's side of request signatures (PORTAL02 §11): the certificate chains to
 * `tls_ca`, is valid now and names `src`; `ts` is near this node's clock; the nonce is fresh;
 * the signature matches. A certificate seen before costs one signature verify per request.
 */
import { Buffer } from "node:buffer";
import { createHash, type KeyObject, X509Certificate } from "node:crypto";
import { errorText } from "../util/errors.ts";
import { clip } from "../util/format.ts";
import { ReplayCache } from "./replay.ts";
import {
  ES256_SIGNATURE_BYTES,
  type RequestSignature,
  type SignableRequest,
  SignatureError,
  signedBytes,
  verifyData,
} from "./signature.ts";
import {
  certificateBlocks,
  type CertNames,
  certNames,
  describeKey,
  namesNode,
  type SigAlg,
  sigAlgOf,
  SigAlgs,
  validity,
} from "./x509.ts";

/** Why a signature was refused. */
export type SignatureFailure =
  | "missing"
  | "malformed"
  | "bad_alg"
  | "untrusted"
  | "expired"
  | "not_yet_valid"
  | "wrong_name"
  | "stale"
  | "replay"
  | "bad_signature"
  /** Too many fresh nonces to remember: refused rather than risk a replay (answer 503). */
  | "overloaded";

/** The verdict on one request's signature. */
export type VerifyResult =
  | {
    readonly ok: true;
    /** SHA-256 of the signer's certificate, as `openssl x509 -fingerprint -sha256`. */
    readonly fingerprint: string;
    readonly subject: string;
    readonly alg: SigAlg;
  }
  | { readonly ok: false; readonly code: SignatureFailure; readonly reason: string };

/** A REQUEST as received: the signed fields and, perhaps, a `sig`. */
export interface SignedRequest extends SignableRequest {
  readonly sig?: unknown;
}

/** Options of {@link RequestVerifier}. */
export interface RequestVerifierOptions {
  /** The CA bundle PEM (`tls_ca`); its CA:TRUE certificates are the trust anchors. */
  readonly caPem: string;
  /** Wall clock in unix milliseconds. Default `Date.now`. */
  readonly now?: () => number;
  /** Largest difference between `ts` and the clock, in ms. Default 30 000. */
  readonly maxSkewMs?: number;
  /** How long a (src, nonce) pair is remembered, in ms. Default 60 000. */
  readonly replayWindowMs?: number;
  /** Most (src, nonce) pairs remembered. Default 100 000; beyond it requests are `overloaded`. */
  readonly maxReplayEntries?: number;
  /** Most verified certificates kept (least recently used dropped). Default 1024. */
  readonly maxCachedCertificates?: number;
}

/** A certificate whose chain and key were checked once; only time and name are per request. */
interface TrustedCert {
  readonly fingerprint: string;
  readonly subject: string;
  readonly publicKey: KeyObject;
  readonly keyAlg: SigAlg | null;
  readonly keyText: string;
  readonly names: CertNames;
  readonly from: number;
  readonly to: number;
  readonly caSubject: string;
  readonly caFrom: number;
  readonly caTo: number;
}

interface Anchor {
  readonly cert: X509Certificate;
  readonly subject: string;
  readonly from: number;
  readonly to: number;
}

/** Longest accepted x5c (base64 of a DER certificate); real ones are well under 4 KiB. */
const MAX_X5C_CHARS = 16_384;
/** Longest accepted signature value: an RSA-8192 signature is 1366 base64url characters. */
const MAX_VALUE_CHARS = 1_400;
const NONCE_RE = /^[A-Za-z0-9_-]{22}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;

const fail = (code: SignatureFailure, reason: string): VerifyResult => ({
  ok: false,
  code,
  reason,
});

/**
 * Verifies REQUEST signatures against one CA bundle. The chain is one level, CA → leaf, as
 * gen-certs makes: the leaf must be issued and signed by a CA:TRUE certificate of the bundle.
 */
export class RequestVerifier {
  readonly #anchors: readonly Anchor[];
  readonly #now: () => number;
  readonly #maxSkewMs: number;
  readonly #replay: ReplayCache;
  readonly #maxCerts: number;
  readonly #certs = new Map<string, TrustedCert>();

  /** Reads the CA bundle; throws {@link SignatureError} when it holds no usable CA. */
  constructor(opts: RequestVerifierOptions) {
    const anchors: Anchor[] = [];
    for (const pem of certificateBlocks(opts.caPem)) {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(pem);
      } catch (e) {
        throw new SignatureError(
          "bad_cert",
          `a certificate in tls_ca is unreadable: ${errorText(e)}`,
          {
            cause: e,
          },
        );
      }
      if (cert.ca) anchors.push({ cert, subject: oneLine(cert.subject), ...validity(cert) });
    }
    if (anchors.length === 0) {
      throw new SignatureError(
        "bad_cert",
        "tls_ca holds no CA certificate (CA:TRUE), so no request signature can be checked",
      );
    }
    this.#anchors = anchors;
    this.#now = opts.now ?? Date.now;
    this.#maxSkewMs = opts.maxSkewMs ?? 30_000;
    this.#replay = new ReplayCache({
      windowMs: opts.replayWindowMs,
      maxEntries: opts.maxReplayEntries,
    });
    this.#maxCerts = opts.maxCachedCertificates ?? 1024;
  }

  /** Verified certificates kept now. */
  get cachedCertificates(): number {
    return this.#certs.size;
  }

  /** (src, nonce) pairs remembered now. */
  get rememberedNonces(): number {
    return this.#replay.size;
  }

  /** Checks `req.sig`; a fresh valid signature's nonce is remembered. */
  verify(req: SignedRequest): VerifyResult {
    const now = this.#now();
    const sig = parseSig(req.sig);
    if ("code" in sig) return sig;
    const { alg, x5c, ts, nonce, value } = sig;
    if (Math.abs(now - ts) > this.#maxSkewMs) {
      return fail(
        "stale",
        `sig.ts is ${Math.round(Math.abs(ts - now) / 1000)} s ` +
          `${ts < now ? "behind" : "ahead of"} this node's clock (at most ` +
          `${this.#maxSkewMs / 1000} s allowed): a delayed request or a clock off (check NTP)`,
      );
    }

    const trusted = this.#trust(x5c);
    if ("code" in trusted) return trusted;
    const timeProblem = checkTime(trusted, now);
    if (timeProblem) return timeProblem;
    if (!namesNode(trusted.names, req.src)) {
      return fail(
        "wrong_name",
        `the certificate ${trusted.subject} does not name '${clip(String(req.src))}' ` +
          `(CN or DNS name must equal the request's src)`,
      );
    }
    if (trusted.keyAlg !== alg) {
      return fail(
        "bad_alg",
        trusted.keyAlg === null
          ? `the certificate's ${trusted.keyText} key makes no PORTAL02 signature ` +
            "(EC P-256, RSA or Ed25519 are)"
          : `sig.alg ${alg} does not fit the certificate's ${trusted.keyText} key ` +
            `(${trusted.keyAlg} does)`,
      );
    }

    const replayKey = `${req.src}\u0000${nonce}`;
    const seen = this.#replay.check(replayKey, now);
    if (seen === "seen") {
      return fail(
        "replay",
        `nonce ${nonce} from ${req.src} was already used within ` +
          `${this.#replay.windowMs / 1000} s (a replayed request)`,
      );
    }
    if (seen === "full") {
      return fail(
        "overloaded",
        `more than ${this.#replay.maxEntries} signed requests arrived within ` +
          `${this.#replay.windowMs / 1000} s; try again shortly`,
      );
    }
    const signature = Buffer.from(value, "base64url");
    if (alg === "ES256" && signature.byteLength !== ES256_SIGNATURE_BYTES) {
      return fail(
        "bad_signature",
        `an ES256 signature is 64 bytes (IEEE P1363 r‖s), got ${signature.byteLength}`,
      );
    }
    let data: Uint8Array;
    try {
      data = signedBytes({ ...req, ts, nonce });
    } catch (e) {
      return fail("malformed", `the request cannot be put in canonical form: ${errorText(e)}`);
    }
    let valid: boolean;
    try {
      valid = verifyData(alg, data, trusted.publicKey, signature);
    } catch {
      valid = false;
    }
    if (!valid) {
      return fail(
        "bad_signature",
        "the signature does not match the request (altered on the way, or signed by another key)",
      );
    }
    this.#replay.add(replayKey, now);
    return { ok: true, fingerprint: trusted.fingerprint, subject: trusted.subject, alg };
  }

  /** The checked certificate for `x5c`, from the cache or by checking its chain now. */
  #trust(x5c: string): TrustedCert | VerifyResult & { ok: false } {
    const der = Buffer.from(x5c, "base64");
    const key = createHash("sha256").update(der).digest("hex");
    const cached = this.#certs.get(key);
    if (cached) {
      // Least recently used goes first: move this one to the end.
      this.#certs.delete(key);
      this.#certs.set(key, cached);
      return cached;
    }
    let cert: X509Certificate;
    try {
      cert = new X509Certificate(der);
    } catch {
      return { ok: false, code: "malformed", reason: "sig.x5c is not a DER certificate" };
    }
    const subject = oneLine(cert.subject);
    if (cert.ca) {
      return {
        ok: false,
        code: "untrusted",
        reason: `the certificate ${subject} is a CA certificate, not a node's`,
      };
    }
    const anchor = this.#anchors.find((a) => issuedBy(cert, a.cert));
    if (!anchor) {
      return {
        ok: false,
        code: "untrusted",
        reason: `the certificate ${subject} (issuer ${oneLine(cert.issuer)}) is not signed by ` +
          "a CA in tls_ca",
      };
    }
    const publicKey = cert.publicKey;
    const trusted: TrustedCert = {
      fingerprint: cert.fingerprint256,
      subject,
      publicKey,
      keyAlg: sigAlgOf(publicKey),
      keyText: describeKey(publicKey),
      names: certNames(cert),
      ...validity(cert),
      caSubject: anchor.subject,
      caFrom: anchor.from,
      caTo: anchor.to,
    };
    if (this.#certs.size >= this.#maxCerts) {
      const oldest = this.#certs.keys().next().value;
      if (oldest !== undefined) this.#certs.delete(oldest);
    }
    this.#certs.set(key, trusted);
    return trusted;
  }
}

function issuedBy(cert: X509Certificate, ca: X509Certificate): boolean {
  try {
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false; // a key type the CA's cannot verify
  }
}

function checkTime(t: TrustedCert, now: number): VerifyResult | null {
  const at = (ms: number) => new Date(ms).toISOString();
  if (now > t.to) return fail("expired", `the certificate ${t.subject} expired on ${at(t.to)}`);
  if (now < t.from) {
    return fail("not_yet_valid", `the certificate ${t.subject} is not valid before ${at(t.from)}`);
  }
  if (now > t.caTo) return fail("expired", `the CA ${t.caSubject} expired on ${at(t.caTo)}`);
  if (now < t.caFrom) {
    return fail("not_yet_valid", `the CA ${t.caSubject} is not valid before ${at(t.caFrom)}`);
  }
  return null;
}

/** The `sig` member, its fields checked for type and form. */
function parseSig(sig: unknown): RequestSignature | VerifyResult & { ok: false } {
  const bad = (reason: string) => ({ ok: false, code: "malformed", reason }) as const;
  if (sig === undefined || sig === null) {
    return { ok: false, code: "missing", reason: "the request is not signed" };
  }
  if (typeof sig !== "object" || Array.isArray(sig)) {
    return bad("sig must be an object {alg, x5c, ts, nonce, value}");
  }
  const { alg, x5c, ts, nonce, value } = sig as Record<string, unknown>;
  if (typeof alg !== "string") return bad("sig.alg must be a string");
  if (!SigAlgs.includes(alg as SigAlg)) {
    return {
      ok: false,
      code: "bad_alg",
      reason: `sig.alg '${clip(alg)}' is not ES256, RS256 or EdDSA`,
    };
  }
  if (typeof ts !== "number" || !Number.isSafeInteger(ts) || ts < 0) {
    return bad("sig.ts must be a whole number of unix milliseconds");
  }
  if (typeof nonce !== "string" || !NONCE_RE.test(nonce)) {
    return bad("sig.nonce must be base64url of 16 bytes (22 characters)");
  }
  if (typeof value !== "string" || value.length > MAX_VALUE_CHARS || !BASE64URL_RE.test(value)) {
    return bad("sig.value must be a base64url signature");
  }
  if (typeof x5c !== "string" || x5c.length > MAX_X5C_CHARS || !BASE64_RE.test(x5c)) {
    return bad("sig.x5c must be the base64 DER of a certificate");
  }
  return { alg: alg as SigAlg, x5c, ts, nonce, value };
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ", ");
}
