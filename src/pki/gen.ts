/** What `portal gen-certs` does: ensure the deployment CA in a directory and issue one node. */
import { CA_CERT_FILE, CA_KEY_FILE, type CertificateAuthority, generateCa, loadCa } from "./ca.ts";
import { CertError } from "./errors.ts";
import {
  CERT_FILE_MODE,
  type CertFile,
  exists,
  existsError,
  joinPath,
  KEY_FILE_MODE,
  readText,
  statOrNull,
  writeCerts,
} from "./files.ts";
import { parseHosts } from "./hosts.ts";
import { checkNodeName, type IssuedCert, issueNodeCert } from "./issue.ts";
import { checkDays, DEFAULT_CA_DAYS, DEFAULT_NODE_DAYS, type NodeKeyType } from "./x509.ts";

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
  /** The node's key type. Default Ed25519 (see `NodeKeyTypes`); the CA stays EC P-256. */
  readonly keyType?: NodeKeyType;
}

/** What {@link genCerts} did. Paths are `dir` joined with the file name, as `dir` was given. */
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
        `${caKeyPath} is readable by other users (mode 0${(keyInfo.mode & 0o777).toString(8)}); ` +
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

  const issued = await issueNodeCert(ca, {
    name: opts.node,
    hosts: opts.hosts,
    days,
    now,
    keyType: opts.keyType,
  });
  files.push(
    { fileName: `${opts.node}.key`, contents: issued.keyPem, mode: KEY_FILE_MODE },
    { fileName: `${opts.node}.pem`, contents: issued.certPem, mode: CERT_FILE_MODE },
  );
  const written = await writeCerts(dir, files, { force: opts.force });
  return { caCreated, caCertPath, caKeyPath, certPath, keyPath, written, issued, warnings };
}
