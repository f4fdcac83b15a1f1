/** Node certificates: Ed25519 (or EC P-256) leaves signed by the deployment CA, one per node. */
import { isValidNodeName } from "../auth/primitives.ts";
import { CA_CERT_FILE, CA_KEY_FILE, type CertificateAuthority } from "./ca.ts";
import { CertError } from "./errors.ts";
import { nodeSans, type SubjectAltName } from "./hosts.ts";
import {
  BACKDATE_MS,
  certificatePem,
  checkDays,
  DAY_MS,
  DEFAULT_NODE_DAYS,
  DEFAULT_NODE_KEY,
  newSerial,
  nodeKeyParams,
  type NodeKeyType,
  privateKeyPem,
  x509,
} from "./x509.ts";

/** Options of {@link issueNodeCert}. */
export interface NodeCertOptions {
  /** The node name (PORTAL02 §3 rule); it becomes the subject CN and a DNS subjectAltName. */
  readonly name: string;
  /** Host names and IP literals the node is dialed by; at least one. */
  readonly hosts: readonly string[];
  /** Validity in days. Default {@link DEFAULT_NODE_DAYS}; never past the CA's own expiry. */
  readonly days?: number;
  /** The current time. Default `new Date()`. */
  readonly now?: Date;
  /** The node's key type. Default {@link DEFAULT_NODE_KEY} (Ed25519). */
  readonly keyType?: NodeKeyType;
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

/**
 * Issues a node certificate signed by `ca`: Ed25519 unless `keyType` says p256, CA:FALSE, CN and a DNS name equal to the
 * node name plus every host, and both serverAuth (it listens) and clientAuth (it dials a
 * listener with `tls_client_auth = require`).
 */
export async function issueNodeCert(
  ca: CertificateAuthority,
  opts: NodeCertOptions,
): Promise<IssuedCert> {
  checkNodeName(opts.name);
  const subjectAltNames = nodeSans(opts.name, opts.hosts);
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

  const keys = await crypto.subtle.generateKey(
    nodeKeyParams(opts.keyType ?? DEFAULT_NODE_KEY),
    true,
    ["sign", "verify"],
  ) as CryptoKeyPair;
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
    certPem: certificatePem(cert),
    keyPem: await privateKeyPem(keys.privateKey),
    subjectAltNames,
    notBefore,
    notAfter,
    clampedToCa,
  };
}

/** A usage error unless `name` is a node name that can also name its two files. */
export function checkNodeName(name: string): void {
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
