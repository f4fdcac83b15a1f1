/** What a certificate says about itself, for check-config, start-up warnings and metrics. */
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import { firstCertificateDer } from "./ca.ts";
import { CertError } from "./errors.ts";
import { DAY_MS, x509 } from "./x509.ts";

/** The facts of one certificate that operators act on. */
export interface CertificateInfo {
  /** Distinguished name, e.g. `CN=factory`. */
  readonly subject: string;
  readonly issuer: string;
  /** The subject's common name; null when it has none. */
  readonly cn: string | null;
  /** DNS subjectAltNames in certificate order. */
  readonly dnsNames: readonly string[];
  /** IP subjectAltNames in certificate order. */
  readonly ipAddresses: readonly string[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** Whole days until notAfter (negative once expired, 0 on the last day). */
  readonly daysLeft: number;
  /** SHA-256 of the DER, upper-case hex pairs joined by ':' (as `openssl x509 -fingerprint`). */
  readonly fingerprint256: string;
  /** Whether basicConstraints says CA:TRUE. */
  readonly isCa: boolean;
}

/** Options of {@link certificateInfo}. */
export interface CertificateInfoOptions {
  /** The time daysLeft counts from. Default `new Date()`. */
  readonly now?: Date;
  /** The file the PEM came from, for messages. Default "the certificate". */
  readonly path?: string;
}

/** Reads the first CERTIFICATE block of `pem`; a `bad_cert` error when there is none. */
export function certificateInfo(pem: string, opts: CertificateInfoOptions = {}): CertificateInfo {
  const path = opts.path ?? "the certificate";
  const der = firstCertificateDer(pem, path, "bad_cert");
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (e) {
    throw new CertError("bad_cert", `${path} is not a readable X.509 certificate`, { cause: e });
  }
  const names = cert.getExtension(x509.SubjectAlternativeNameExtension)?.names.items ?? [];
  const now = opts.now ?? new Date();
  return {
    subject: cert.subject,
    issuer: cert.issuer,
    cn: cert.subjectName.getField("CN")[0] ?? null,
    dnsNames: names.filter((n) => n.type === "dns").map((n) => n.value),
    ipAddresses: names.filter((n) => n.type === "ip").map((n) => n.value),
    notBefore: cert.notBefore,
    notAfter: cert.notAfter,
    daysLeft: Math.floor((cert.notAfter.getTime() - now.getTime()) / DAY_MS),
    fingerprint256: fingerprint256(new Uint8Array(der)),
    isCa: cert.getExtension(x509.BasicConstraintsExtension)?.ca === true,
  };
}

/** SHA-256 of `der` as upper-case hex pairs joined by ':'. */
export function fingerprint256(der: Uint8Array): string {
  const hexDigits = createHash("sha256").update(Buffer.from(der)).digest("hex").toUpperCase();
  return hexDigits.replace(/(..)(?!$)/g, "$1:");
}
