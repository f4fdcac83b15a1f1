/**
 * `portal reload`: asks a running node to read its node.ini again and apply
 * what changed (issue "Change without downtime"). Through the node's own HTTP
 * API (CALL /node/reload), or with `--pid` by SIGHUP (what systemd's
 * ExecReload does). A file with mistakes is refused by the node, which keeps
 * running as it was; the mistakes are printed with FILE:LINE.
 */
import { ConfigError } from "../config/mod.ts";
import { durationOption, type OptionSpecs, parseOptions, UsageError } from "./args.ts";
import { RELOAD_PATH } from "../federation/paths.ts";
import { ClientError, NodeClient, resolveTarget } from "./client.ts";
import { formatError } from "./format.ts";
import { type CliIo, cliIo } from "./io.ts";

/** The options of `portal reload`. */
export const RELOAD_OPTIONS = {
  config: { type: "string", value: "FILE" },
  url: { type: "string", value: "URL" },
  token: { type: "string", value: "TOKEN" },
  timeout: { type: "string", value: "DURATION" },
  pid: { type: "string", value: "PID" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** What `portal reload --help` prints. */
export const RELOAD_USAGE =
  `usage: portal reload --config FILE [--url URL] [--token TOKEN] [--timeout DURATION]
       portal reload --pid PID

Makes a running node read its node.ini again and apply what changed: peers added, removed
or changed (only changed links are redialed), devices, [acl], tokens, log level, pool sizes,
certificates for new links. What needs a restart (the listen address) is named.
  --config FILE       the node's node.ini: the node reloads the file it was started with;
                      this finds its [mod_http] listen and token
  --url URL           the API address instead (e.g. http://127.0.0.1:8080)
  --token TOKEN       the [mod_http] token (default: the config's, else $PORTAL_TOKEN)
  --timeout DURATION  how long to wait for the answer (default 15s)
  --pid PID           send SIGHUP to that process instead (systemd: systemctl reload portal);
                      the outcome is then in the node's log
A node.ini with mistakes is refused: the node keeps running unchanged (exit 1).`;

/** Runs `portal reload`; resolves to the exit status (0 applied, 1 refused or no answer, 2 usage). */
export async function reloadCommand(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = cliIo(io);
  let values;
  let timeoutMs: number | undefined;
  try {
    ({ values } = parseOptions(argv, RELOAD_OPTIONS, { command: "portal reload" }));
    if (values.help) {
      cli.stdout.write(RELOAD_USAGE + "\n");
      return 0;
    }
    if (values.pid !== undefined && (values.config ?? values.url) !== undefined) {
      throw new UsageError("give --pid, or --config/--url, not both");
    }
    if (values.pid === undefined && values.config === undefined && values.url === undefined) {
      throw new UsageError("which node? give --config FILE (or --url URL, or --pid PID)");
    }
    if (values.timeout !== undefined) timeoutMs = durationOption("timeout", values.timeout);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    cli.stderr.write(`portal reload: ${e.message}\n`);
    return 2;
  }
  if (values.pid !== undefined) return signal(values.pid, cli);

  // The file is read once: checked here, then the target is found in it.
  let deps = cli;
  if (values.config !== undefined) {
    // The node would refuse this file with the same lines: say so without asking it.
    try {
      const config = await cli.loadConfig(values.config);
      deps = { ...cli, loadConfig: () => Promise.resolve(config) };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      cli.stderr.write(
        `${e.message}\nportal reload: not reloaded; the node keeps running as it was\n`,
      );
      return 1;
    }
  }
  let client: NodeClient;
  try {
    client = new NodeClient(await resolveTarget({ ...values, timeoutMs }, deps));
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write(`portal reload: ${e.message}\n`);
    return 2;
  }
  try {
    const res = await client.request("CALL", RELOAD_PATH, {});
    if (res.status >= 200 && res.status < 300) {
      cli.stdout.write(describeReload(res.body) + "\n");
      return 0;
    }
    cli.stderr.write(formatError(res.status, res.error) + "\n");
    return 1;
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write(`error: ${e.message}\n`);
    return 1;
  }
}

function signal(pid: string, cli: CliIo): number {
  const n = Number(pid);
  if (!/^[1-9][0-9]*$/.test(pid) || !Number.isSafeInteger(n)) {
    cli.stderr.write(`portal reload: --pid wants a process id, not '${pid}'\n`);
    return 2;
  }
  try {
    Deno.kill(n, "SIGHUP");
  } catch (e) {
    cli.stderr.write(`error: cannot signal process ${n}: ${(e as Error).message}\n`);
    return 1;
  }
  cli.stdout.write(`sent SIGHUP to ${n}; the node logs what it applied (or why it refused)\n`);
  return 0;
}

/** The node's reload report as lines a person reads. */
export function describeReload(body: unknown): string {
  const r = (body ?? {}) as Record<string, unknown>;
  const list = (v: unknown) => Array.isArray(v) && v.length > 0 ? v.join(", ") : "none";
  const lines = [`reloaded ${String(r.file ?? "")}`.trim()];
  const peers = (r.peers ?? {}) as Record<string, unknown>;
  lines.push(
    `  peers: added ${list(peers.added)}; removed ${list(peers.removed)}; ` +
      `redialed ${list(peers.redialed)}; updated ${list(peers.updated)}`,
  );
  const devices = (r.devices ?? {}) as Record<string, unknown>;
  lines.push(
    `  devices: added ${list(devices.added)}; removed ${list(devices.removed)}; ` +
      `changed ${list(devices.changed)}`,
  );
  if (typeof r.certificates === "string") {
    lines.push(`  certificates: ${r.certificates}; log level: ${String(r.log_level ?? "?")}`);
  }
  if (Array.isArray(r.needs_restart) && r.needs_restart.length > 0) {
    lines.push(`  needs a restart to change: ${r.needs_restart.join(", ")} (kept as running)`);
  }
  return lines.join("\n");
}
