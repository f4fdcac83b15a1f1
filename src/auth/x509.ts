/**
 * What request signatures need from certificates, on node:crypto alone (sync, no ASN.1
 * library): PEM bundles split into certificates, the names a certificate carries, and which
 * PORTAL02 §11 signature algorithm its key makes.
 */
import type { KeyObject, X509Certificate } from "node:crypto";

/** The signature algorithms of PORTAL02 §11. */
export const SigAlgs = ["ES256", "RS256", "EdDSA"] as const;
export type SigAlg = typeof SigAlgs[number];

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/** Each CERTIFICATE block of a PEM bundle, in order, as its own PEM text. */
export function certificateBlocks(pem: string): string[] {
  return pem.match(CERT_BLOCK) ?? [];
}

/** The node names a certificate can stand for: its subject CNs and DNS subjectAltNames. */
export interface CertNames {
  readonly cn: readonly string[];
  readonly dns: readonly string[];
}

/**
 * Reads CNs from node:crypto's one-attribute-per-line subject and DNS names from its
 * subjectAltName list. node:crypto quotes an entry holding separators; a quoted entry can never
 * equal a node name (`[A-Za-z0-9._-]`), so it is skipped rather than unquoted.
 */
export function certNames(cert: X509Certificate): CertNames {
  const cn = cert.subject.split("\n")
    .filter((line) => line.startsWith("CN="))
    .map((line) => line.slice(3));
  const dns = (cert.subjectAltName ?? "").split(", ")
    .filter((entry) => entry.startsWith("DNS:") && !entry.startsWith('DNS:"'))
    .map((entry) => entry.slice(4));
  return { cn, dns };
}

/** Whether `names` name `node`: exactly (node names are case-sensitive) as CN or DNS name. */
export function namesNode(names: CertNames, node: string): boolean {
  return names.cn.includes(node) || names.dns.includes(node);
}

/** The signature algorithm `key` makes, or null when PORTAL02 has none for it. */
export function sigAlgOf(key: KeyObject): SigAlg | null {
  switch (key.asymmetricKeyType) {
    case "ec": {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      return curve === "prime256v1" || curve === "P-256" ? "ES256" : null;
    }
    case "rsa":
      return "RS256";
    case "ed25519":
      return "EdDSA";
    default:
      return null;
  }
}

/** `EC prime256v1`, `RSA`, `ED25519`: a key's type for messages. */
export function describeKey(key: KeyObject): string {
  const type = (key.asymmetricKeyType ?? "unknown").toUpperCase();
  const curve = key.asymmetricKeyDetails?.namedCurve;
  return curve ? `${type} ${curve}` : type;
}

/** notBefore and notAfter in unix milliseconds. */
export function validity(cert: X509Certificate): { from: number; to: number } {
  return { from: Date.parse(cert.validFrom), to: Date.parse(cert.validTo) };
}
