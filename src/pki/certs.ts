/**
 * A small private PKI for federation TLS: one CA per deployment and one leaf certificate per
 * node, signed by it. rustls refuses a CA certificate used as a server certificate, so nodes
 * always present a leaf (CA:FALSE, SAN with every name they are dialed by) and peers trust the
 * CA through `tls_ca`.
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { isValidNodeName } from "../auth/primitives.ts";
import { errorText } from "../util/errors.ts";

x509.cryptoProvider.set(crypto);

/** Why certificate generation could not go ahead. `usage` means the caller's input was bad. */
export type CertErrorCode = "usage" | "exists" | "bad_ca" | "io";

/** A failure of gen-certs, with a sentence a user can act on. */
export class CertError extends Error {
  override readonly name = "CertError";
  constructor(readonly code: CertErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
  }
}

/** Default validity of a CA created here: long, because replacing it means reissuing every node. */
export const DEFAULT_CA_DAYS = 3650;
/** Default validity of a node certificate. */
export const DEFAULT_NODE_DAYS = 825;
/** Largest `days` accepted (100 years); beyond that dates stop meaning anything. */
export const MAX_DAYS = 36500;
/** Certificates start this far in the past so sites whose clocks lag a little accept them. */
export const BACKDATE_MS = 60 * 60 * 1000;

export const CA_CERT_FILE = "ca.pem";
export const CA_KEY_FILE = "ca.key";
/** Private keys are readable by their owner only; certificates are public. */
export const KEY_FILE_MODE = 0o600;
export const CERT_FILE_MODE = 0o644;
export const DIR_MODE = 0o700;

const DAY_MS = 24 * 60 * 60 * 1000;
const EC_P256: EcKeyGenParams = { name: "ECDSA", namedCurve: "P-256" };

/** One subjectAltName entry. */
export type SubjectAltName =
  | { readonly kind: "dns"; readonly value: string }
  | { readonly kind: "ip"; readonly value: string };

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

/** Options of {@link issueNodeCert}. */
export interface NodeCertOptions {
  /** The node name (PORTAL02 §3 rule); it becomes the subject CN. */
  readonly name: string;
  /** Host names and IP literals the node is dialed by; at least one. */
  readonly hosts: readonly string[];
  /** Validity in days. Default {@link DEFAULT_NODE_DAYS}; never past the CA's own expiry. */
  readonly days?: number;
  /** The current time. Default `new Date()`. */
  readonly now?: Date;
}

/** A node certificate and its new private key. */
export interface IssuedCert {
  readonly certPem: string;
  /** PKCS#8 PEM ("PRIVATE KEY"). */
  readonly keyPem: string;
  readonly subjectAltNames: readonly SubjectAltName[];
  readonly notBefore: Date;
  readonly notAfter: Date;
  /** True when `days` was cut short to end with the CA. */
  readonly clampedToCa: boolean;
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
    certPem: pemOf(cert),
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
  opts: { readonly now?: Date; readonly certPath?: string; readonly keyPath?: string } = {},
): Promise<CertificateAuthority> {
  const certPath = opts.certPath ?? CA_CERT_FILE;
  const keyPath = opts.keyPath ?? CA_KEY_FILE;
  const now = opts.now ?? new Date();
  const certDer = pemBlock(certPem, ["CERTIFICATE"], certPath);
  let cert: x509.X509Certificate;
  try {
    cert = new x509.X509Certificate(certDer);
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
  const keyDer = pemBlock(keyPem, ["PRIVATE KEY"], keyPath);
  let privateKey: CryptoKey;
  try {
    privateKey = await crypto.subtle.importKey("pkcs8", keyDer, importParams, false, ["sign"]);
  } catch (e) {
    throw new CertError(
      "bad_ca",
      `${keyPath} is not a ${describeAlgorithm(importParams)} private key matching ${certPath}`,
      { cause: e },
    );
  }
  // A key from another CA would sign certificates nobody can verify: prove the pair matches.
  const probe = crypto.getRandomValues(new Uint8Array(32));
  const signature = await crypto.subtle.sign(signingAlgorithm, privateKey, probe);
  const publicKey = await cert.publicKey.export(importParams, ["verify"]);
  if (!(await crypto.subtle.verify(signingAlgorithm, publicKey, signature, probe))) {
    throw new CertError("bad_ca", `${keyPath} is not the private key of the CA in ${certPath}`);
  }
  return { certPem, keyPem, cert, privateKey, signingAlgorithm };
}

/** Issues a node certificate (EC P-256, CA:FALSE, SAN, serverAuth+clientAuth) signed by `ca`. */
export async function issueNodeCert(
  ca: CertificateAuthority,
  opts: NodeCertOptions,
): Promise<IssuedCert> {
  checkNodeName(opts.name);
  const subjectAltNames = parseHosts(opts.hosts);
  const days = checkDays(opts.days ?? DEFAULT_NODE_DAYS);
  const now = opts.now ?? new Date();
  const notBefore = new Date(now.getTime() - BACKDATE_MS);
  const wanted = now.getTime() + days * DAY_MS;
  const caEnd = ca.cert.notAfter.getTime();
  const clampedToCa = wanted > caEnd;
  const notAfter = new Date(Math.min(wanted, caEnd));
  if (notAfter.getTime() <= now.getTime()) {
    throw new CertError("bad_ca", `the CA expired on ${ca.cert.notAfter.toISOString()}`);
  }

  const keys = await crypto.subtle.generateKey(EC_P256, true, ["sign", "verify"]);
  const caKeyId = ca.cert.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: newSerial(),
    subject: [{ CN: [opts.name] }],
    // The CA's own encoded name, so the issuer matches its subject byte for byte.
    issuer: ca.cert.subjectName,
    notBefore,
    notAfter,
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension(
        [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
        false,
      ),
      new x509.SubjectAlternativeNameExtension(
        subjectAltNames.map((san) => ({ type: san.kind, value: san.value })),
        false,
      ),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
      caKeyId
        ? new x509.AuthorityKeyIdentifierExtension(caKeyId)
        : await x509.AuthorityKeyIdentifierExtension.create(ca.cert.publicKey),
    ],
  });
  return {
    certPem: pemOf(cert),
    keyPem: await privateKeyPem(keys.privateKey),
    subjectAltNames,
    notBefore,
    notAfter,
    clampedToCa,
  };
}

/**
 * Classifies one `--host` entry: an IPv4 or IPv6 literal (brackets allowed) becomes an IP SAN,
 * anything else must be a DNS name (letters, digits, hyphens; a leading `*.` label allowed).
 */
export function parseHost(input: string): SubjectAltName {
  const host = input.trim();
  const bad = (why: string) => new CertError("usage", `host '${input}': ${why}`);
  if (host === "") throw new CertError("usage", "empty host name in --host");
  const bracketed = host.startsWith("[") && host.endsWith("]");
  const bare = bracketed ? host.slice(1, -1) : host;
  if (bracketed || bare.includes(":")) {
    if (bare.includes("%")) throw bad("an IPv6 zone id (%…) cannot appear in a certificate");
    let canonical: string;
    try {
      canonical = new URL(`http://[${bare}]/`).hostname;
    } catch {
      throw bad("not a valid IPv6 address");
    }
    return { kind: "ip", value: canonical.slice(1, -1) };
  }
  if (/^[0-9.]+$/.test(bare)) {
    const parts = bare.split(".");
    const octet = /^(?:0|[1-9][0-9]{0,2})$/;
    if (parts.length !== 4 || parts.some((p) => !octet.test(p) || Number(p) > 255)) {
      throw bad("not a valid IPv4 address (four numbers 0-255, no leading zeros)");
    }
    return { kind: "ip", value: bare };
  }
  // DNS names compare case-insensitively; a trailing dot (fully qualified) is dropped.
  const name = (bare.endsWith(".") ? bare.slice(0, -1) : bare).toLowerCase();
  if (/[^\x21-\x7e]/.test(name)) {
    throw bad("use the ASCII (xn--) form of an international name, without spaces");
  }
  if (name.length > 253) throw bad("a DNS name is at most 253 characters");
  const labels = name.split(".");
  const label = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
  labels.forEach((l, i) => {
    if (i === 0 && l === "*") {
      if (labels.length < 3) throw bad("a wildcard needs at least two labels after '*.'");
      return;
    }
    if (!label.test(l)) {
      throw bad(
        "not a valid DNS name or IP address (labels of letters, digits and '-', " +
          "1-63 characters, not starting or ending with '-')",
      );
    }
  });
  if (/^[0-9]+$/.test(labels[labels.length - 1])) {
    throw bad("not a valid IPv4 address, and a DNS name cannot end in a numeric label");
  }
  return { kind: "dns", value: name };
}

/** Parses every host (comma-separated lists allowed), dropping duplicates; at least one. */
export function parseHosts(hosts: readonly string[]): SubjectAltName[] {
  const out: SubjectAltName[] = [];
  const seen = new Set<string>();
  for (const entry of hosts) {
    for (const part of entry.split(",")) {
      const san = parseHost(part);
      const key = `${san.kind}:${san.value}`;
      if (!seen.has(key)) {
        seen.add(key);
        out.push(san);
      }
    }
  }
  if (out.length === 0) throw new CertError("usage", "at least one --host is required");
  return out;
}

/** One file for {@link writeCerts}. */
export interface CertFile {
  /** Name inside the directory, without any path. */
  readonly fileName: string;
  readonly contents: string;
  /** {@link KEY_FILE_MODE} or {@link CERT_FILE_MODE}. */
  readonly mode: number;
}

/** Options of {@link writeCerts}. */
export interface WriteCertsOptions {
  /** Replace files that exist. Default false: an existing file is an error. */
  readonly force?: boolean;
}

/**
 * Writes `files` into `dir` (created with mode 0700 when missing) with their exact modes.
 * Without `force` nothing is written when any file exists. If a write fails, files this call
 * created are removed again, so no half-written set is left behind. Returns the paths written.
 */
export async function writeCerts(
  dir: string,
  files: readonly CertFile[],
  opts: WriteCertsOptions = {},
): Promise<string[]> {
  for (const f of files) {
    if (f.fileName.includes("/") || f.fileName.includes("\\") || f.fileName.startsWith(".")) {
      throw new CertError("usage", `refusing to write '${f.fileName}' outside ${dir}`);
    }
  }
  await ensureDir(dir);
  const paths = files.map((f) => joinPath(dir, f.fileName));
  const existing: string[] = [];
  for (const p of paths) if (await exists(p)) existing.push(p);
  if (existing.length > 0 && !opts.force) throw existsError(existing);

  const created: string[] = [];
  try {
    for (let i = 0; i < files.length; i++) {
      const path = paths[i];
      const wasThere = existing.includes(path);
      await writeFileExactly(path, files[i].contents, files[i].mode, wasThere);
      if (!wasThere) created.push(path);
    }
  } catch (e) {
    for (const p of created) await Deno.remove(p).catch(() => {});
    if (e instanceof CertError) throw e;
    throw new CertError("io", `could not write certificates into ${dir}: ${errorText(e)}`, {
      cause: e,
    });
  }
  return paths;
}

/** Options of {@link genCerts}: what `portal gen-certs` does. */
export interface GenCertsOptions {
  readonly dir: string;
  readonly node: string;
  readonly hosts: readonly string[];
  /** Node certificate validity. Default {@link DEFAULT_NODE_DAYS}. */
  readonly days?: number;
  /** Replace existing node files. The CA is never replaced: it is reused when present. */
  readonly force?: boolean;
  /** The current time. Default `new Date()`. */
  readonly now?: Date;
}

/** What {@link genCerts} did. */
export interface GenCertsResult {
  /** Whether the CA was created now (false: an existing one was reused). */
  readonly caCreated: boolean;
  readonly caCertPath: string;
  readonly caKeyPath: string;
  readonly certPath: string;
  readonly keyPath: string;
  /** Every path written, in order. */
  readonly written: readonly string[];
  readonly issued: IssuedCert;
  /** Things the user should know but that did not stop the run. */
  readonly warnings: readonly string[];
}

/**
 * Ensures a CA in `dir` (creating or reusing it) and issues `node`'s certificate. Checks all
 * input and every file before writing anything.
 */
export async function genCerts(opts: GenCertsOptions): Promise<GenCertsResult> {
  checkNodeName(opts.node);
  parseHosts(opts.hosts);
  const days = checkDays(opts.days ?? DEFAULT_NODE_DAYS);
  const now = opts.now ?? new Date();
  const dir = opts.dir;
  if (dir === "") throw new CertError("usage", "--dir must not be empty");
  const caCertPath = joinPath(dir, CA_CERT_FILE);
  const caKeyPath = joinPath(dir, CA_KEY_FILE);
  const certPath = joinPath(dir, `${opts.node}.pem`);
  const keyPath = joinPath(dir, `${opts.node}.key`);
  const warnings: string[] = [];

  const dirInfo = await statOrNull(dir);
  if (dirInfo && !dirInfo.isDirectory) {
    throw new CertError("io", `${dir} exists and is not a directory`);
  }
  if (!opts.force) {
    const taken: string[] = [];
    for (const p of [keyPath, certPath]) if (await exists(p)) taken.push(p);
    if (taken.length > 0) throw existsError(taken);
  }

  const haveCert = await exists(caCertPath);
  const haveKey = await exists(caKeyPath);
  let ca: CertificateAuthority;
  const files: CertFile[] = [];
  const caCreated = !haveCert && !haveKey;
  if (haveCert && haveKey) {
    ca = await loadCa(await readText(caCertPath), await readText(caKeyPath), {
      now,
      certPath: caCertPath,
      keyPath: caKeyPath,
    });
    const keyInfo = await Deno.stat(caKeyPath);
    if (keyInfo.mode !== null && (keyInfo.mode & 0o077) !== 0) {
      warnings.push(
        `${caKeyPath} is readable by other users (mode ${octal(keyInfo.mode & 0o777)}); ` +
          `run: chmod 600 ${caKeyPath}`,
      );
    }
  } else if (haveCert || haveKey) {
    const [present, missing] = haveCert ? [caCertPath, caKeyPath] : [caKeyPath, caCertPath];
    throw new CertError(
      "bad_ca",
      `${present} exists but ${missing} is missing; restore it, or move ${present} away to ` +
        "create a new CA (every node's certificate must then be reissued)",
    );
  } else {
    // A new CA outlives the first node certificate, so that one is not cut short.
    ca = await generateCa({ days: Math.max(DEFAULT_CA_DAYS, days), now });
    files.push(
      { fileName: CA_KEY_FILE, contents: ca.keyPem, mode: KEY_FILE_MODE },
      { fileName: CA_CERT_FILE, contents: ca.certPem, mode: CERT_FILE_MODE },
    );
  }

  const issued = await issueNodeCert(ca, { name: opts.node, hosts: opts.hosts, days, now });
  files.push(
    { fileName: `${opts.node}.key`, contents: issued.keyPem, mode: KEY_FILE_MODE },
    { fileName: `${opts.node}.pem`, contents: issued.certPem, mode: CERT_FILE_MODE },
  );
  const written = await writeCerts(dir, files, { force: opts.force });
  return {
    caCreated,
    caCertPath,
    caKeyPath,
    certPath,
    keyPath,
    written,
    issued,
    warnings,
  };
}

function checkNodeName(name: string): void {
  if (!isValidNodeName(name)) {
    throw new CertError(
      "usage",
      `invalid node name '${name}': use 1 to 64 characters of letters, digits, '.', '_' and '-'`,
    );
  }
  // NAME.pem and NAME.key would be the CA's own files.
  if (`${name}.pem` === CA_CERT_FILE || `${name}.key` === CA_KEY_FILE) {
    throw new CertError(
      "usage",
      `node name '${name}' is reserved for the CA files; choose another`,
    );
  }
  if (name.startsWith(".")) {
    throw new CertError("usage", `node name '${name}' would make a hidden file; choose another`);
  }
}

function checkDays(days: number): number {
  if (!Number.isSafeInteger(days) || days < 1 || days > MAX_DAYS) {
    throw new CertError(
      "usage",
      `--days must be a whole number from 1 to ${MAX_DAYS}, got ${days}`,
    );
  }
  return days;
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

/** The DER of the first PEM block with one of `labels`, with a precise error otherwise. */
function pemBlock(text: string, labels: readonly string[], path: string): ArrayBuffer {
  const blocks = [...text.matchAll(/-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g)];
  const block = blocks.find((b) => labels.includes(b[1]));
  if (!block) {
    const found = blocks.map((b) => b[1]);
    if (found.includes("ENCRYPTED PRIVATE KEY")) {
      throw new CertError(
        "bad_ca",
        `${path} is encrypted; decrypt it with: openssl pkcs8 -in ${path} -out ${path}.plain`,
      );
    }
    if (found.includes("EC PRIVATE KEY") || found.includes("RSA PRIVATE KEY")) {
      throw new CertError(
        "bad_ca",
        `${path} is not PKCS#8; convert it with: openssl pkcs8 -topk8 -nocrypt -in ${path}` +
          ` -out ${path}.pk8 (then use ${path}.pk8 as ${path})`,
      );
    }
    throw new CertError(
      "bad_ca",
      `${path} has no PEM "${labels.join('" or "')}" block` +
        (found.length ? ` (found: ${found.join(", ")})` : ""),
    );
  }
  try {
    const bin = atob(block[2].replace(/\s+/g, ""));
    return Uint8Array.from(bin, (c) => c.charCodeAt(0)).buffer;
  } catch (e) {
    throw new CertError("bad_ca", `${path} has a corrupt PEM ${block[1]} block`, { cause: e });
  }
}

function pemOf(cert: x509.X509Certificate): string {
  return pem("CERTIFICATE", new Uint8Array(cert.rawData));
}

async function privateKeyPem(key: CryptoKey): Promise<string> {
  return pem("PRIVATE KEY", new Uint8Array(await crypto.subtle.exportKey("pkcs8", key)));
}

function pem(label: string, der: Uint8Array): string {
  let bin = "";
  for (const b of der) bin += String.fromCharCode(b);
  const lines = btoa(bin).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** 16 random bytes, positive and of fixed length in DER (RFC 5280 §4.1.2.2). */
function newSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  bytes[0] = (bytes[0] & 0x3f) | 0x40;
  return hex(bytes);
}

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

function octal(mode: number): string {
  return `0${mode.toString(8)}`;
}

function joinPath(dir: string, name: string): string {
  return dir.endsWith("/") ? `${dir}${name}` : `${dir}/${name}`;
}

function existsError(paths: readonly string[]): CertError {
  const what = paths.length === 1
    ? `${paths[0]} already exists`
    : `${paths.join(" and ")} already exist`;
  return new CertError("exists", `${what}; pass --force to overwrite`);
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new CertError("io", `cannot inspect ${path}: ${errorText(e)}`, { cause: e });
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return false;
    throw new CertError("io", `cannot inspect ${path}: ${errorText(e)}`, { cause: e });
  }
}

async function readText(path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (e) {
    throw new CertError("io", `cannot read ${path}: ${errorText(e)}`, { cause: e });
  }
}

async function ensureDir(dir: string): Promise<void> {
  const info = await statOrNull(dir);
  if (info) {
    if (!info.isDirectory) throw new CertError("io", `${dir} exists and is not a directory`);
    return;
  }
  try {
    await Deno.mkdir(dir, { recursive: true, mode: DIR_MODE });
    // mkdir's mode is filtered by the umask; the directory holds private keys, so set it exactly.
    await Deno.chmod(dir, DIR_MODE);
  } catch (e) {
    throw new CertError("io", `cannot create directory ${dir}: ${errorText(e)}`, { cause: e });
  }
}

/**
 * Writes `contents` with exactly `mode`, durably. A new file is created exclusively (never
 * clobbering one that appeared meanwhile); a replacement goes through a temporary file and a
 * rename, so the old file stays whole until the new one is complete, and a key file that was
 * once 0644 does not keep that mode.
 */
async function writeFileExactly(
  path: string,
  contents: string,
  mode: number,
  replace: boolean,
): Promise<void> {
  const data = new TextEncoder().encode(contents);
  const target = replace ? `${path}.tmp-${hex(crypto.getRandomValues(new Uint8Array(6)))}` : path;
  let file: Deno.FsFile | undefined;
  let created = false;
  try {
    file = await Deno.open(target, { write: true, createNew: true, mode });
    created = true;
    await Deno.chmod(target, mode);
    let written = 0;
    while (written < data.byteLength) written += await file.write(data.subarray(written));
    await file.sync();
    file.close();
    file = undefined;
    if (replace) await Deno.rename(target, path);
  } catch (e) {
    file?.close();
    // Never leave a truncated key or certificate behind under its real name.
    if (created) await Deno.remove(target).catch(() => {});
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new CertError("exists", `${path} already exists; pass --force to overwrite`);
    }
    throw new CertError("io", `cannot write ${path}: ${errorText(e)}`, { cause: e });
  }
}
