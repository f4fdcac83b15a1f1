/**
 * The PKI of a deployment: one CA, one leaf certificate per node (gen-certs), and reading what a
 * certificate says (expiry for check-config and start-up warnings).
 */
export { CertError, type CertErrorCode } from "./errors.ts";
export {
  BACKDATE_MS,
  DEFAULT_CA_DAYS,
  DEFAULT_NODE_DAYS,
  DEFAULT_NODE_KEY,
  MAX_DAYS,
  type NodeKeyType,
  NodeKeyTypes,
} from "./x509.ts";
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  type CaOptions,
  type CertificateAuthority,
  generateCa,
  loadCa,
  type LoadCaOptions,
} from "./ca.ts";
export { type IssuedCert, issueNodeCert, type NodeCertOptions } from "./issue.ts";
export { hostSan, parseHosts, type SubjectAltName } from "./hosts.ts";
export {
  CERT_FILE_MODE,
  type CertFile,
  DIR_MODE,
  KEY_FILE_MODE,
  writeCerts,
  type WriteCertsOptions,
} from "./files.ts";
export { genCerts, type GenCertsOptions, type GenCertsResult } from "./gen.ts";
export {
  type CertificateInfo,
  certificateInfo,
  type CertificateInfoOptions,
  fingerprint256,
} from "./info.ts";
