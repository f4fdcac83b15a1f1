/**
 * `portal call`: one request to a running node, its JSON answer on stdout.
 * For scripts: exit 0 on a 2xx answer, 1 on any other answer or no answer,
 * 2 when the command line itself is wrong.
 */
import { parseArgs } from "node:util";
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { ClientError, NodeClient, resolveTarget } from "./client.ts";
import type { NodeResponse } from "./client.ts";
import { formatError, formatJson } from "./format.ts";
import { type CliIo, defaultIo } from "./shell.ts";

const CALL_USAGE =
  `usage: portal call [--config FILE | --url URL] [--token TOKEN] [--list | --call] PATH [JSON]

Sends one request to a running node through its HTTP API and prints the JSON answer.
  (default)       GET PATH
  --list          LIST PATH (the names below it)
  --call          CALL PATH, with JSON (an object) as its arguments
  --config FILE   the node's node.ini: its [mod_http] listen and token
  --url URL       the API address instead, e.g. http://127.0.0.1:8080 (the default)
  --token TOKEN   the [mod_http] token (default: the config's, else $PORTAL_TOKEN)
Exit status: 0 on a 2xx answer, 1 otherwise, 2 for a wrong command line.
Example: portal call --call /node/factory/iot/devices/plug-001/on`;

/** Runs `portal call`; resolves to the exit status. */
export async function callCommand(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli: CliIo = { ...defaultIo(), ...io };
  const usage = (message: string) => {
    cli.stderr.write(`portal call: ${message}\n${CALL_USAGE}\n`);
    return 2;
  };
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: {
        config: { type: "string" },
        url: { type: "string" },
        token: { type: "string" },
        list: { type: "boolean" },
        call: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (e) {
    return usage((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    cli.stdout.write(CALL_USAGE + "\n");
    return 0;
  }
  if (values.list && values.call) return usage("give --list or --call, not both");
  if (positionals.length === 0) return usage("which path? e.g. portal call /health");
  if (positionals.length > 2) {
    return usage("too many arguments; quote the JSON: portal call --call PATH '{\"a\": 1}'");
  }
  const [path, json] = positionals;
  if (!path.startsWith("/")) return usage(`the path must start with '/': '${path}'`);
  if (json !== undefined && !values.call) {
    return usage("JSON arguments are sent only with --call");
  }
  let args: JsonObject = {};
  if (json !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (e) {
      return usage(`invalid JSON arguments: ${(e as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return usage("the JSON arguments must be an object, e.g. '{\"level\": 3}'");
    }
    args = value as JsonObject;
  }
  const method: Method = values.list ? "LIST" : values.call ? "CALL" : "GET";

  let client: NodeClient;
  try {
    const target = await resolveTarget(values, cli);
    client = new NodeClient({ url: target.url, token: target.token });
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write(`portal call: ${e.message}\n`);
    return 2;
  }
  let res: NodeResponse;
  try {
    res = await client.request(method, path, args);
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write((e.code === "unreachable" ? e.message : `error: ${e.message}`) + "\n");
    return 1;
  }
  if (res.status >= 200 && res.status < 300) {
    cli.stdout.write(formatJson(res.body) + "\n");
    return 0;
  }
  cli.stdout.write(formatJson({ error: res.error }) + "\n");
  cli.stderr.write(formatError(res.status, res.error) + "\n");
  return 1;
}
