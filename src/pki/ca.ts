/**
 * The deployment CA: created once by gen-certs, or loaded from ca.pem / ca.key to issue more
 * node certificates. rustls refuses a CA certificate used as a server certificate, so the CA
 * only signs; nodes present leaves and trust the CA through `tls_ca`.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey, type KeyObject, X509Certificate as NodeX509 } from "node:crypto";
import { CertError } from "./errors.ts";
import {
  BACKDATE_MS,
  certificatePem,
  checkDays,
  DAY_MS,
  DEFAULT_CA_DAYS,
  EC_P256,
  hex,
  newSerial,
  privateKeyPem,
  x509,
} from "./x509.ts";

/** File names of the CA inside a gen-certs directory. */
export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca.key";

/** A CA able to sign node certificates. */
export interface CertificateAuthority {
  readonly certPem: string;
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  readonly keyPem: string;
  readonly cert: x509.X509Certificate;
  readonly privateKey: CryptoKey;
  /** Signature algorithm for what this CA signs (hash chosen to match its key). */
  readonly signingAlgorithm: Algorithm | EcdsaParams;
}

/** Options of {@link generateCa}. */
export interface CaOptions {
  /** Subject common name. Default "Portal CA " plus 8 random hex digits, so CAs differ. */
  readonly commonName?: string;
  /** Validity in days. Default {@link DEFAULT_CA_DAYS}. */
  readonly days?: number;
  /** The current time. Default `new Date()`. */
  readonly now?: Date;
}

/** Options of {@link loadCa}. */
export interface LoadCaOptions {
  /** The current time, to refuse an expired CA. Default `new Date()`. */
  readonly now?: Date;
  /** Names of the files in messages. Default `ca.pem` and `ca.key`. */
  readonly certPath?: string;
  readonly keyPath?: string;
}

/** Creates a new self-signed CA on a fresh EC P-256 key. */
export async function generateCa(opts: CaOptions = {}): Promise<CertificateAuthority> {
  const days = checkDays(opts.days ?? DEFAULT_CA_DAYS);
  const now = opts.now ?? new Date();
  const commonName = opts.commonName ??
    `Portal CA ${hex(crypto.getRandomValues(new Uint8Array(4)))}`;
  const keys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const signingAlgorithm: EcdsaParams = { name: "ECDSA", hash: "SHA-256" };
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: newSerial(),
    name: [{ CN: [commonName] }, { O: ["Portal"] }],
    notBefore: new Date(now.getTime() - BACKDATE_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS),
    signingAlgorithm,
    keys,
    extensions: [
      // pathLength 0: this CA signs node certificates only, never another CA.
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return {
    certPem: certificatePem(cert),
    keyPem: await privateKeyPem(keys.privateKey),
    cert,
    privateKey: keys.privateKey,
    signingAlgorithm,
  };
}

/** Loads a CA from PEM text, checking it is a usable CA and that the key belongs to it. */
export async function loadCa(
  certPem: string,
  keyPem: string,
  opts: LoadCaOptions = {},
): Promise<CertificateAuthority> {
  const certPath = opts.certPath ?? CA_CERT_FILE;
  const keyPath = opts.keyPath ?? CA_KEY_FILE;
  const now = opts.now ?? new Date();
  const der = firstCertificateDer(certPem, certPath, "bad_ca");
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(der);
  } catch (e) {
    throw new CertError("bad_ca", `${certPath} is not a readable X.509 certificate`, { cause: e });
  }
  const bc = cert.getExtension(x509.BasicConstraintsExtension);
  if (!bc?.ca) {
    throw new CertError("bad_ca", `${certPath} is not a CA certificate (it lacks CA:TRUE)`);
  }
  const ku = cert.getExtension(x509.KeyUsagesExtension);
  if (ku && (ku.usages & x509.KeyUsageFlags.keyCertSign) === 0) {
    throw new CertError("bad_ca", `${certPath} may not sign certificates (no keyCertSign usage)`);
  }
  if (cert.notAfter.getTime() <= now.getTime()) {
    throw new CertError(
      "bad_ca",
      `the CA in ${certPath} expired on ${cert.notAfter.toISOString()}; move ca.pem and ca.key ` +
        "away to create a new CA, then reissue every node's certificate",
    );
  }
  const { importParams, signingAlgorithm } = caAlgorithm(cert, certPath);
  const key = readPrivateKey(keyPem, keyPath);
  // A key from another CA would sign certificates nobody can verify: prove the pair matches.
  if (!new NodeX509(Buffer.from(der)).checkPrivateKey(key)) {
    throw new CertError("bad_ca", `${keyPath} is not the private key of the CA in ${certPath}`);
  }
  let privateKey: CryptoKey;
  try {
    const pkcs8 = new Uint8Array(key.export({ type: "pkcs8", format: "der" }));
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8, importParams, false, ["sign"]);
  } catch (e) {
    throw new CertError(
      "bad_ca",
      `${keyPath} is not a ${describeAlgorithm(importParams)} private key matching ${certPath}`,
      { cause: e },
    );
  }
  return { certPem, keyPem, cert, privateKey, signingAlgorithm };
}

/** The DER of the first CERTIFICATE block of `pem`, with a sentence naming `path` otherwise. */
export function firstCertificateDer(
  pem: string,
  path: string,
  code: "bad_ca" | "bad_cert",
): ArrayBuffer {
  let blocks: { type: string; rawData: ArrayBuffer }[];
  try {
    blocks = x509.PemConverter.decodeWithHeaders(pem);
  } catch (e) {
    throw new CertError(code, `${path} has a corrupt PEM block`, { cause: e });
  }
  const block = blocks.find((b) => b.type === "CERTIFICATE");
  if (!block) {
    const found = blocks.map((b) => b.type);
    throw new CertError(
      code,
      `${path} has no PEM "CERTIFICATE" block` +
        (found.length ? ` (found: ${found.join(", ")})` : ""),
    );
  }
  return block.rawData;
}

/**
 * Reads a private key in any PEM form node:crypto knows (PKCS#8, SEC1, PKCS#1). Encrypted keys
 * are named as such: gen-certs runs unattended and cannot ask for a passphrase.
 */
function readPrivateKey(pem: string, path: string): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new CertError(
      "bad_ca",
      `${path} is encrypted; decrypt it with: openssl pkey -in ${path} -out ${path}.plain ` +
        `(then use ${path}.plain as ${path})`,
    );
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) {
    throw new CertError("bad_ca", `${path} has no PEM "PRIVATE KEY" block`);
  }
  try {
    return createPrivateKey(pem);
  } catch (e) {
    throw new CertError(
      "bad_ca",
      `${path} is not a readable private key (PEM PKCS#8, SEC1 or PKCS#1 expected)`,
      { cause: e },
    );
  }
}

function caAlgorithm(
  cert: x509.X509Certificate,
  certPath: string,
): { importParams: EcKeyImportParams | RsaHashedImportParams; signingAlgorithm: Algorithm } {
  const alg = cert.publicKey.algorithm as Algorithm & { namedCurve?: string };
  if (alg.name === "ECDSA" && (alg.namedCurve === "P-256" || alg.namedCurve === "P-384")) {
    const hash = alg.namedCurve === "P-256" ? "SHA-256" : "SHA-384";
    return {
      importParams: { name: "ECDSA", namedCurve: alg.namedCurve },
      signingAlgorithm: { name: "ECDSA", hash } as EcdsaParams,
    };
  }
  if (alg.name === "RSASSA-PKCS1-v1_5") {
    return {
      importParams: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
      signingAlgorithm: { name: "RSASSA-PKCS1-v1_5" },
    };
  }
  throw new CertError(
    "bad_ca",
    `the CA key in ${certPath} is ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ""}; ` +
      "supported are EC P-256, EC P-384 and RSA",
  );
}

function describeAlgorithm(p: EcKeyImportParams | RsaHashedImportParams): string {
  return "namedCurve" in p ? `EC ${p.namedCurve}` : "RSA";
}
