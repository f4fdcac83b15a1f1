/**
 * The files a config names, checked before the node starts: certificates, keys and CA bundles
 * must be regular files of PEM under a size bound (read with the one safe reader), the
 * certificate must match its key, and the audit log's place must be writable in principle.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { dirname } from "node:path";
import { errorText } from "../util/errors.ts";
import { ReadFileError, readRegularTextFile } from "../util/read.ts";
import { type ConfigIssue, IssueCode } from "./errors.ts";
import type { ReferencedFile } from "./resolve.ts";
import type { ConfigWarning } from "./types.ts";

/** Bound on a certificate or key file; PEM bundles of system roots are about 250 KiB. */
export const MAX_PEM_BYTES = 4 * 1024 * 1024;
/** A certificate closer than this to its end is worth a warning at every start. */
/** Days before tls_cert's notAfter from which it is warned about (check-config and the node). */
export const EXPIRY_WARNING_DAYS = 30;
/** One day, in ms. */
export const DAY_MS = 86_400_000;

/** What checking the files found. */
export interface FileCheck {
  readonly issues: readonly ConfigIssue[];
  readonly warnings: readonly ConfigWarning[];
}

type PemKey = "tls_cert" | "tls_key" | "tls_ca";

/** What a PEM file for each key must contain. */
const PEM_EXPECTED: Readonly<Record<PemKey, { re: RegExp; what: string }>> = {
  tls_cert: { re: /-----BEGIN CERTIFICATE-----/, what: "a PEM certificate" },
  tls_key: { re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/, what: "a PEM private key" },
  tls_ca: { re: /-----BEGIN CERTIFICATE-----/, what: "PEM CA certificates" },
};

/** Checks every file in `files`; `configFile` is the config's path as the user gave it. */
export async function checkFiles(
  files: readonly ReferencedFile[],
  configFile: string,
  now = Date.now(),
): Promise<FileCheck> {
  const issue = (ref: ReferencedFile, code: ConfigIssue["code"], message: string): ConfigIssue => ({
    code,
    file: configFile,
    line: ref.line,
    section: ref.section,
    key: ref.key,
    message,
  });
  const issues: ConfigIssue[] = [];
  const texts = new Map<PemKey, string>();
  await Promise.all(files.map(async (ref) => {
    const found = ref.key === "audit_log" ? await checkAuditLog(ref) : await readPem(ref);
    if (typeof found === "string") texts.set(ref.key as PemKey, found);
    else if (found) issues.push(issue(ref, found.code, found.message));
  }));
  const warnings: ConfigWarning[] = [];
  const cert = files.find((f) => f.key === "tls_cert");
  const key = files.find((f) => f.key === "tls_key");
  const certText = texts.get("tls_cert");
  const keyText = texts.get("tls_key");
  // The pair is only worth checking once each file is readable PEM on its own.
  if (issues.length === 0 && cert && key && certText !== undefined && keyText !== undefined) {
    const pair = checkPair(cert, certText, key, keyText, now);
    if ("code" in pair) issues.push(issue(pair.ref, pair.code, pair.message));
    else if (pair.daysLeft < EXPIRY_WARNING_DAYS) {
      warnings.push({
        code: "cert_expiring",
        file: configFile,
        line: cert.line,
        section: cert.section,
        key: cert.key,
        message: `tls_cert '${cert.value}' expires on ${day(pair.notAfter)}, in ` +
          `${pair.daysLeft} day(s); make a new one with 'portal gen-certs --force'`,
      });
    }
  }
  return { issues, warnings };
}

/** When `path` (a PEM certificate) stops being valid; null when it cannot be read or parsed. */
export async function certificateExpiry(path: string): Promise<Date | null> {
  try {
    return new Date(
      Date.parse(new X509Certificate(await readRegularTextFile(path, MAX_PEM_BYTES)).validTo),
    );
  } catch {
    return null;
  }
}

/** `2028-03-01`: the UTC day of `date`. */
export function day(date: Date): string {
  return date.toISOString().slice(0, 10);
}

/** `'certs/a.pem' (/etc/portal/certs/a.pem)`, or just the path when it was written absolute. */
function shown(ref: ReferencedFile): string {
  return ref.value === ref.path ? `'${ref.path}'` : `'${ref.value}' (${ref.path})`;
}

type Problem = { readonly code: ConfigIssue["code"]; readonly message: string };

/** The file's text, or why it is not usable PEM for its key. */
async function readPem(ref: ReferencedFile): Promise<string | Problem> {
  const key = ref.key as PemKey;
  let text: string;
  try {
    text = await readRegularTextFile(ref.path, MAX_PEM_BYTES);
  } catch (err) {
    if (!(err instanceof ReadFileError)) throw err;
    return {
      code: err.code === "too_large" ? IssueCode.BadFile : IssueCode.UnreadableFile,
      message: `cannot read ${key} ${shown(ref)}: ${err.message}` +
        (err.code === "not_found" ? "; 'portal gen-certs' makes certificates" : ""),
    };
  }
  if (PEM_EXPECTED[key].re.test(text)) return text;
  const swapped = key === "tls_cert" && PEM_EXPECTED.tls_key.re.test(text)
    ? " (it holds a private key: are tls_cert and tls_key swapped?)"
    : key === "tls_key" && PEM_EXPECTED.tls_cert.re.test(text)
    ? " (it holds a certificate: are tls_cert and tls_key swapped?)"
    : "";
  return {
    code: IssueCode.BadFile,
    message: `${key} ${shown(ref)} is not ${PEM_EXPECTED[key].what}${swapped}`,
  };
}

/** The audit log is appended to: it must be a regular file if it exists, in a directory. */
async function checkAuditLog(ref: ReferencedFile): Promise<Problem | null> {
  const problem = (message: string): Problem => ({ code: IssueCode.BadFile, message });
  try {
    const info = await Deno.stat(ref.path);
    return info.isFile ? null : problem(`audit_log ${shown(ref)} exists but is not a regular file`);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) {
      return {
        code: IssueCode.UnreadableFile,
        message: `cannot check audit_log ${shown(ref)}: ${errorText(err)}`,
      };
    }
  }
  const dir = dirname(ref.path);
  try {
    if ((await Deno.stat(dir)).isDirectory) return null;
  } catch {
    // reported below
  }
  return problem(`audit_log '${ref.value}' cannot be created: the directory ${dir} does not exist`);
}

/**
 * tls_cert must be a node certificate (not a CA), valid now, whose public key matches
 * tls_key: otherwise the node would start and then fail every TLS handshake.
 */
function checkPair(
  certRef: ReferencedFile,
  certText: string,
  keyRef: ReferencedFile,
  keyText: string,
  now: number,
): (Problem & { readonly ref: ReferencedFile }) | {
  readonly notAfter: Date;
  readonly daysLeft: number;
} {
  const fail = (ref: ReferencedFile, message: string) => ({
    ref,
    code: IssueCode.BadFile,
    message,
  });
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certText);
  } catch (err) {
    return fail(
      certRef,
      `tls_cert '${certRef.value}' is not a valid certificate: ${errorText(err)}`,
    );
  }
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  if (notAfter < now) {
    return fail(
      certRef,
      `tls_cert '${certRef.value}' expired on ${new Date(notAfter).toISOString()} ` +
        "— make a new one with 'portal gen-certs --force'",
    );
  }
  if (notBefore > now) {
    return fail(
      certRef,
      `tls_cert '${certRef.value}' is not valid before ${new Date(notBefore).toISOString()} ` +
        "— check this machine's clock",
    );
  }
  if (cert.ca) {
    return fail(
      certRef,
      `tls_cert '${certRef.value}' is a CA certificate; TLS refuses it as a server certificate ` +
        "— use the node's own certificate from 'portal gen-certs' and put the CA in tls_ca",
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (err) {
    return fail(keyRef, `tls_key '${keyRef.value}' is not a valid private key: ${errorText(err)}`);
  }
  if (!cert.checkPrivateKey(key)) {
    return fail(
      keyRef,
      `tls_key '${keyRef.value}' does not belong to tls_cert '${certRef.value}' ` +
        "(they come from different gen-certs runs or nodes)",
    );
  }
  return { notAfter: new Date(notAfter), daysLeft: Math.floor((notAfter - now) / DAY_MS) };
}
