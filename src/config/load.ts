/** Loading a node.ini: read, parse, resolve, then check the files it names (CONFIG.md). */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { ConfigError, type ConfigIssue, IssueCode, sortIssues } from "./errors.ts";
import { parseIni } from "./ini.ts";
import { absolutePath, type ReferencedFile, type Resolution, resolveConfig } from "./schema.ts";
import type { Config } from "./types.ts";

/** Options of {@link parseConfigText}. */
export interface ParseConfigOptions {
  /** Directory a relative `path` is resolved against. Default: the process's working directory. */
  readonly cwd?: string;
}

/** Options of {@link loadConfig}. */
export interface LoadConfigOptions {
  /**
   * Check that the certificate files the node needs are readable PEM. Default true; a client
   * that only wants [mod_http] (the shell) passes false, as it never touches the certificates.
   */
  readonly checkFiles?: boolean;
}

/** A node.ini is a page of text; anything this big is the wrong file, so it is not read whole. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Bound on a certificate or key file; PEM bundles of system roots are about 250 KiB. */
export const MAX_PEM_BYTES = 4 * 1024 * 1024;

/**
 * Parses and resolves node.ini text without touching the file system. `path` is the file as the
 * user named it (used in messages; relative paths in the file resolve against its directory).
 * Throws ConfigError (config_invalid) listing every issue.
 */
export function parseConfigText(text: string, path: string, opts: ParseConfigOptions = {}): Config {
  const { config, issues } = resolveText(text, path, opts);
  if (issues.length > 0) throw new ConfigError("config_invalid", sortIssues(issues));
  return config;
}

/**
 * Reads, parses and resolves the node.ini at `path`, and checks that the certificate files it
 * needs are readable PEM. Throws ConfigError: config_unreadable when the file itself cannot be
 * read, config_invalid (with every issue) otherwise.
 */
export async function loadConfig(path: string, opts: LoadConfigOptions = {}): Promise<Config> {
  const bytes = await readConfigFile(path);
  const decoded = decodeText(bytes, path);
  if (typeof decoded !== "string") throw new ConfigError("config_invalid", [decoded]);
  const resolution = resolveText(decoded, path, {});
  const files = opts.checkFiles === false ? [] : resolution.files;
  const fileIssues = (await Promise.all(files.map((f) => checkPemFile(f, path))))
    .filter((i) => i !== null);
  // The pair is only worth checking once each file is readable PEM on its own.
  if (fileIssues.length === 0) {
    const pair = await checkCertKeyPair(files, path);
    if (pair) fileIssues.push(pair);
  }
  const issues = [...resolution.issues, ...fileIssues];
  if (issues.length > 0) throw new ConfigError("config_invalid", sortIssues(issues));
  return resolution.config;
}

function resolveText(text: string, path: string, opts: ParseConfigOptions): Resolution {
  const parsed = parseIni(text, path);
  const resolution = resolveConfig(parsed.ini, {
    file: path,
    absolutePath: absolutePath(path, opts.cwd ?? Deno.cwd()),
  });
  return { ...resolution, issues: [...parsed.issues, ...resolution.issues] };
}

async function readConfigFile(path: string): Promise<Uint8Array> {
  const unreadable = (why: string) =>
    new ConfigError("config_unreadable", [{
      code: IssueCode.UnreadableFile,
      file: path,
      line: 0,
      message: `cannot read the config file: ${why}`,
    }]);
  let file: Deno.FsFile;
  try {
    const info = await Deno.stat(path);
    if (info.isDirectory) throw unreadable("it is a directory; give the path of the .ini file");
    file = await Deno.open(path, { read: true });
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw unreadable(describeFsError(err, absolutePath(path, Deno.cwd())));
  }
  try {
    return await readBounded(file, MAX_CONFIG_BYTES);
  } catch (err) {
    throw unreadable(
      err instanceof TooLarge
        ? `it is larger than ${MAX_CONFIG_BYTES / 1024} KiB, which no node.ini is`
        : describeFsError(err, path),
    );
  } finally {
    file.close();
  }
}

class TooLarge extends Error {}

/** Reads at most `max` bytes, throwing TooLarge past that rather than buffering the rest. */
async function readBounded(file: Deno.FsFile, max: number): Promise<Uint8Array> {
  const out = new Uint8Array(max + 1);
  let total = 0;
  while (total <= max) {
    const n = await file.read(out.subarray(total));
    if (n === null) return out.slice(0, total);
    total += n;
  }
  throw new TooLarge();
}

/** UTF-8 text, or an issue on the first line that is not UTF-8. */
function decodeText(bytes: Uint8Array, path: string): string | ConfigIssue {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const lenient = new TextDecoder("utf-8").decode(bytes).split(/\r\n|\n|\r/);
    const index = lenient.findIndex((l) => l.includes("\uFFFD"));
    return {
      code: IssueCode.Syntax,
      file: path,
      line: index + 1,
      message: "this line is not UTF-8 text; save the file as UTF-8",
    };
  }
}

/** What a PEM file for each key must contain. */
const PEM_EXPECTED: Readonly<Record<ReferencedFile["key"], { re: RegExp; what: string }>> = {
  tls_cert: { re: /-----BEGIN CERTIFICATE-----/, what: "a PEM certificate" },
  tls_key: { re: /-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----/, what: "a PEM private key" },
  tls_ca: { re: /-----BEGIN CERTIFICATE-----/, what: "PEM CA certificates" },
};

async function checkPemFile(ref: ReferencedFile, configFile: string): Promise<ConfigIssue | null> {
  const issue = (code: ConfigIssue["code"], message: string): ConfigIssue => ({
    code,
    file: configFile,
    line: ref.line,
    section: ref.section,
    key: ref.key,
    message,
  });
  const shown = ref.value === ref.path ? `'${ref.path}'` : `'${ref.value}' (${ref.path})`;
  let text: string;
  try {
    const info = await Deno.stat(ref.path);
    if (info.isDirectory) {
      return issue(IssueCode.UnreadableFile, `cannot read ${ref.key} ${shown}: it is a directory`);
    }
    if (info.size > MAX_PEM_BYTES) {
      return issue(IssueCode.BadFile, `${ref.key} ${shown} is too large to be ${whatOf(ref)}`);
    }
    text = await Deno.readTextFile(ref.path);
  } catch (err) {
    return issue(
      IssueCode.UnreadableFile,
      `cannot read ${ref.key} ${shown}: ${describeFsError(err, ref.path)}` +
        (err instanceof Deno.errors.NotFound ? "; 'portal gen-certs' makes certificates" : ""),
    );
  }
  if (!PEM_EXPECTED[ref.key].re.test(text)) {
    const swapped = ref.key === "tls_cert" && PEM_EXPECTED.tls_key.re.test(text)
      ? " (it holds a private key: are tls_cert and tls_key swapped?)"
      : ref.key === "tls_key" && PEM_EXPECTED.tls_cert.re.test(text)
      ? " (it holds a certificate: are tls_cert and tls_key swapped?)"
      : "";
    return issue(IssueCode.BadFile, `${ref.key} ${shown} is not ${whatOf(ref)}${swapped}`);
  }
  return null;
}

/**
 * tls_cert must be a node certificate (not a CA) whose public key matches
 * tls_key: otherwise the node would start and then fail every TLS handshake.
 */
async function checkCertKeyPair(
  files: readonly ReferencedFile[],
  configFile: string,
): Promise<ConfigIssue | null> {
  const certRef = files.find((f) => f.key === "tls_cert");
  const keyRef = files.find((f) => f.key === "tls_key");
  if (!certRef || !keyRef) return null;
  const issue = (ref: ReferencedFile, message: string): ConfigIssue => ({
    code: IssueCode.BadFile,
    file: configFile,
    line: ref.line,
    section: ref.section,
    key: ref.key,
    message,
  });
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(await Deno.readTextFile(certRef.path));
  } catch (err) {
    return issue(
      certRef,
      `tls_cert '${certRef.value}' is not a valid certificate: ${errorMessage(err)}`,
    );
  }
  const now = Date.now();
  const notAfter = Date.parse(cert.validTo);
  const notBefore = Date.parse(cert.validFrom);
  if (notAfter < now) {
    return issue(
      certRef,
      `tls_cert '${certRef.value}' expired on ${new Date(notAfter).toISOString()} ` +
        "— make a new one with 'portal gen-certs --force'",
    );
  }
  if (notBefore > now) {
    return issue(
      certRef,
      `tls_cert '${certRef.value}' is not valid before ${new Date(notBefore).toISOString()} ` +
        "— check this machine's clock",
    );
  }
  if (cert.ca) {
    return issue(
      certRef,
      `tls_cert '${certRef.value}' is a CA certificate; TLS refuses it as a server certificate ` +
        "— use the node's own certificate from 'portal gen-certs' and put the CA in tls_ca",
    );
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(await Deno.readTextFile(keyRef.path));
  } catch (err) {
    return issue(
      keyRef,
      `tls_key '${keyRef.value}' is not a valid private key: ${errorMessage(err)}`,
    );
  }
  if (!cert.checkPrivateKey(key)) {
    return issue(
      keyRef,
      `tls_key '${keyRef.value}' does not belong to tls_cert '${certRef.value}' ` +
        "(they come from different gen-certs runs or nodes)",
    );
  }
  return null;
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function whatOf(ref: ReferencedFile): string {
  return PEM_EXPECTED[ref.key].what;
}

function describeFsError(err: unknown, path: string): string {
  if (err instanceof Deno.errors.NotFound) return `no such file (${path})`;
  if (err instanceof Deno.errors.PermissionDenied) return "permission denied";
  if (err instanceof Deno.errors.NotCapable) return "Deno has no read permission for it";
  return err instanceof Error ? err.message : String(err);
}
