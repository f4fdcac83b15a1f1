/**
 * `portal call`: one request to a running node, its JSON answer on stdout.
 * For scripts: exit 0 on a 2xx answer, 1 on any other answer or no answer,
 * 2 when the command line itself is wrong.
 */
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { durationOption, type OptionSpecs, parseOptions, UsageError } from "./args.ts";
import { ClientError, NodeClient, resolveTarget } from "./client.ts";
import type { NodeResponse } from "./client.ts";
import { formatError, formatJson } from "./format.ts";
import { type CliIo, cliIo } from "./io.ts";

/** The options of `portal call`. */
export const CALL_OPTIONS = {
  config: { type: "string", value: "FILE" },
  url: { type: "string", value: "URL" },
  token: { type: "string", value: "TOKEN" },
  timeout: { type: "string", value: "DURATION" },
  list: { type: "boolean" },
  call: { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** What `portal call --help` prints. */
export const CALL_USAGE =
  `usage: portal call [--config FILE | --url URL] [--token TOKEN] [--timeout DURATION]
                   [--list | --call] PATH [JSON]

Sends one request to a running node through its HTTP API and prints the JSON answer.
  (default)           GET PATH
  --list              LIST PATH (the names below it)
  --call              CALL PATH, with JSON (an object) as its arguments
  --config FILE       the node's node.ini: its [mod_http] listen and token, and its deadlines
  --url URL           the API address instead, e.g. http://127.0.0.1:8080 (the default)
  --token TOKEN       the [mod_http] token (default: the config's, else $PORTAL_TOKEN)
  --timeout DURATION  how long to wait for the answer, e.g. 60s (default: 5s more than the
                      config's request_timeout and device timeouts, at least 15s)
Exit status: 0 on a 2xx answer, 1 otherwise, 2 for a wrong command line.
Example: portal call --call /node/factory/iot/devices/plug-001/on`;

/** What the command line asks for. */
interface CallRequest {
  readonly method: Method;
  readonly path: string;
  readonly args: JsonObject;
}

function readRequest(
  positionals: readonly string[],
  values: { list?: boolean; call?: boolean },
): CallRequest {
  if (values.list && values.call) throw new UsageError("give --list or --call, not both");
  if (positionals.length === 0) throw new UsageError("which path? e.g. portal call /health");
  const [path, json] = positionals;
  if (!path.startsWith("/")) {
    throw new UsageError(`the path must start with '/': portal call /${path}`);
  }
  if (json !== undefined && !values.call) {
    throw new UsageError(`JSON arguments are sent only with --call: portal call --call ${path} …`);
  }
  let args: JsonObject = {};
  if (json !== undefined) {
    let value: unknown;
    try {
      value = JSON.parse(json);
    } catch (e) {
      throw new UsageError(`invalid JSON arguments: ${(e as Error).message}`);
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new UsageError("the JSON arguments must be an object, e.g. '{\"level\": 3}'");
    }
    args = value as JsonObject;
  }
  const method: Method = values.list ? "LIST" : values.call ? "CALL" : "GET";
  return { method, path, args };
}

/** Runs `portal call`; resolves to the exit status. */
export async function callCommand(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = cliIo(io);
  let values;
  let request: CallRequest;
  let timeoutMs: number | undefined;
  try {
    let positionals: string[];
    ({ values, positionals } = parseOptions(argv, CALL_OPTIONS, {
      command: "portal call",
      maxPositionals: 2,
      extraPositional: () =>
        "too many arguments; quote the JSON: portal call --call PATH '{\"a\": 1}'",
    }));
    if (values.help) {
      cli.stdout.write(CALL_USAGE + "\n");
      return 0;
    }
    request = readRequest(positionals, values);
    if (values.timeout !== undefined) timeoutMs = durationOption("timeout", values.timeout);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    cli.stderr.write(`portal call: ${e.message}\n`);
    return 2;
  }

  let client: NodeClient;
  try {
    client = new NodeClient(await resolveTarget({ ...values, timeoutMs }, cli));
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write(`portal call: ${e.message}\n`);
    return 2;
  }
  let res: NodeResponse;
  try {
    res = await client.request(request.method, request.path, request.args);
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    const hint = e.code === "timeout"
      ? "; to wait longer, give --timeout (e.g. --timeout 60s)"
      : "";
    cli.stderr.write(`error: ${e.message}${hint}\n`);
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
