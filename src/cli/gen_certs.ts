/** `portal gen-certs`: creates (or reuses) a deployment CA and issues one node's certificate. */
import { dirname, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import {
  CertError,
  DEFAULT_CA_DAYS,
  DEFAULT_NODE_DAYS,
  DEFAULT_NODE_KEY,
  genCerts,
  type GenCertsResult,
  MAX_DAYS,
  type NodeKeyType,
  NodeKeyTypes,
} from "../pki/mod.ts";
import { errorText } from "../util/errors.ts";

/** Where the command writes its lines; tests capture them. */
export interface CommandIo {
  out(line: string): void;
  err(line: string): void;
}

const consoleIo: CommandIo = {
  out: (line) => console.log(line),
  err: (line) => console.error(line),
};

export const GEN_CERTS_USAGE =
  "usage: portal gen-certs --dir DIR --node NAME --host HOST[,HOST...] " +
  "[--days N] [--key ed25519|p256] [--force] [--config FILE]";

const HELP = `${GEN_CERTS_USAGE}

Creates a private CA in DIR when there is none (ca.pem, ca.key) and issues the node
certificate DIR/NAME.pem with its key DIR/NAME.key, signed by that CA. Run it once per node
with the same DIR: the CA is reused, so every node trusts every other through tls_ca.

  --dir DIR        directory for the files; created with mode 0700 when missing
  --node NAME      the node's name: 1-64 characters of letters, digits, '.', '_', '-';
                   it becomes the certificate's CN and a DNS name in it
  --host HOSTS     every name or address peers dial this node by, comma-separated or
                   repeated: DNS names and IPv4/IPv6 literals (e.g. factory.example,10.0.0.7),
                   without 'http://' or ':PORT'
  --days N         node certificate validity in days (default ${DEFAULT_NODE_DAYS}; a new CA
                   gets ${DEFAULT_CA_DAYS} days, or N if longer)
  --key TYPE       the node's key: ed25519 (default: cheap request signatures, see
                   docs/operations.md) or p256 (EC P-256, for TLS stacks without Ed25519);
                   the CA's own key is EC P-256 either way
  --force          overwrite an existing NAME.pem / NAME.key (the CA is never overwritten)
  --config FILE    the node's config file: the tls_* lines printed at the end are relative
                   to its directory (as node.ini reads them); without it they are absolute

Private keys are written with mode 0600, certificates with 0644. Copy ca.pem (never
ca.key) to every node, and set tls_cert, tls_key and tls_ca in its [mod_node].`;

/**
 * Runs `portal gen-certs` with the arguments after the subcommand. Returns the exit status:
 * 0 done, 1 the files could not be created (exists, bad CA, I/O), 2 bad command line.
 */
export async function genCertsCommand(argv: string[], io: CommandIo = consoleIo): Promise<number> {
  const usageError = (reason: string) => {
    io.err(`portal gen-certs: ${reason}`);
    io.err(GEN_CERTS_USAGE);
    return 2;
  };

  let values: {
    dir?: string;
    node?: string;
    host?: string[];
    days?: string;
    key?: string;
    force?: boolean;
    config?: string;
    help?: boolean;
  };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        dir: { type: "string" },
        node: { type: "string" },
        host: { type: "string", multiple: true },
        days: { type: "string" },
        key: { type: "string" },
        force: { type: "boolean" },
        config: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    return usageError(errorText(e));
  }
  if (values.help) {
    io.out(HELP);
    return 0;
  }
  if (values.dir === undefined) return usageError("--dir is required");
  if (values.node === undefined) return usageError("--node is required");
  if (values.host === undefined) return usageError("--host is required");
  if (values.config === "") return usageError("--config must name the node's config file");
  let days: number | undefined;
  if (values.days !== undefined) {
    if (!/^[0-9]+$/.test(values.days)) {
      return usageError(`--days must be a whole number of days, got '${values.days}'`);
    }
    days = Number(values.days);
    if (days < 1 || days > MAX_DAYS) {
      return usageError(`--days must be from 1 to ${MAX_DAYS}, got ${values.days}`);
    }
  }
  const keyType = (values.key ?? DEFAULT_NODE_KEY) as NodeKeyType;
  if (!NodeKeyTypes.includes(keyType)) {
    return usageError(`--key must be ${NodeKeyTypes.join(" or ")}, got '${values.key}'`);
  }
  const cwd = Deno.cwd();
  if (values.config !== undefined && (await isDirectory(resolve(cwd, values.config)))) {
    return usageError(`--config ${values.config} is a directory; name the node's .ini file`);
  }

  let result: GenCertsResult;
  try {
    result = await genCerts({
      dir: values.dir,
      node: values.node,
      hosts: values.host,
      days,
      keyType,
      force: values.force ?? false,
    });
  } catch (e) {
    if (e instanceof CertError) {
      if (e.code === "usage") return usageError(e.message);
      io.err(`portal gen-certs: ${e.message}`);
      return 1;
    }
    io.err(`portal gen-certs: unexpected failure: ${errorText(e)}`);
    return 1;
  }

  for (const w of result.warnings) io.err(`portal gen-certs: warning: ${w}`);
  const { issued } = result;
  if (result.caCreated) {
    io.out(`created CA certificate ${result.caCertPath}`);
    io.out(`created CA private key ${result.caKeyPath} (keep it secret; needed for more nodes)`);
  } else {
    io.out(`reused CA ${result.caCertPath}`);
  }
  const sans = issued.subjectAltNames.map((s) => `${s.kind === "ip" ? "IP" : "DNS"}:${s.value}`);
  io.out(`wrote ${result.keyPath} (${keyType} private key of ${values.node}, mode 0600)`);
  io.out(
    `wrote ${result.certPath} (${sans.join(", ")}; valid until ${issued.notAfter.toISOString()})`,
  );
  if (issued.clampedToCa) {
    io.err(
      `portal gen-certs: warning: the certificate ends with the CA on ` +
        `${issued.notAfter.toISOString()}, sooner than --days asked`,
    );
  }
  for (const line of configHint(result, values.node, values.config, cwd)) io.out(line);
  return 0;
}

/**
 * The [mod_node] lines to paste. node.ini resolves relative paths against its own directory, so
 * paths relative to the current directory would break there: they are absolute, or relative to
 * the directory of `--config`.
 */
function configHint(
  result: GenCertsResult,
  node: string,
  config: string | undefined,
  cwd: string,
): string[] {
  const base = config === undefined ? null : dirname(resolve(cwd, config));
  const show = (path: string) => {
    const absolute = resolve(cwd, path);
    return iniValue(base === null ? absolute : relative(base, absolute));
  };
  const header = base === null
    ? `add to [mod_node] of ${node}'s config (absolute paths; with --config FILE they are ` +
      "written relative to that file instead):"
    : `add to [mod_node] of ${config} (paths relative to its directory ${base}):`;
  return [
    header,
    `tls_cert = ${show(result.certPath)}`,
    `tls_key = ${show(result.keyPath)}`,
    `tls_ca = ${show(result.caCertPath)}`,
  ];
}

/** `text` as a node.ini value: quoted (with `\` escapes) when it would not survive bare. */
function iniValue(text: string): string {
  return /^[^\s"#;\\]+$/.test(text) ? text : `"${text.replace(/[\\"]/g, "\\$&")}"`;
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}
