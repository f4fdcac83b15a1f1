/** `portal gen-certs`: creates (or reuses) a deployment CA and issues one node's certificate. */
import { dirname, relative, resolve } from "node:path";
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
import { didYouMean } from "../config/mod.ts";
import { errorText } from "../util/errors.ts";
import { andList, type OptionSpecs, parseOptions, UsageError } from "./args.ts";
import { type CliIo, cliIo } from "./io.ts";

/** The options of `portal gen-certs`. */
const GEN_CERTS_OPTIONS = {
  dir: { type: "string", value: "DIR" },
  node: { type: "string", value: "NAME" },
  host: { type: "string", value: "HOST[,HOST...]", multiple: true },
  days: { type: "string", value: "N" },
  key: { type: "string", value: "ed25519|p256" },
  force: { type: "boolean" },
  config: { type: "string", value: "FILE" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** The required part of the command line, for the sentence naming a missing option. */
const COMMAND_LINE = "portal gen-certs --dir DIR --node NAME --host HOST[,HOST...]";

/** The first line of `portal gen-certs --help`. */
export const GEN_CERTS_USAGE =
  `usage: ${COMMAND_LINE} [--days N] [--key ed25519|p256] [--force] [--config FILE]`;

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
export async function genCertsCommand(
  argv: string[],
  io: Partial<CliIo> = {},
): Promise<number> {
  const cli = cliIo(io);
  const out = (line: string) => cli.stdout.write(line + "\n");
  const err = (line: string) => cli.stderr.write(`portal gen-certs: ${line}\n`);
  const usageError = (reason: string) => {
    err(reason);
    return 2;
  };

  let values;
  try {
    ({ values } = parseOptions(argv, GEN_CERTS_OPTIONS, {
      command: "portal gen-certs",
      extraPositional: (arg) =>
        `unexpected argument '${arg}'; every value follows its option, e.g. --node ${arg}`,
    }));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    return usageError(e.message);
  }
  if (values.help) {
    out(HELP);
    return 0;
  }
  const { dir, node, host: hosts } = values;
  if (dir === undefined || node === undefined || hosts === undefined) {
    const missing = [["--dir", dir], ["--node", node], ["--host", hosts]]
      .filter(([, v]) => v === undefined).map(([n]) => n as string);
    const verb = missing.length === 1 ? "is" : "are";
    return usageError(`${andList(missing)} ${verb} required: ${COMMAND_LINE}`);
  }
  if (values.config === "") return usageError("--config must name the node's config file");
  let days: number | undefined;
  if (values.days !== undefined) {
    if (!/^[0-9]+$/.test(values.days)) {
      return usageError(
        `--days must be a whole number of days, got '${values.days}': e.g. --days 365`,
      );
    }
    days = Number(values.days);
    if (days < 1 || days > MAX_DAYS) {
      return usageError(`--days must be from 1 to ${MAX_DAYS}, got ${values.days}`);
    }
  }
  const keyType = (values.key ?? DEFAULT_NODE_KEY) as NodeKeyType;
  if (!NodeKeyTypes.includes(keyType)) {
    return usageError(
      `--key must be ${NodeKeyTypes.join(" or ")}, got '${values.key}'` +
        didYouMean(values.key ?? "", NodeKeyTypes),
    );
  }
  const cwd = Deno.cwd();
  if (values.config !== undefined && (await isDirectory(resolve(cwd, values.config)))) {
    return usageError(`--config ${values.config} is a directory; name the node's .ini file`);
  }

  let result: GenCertsResult;
  try {
    result = await genCerts({
      dir,
      node,
      hosts,
      days,
      keyType,
      force: values.force ?? false,
    });
  } catch (e) {
    if (e instanceof CertError) {
      if (e.code === "usage") return usageError(e.message);
      err(e.message);
      return 1;
    }
    err(`unexpected failure: ${errorText(e)}`);
    return 1;
  }

  for (const w of result.warnings) err(`warning: ${w}`);
  const { issued } = result;
  if (result.caCreated) {
    out(`created CA certificate ${result.caCertPath}`);
    out(`created CA private key ${result.caKeyPath} (keep it secret; needed for more nodes)`);
  } else {
    out(`reused CA ${result.caCertPath}`);
  }
  const sans = issued.subjectAltNames.map((s) => `${s.kind === "ip" ? "IP" : "DNS"}:${s.value}`);
  out(`wrote ${result.keyPath} (${keyType} private key of ${node}, mode 0600)`);
  out(
    `wrote ${result.certPath} (${sans.join(", ")}; valid until ${issued.notAfter.toISOString()})`,
  );
  if (issued.clampedToCa) {
    err(
      `warning: the certificate ends with the CA on ` +
        `${issued.notAfter.toISOString()}, sooner than --days asked`,
    );
  }
  for (const line of configHint(result, node, values.config, cwd)) out(line);
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
