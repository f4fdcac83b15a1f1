/**
 * The shell's commands (PATHS.md "The shell"): one session holds the current
 * directory and runs one line at a time against a node's API.
 */
import { AUDIT_PATH, auditCount, formatAudit } from "./audit.ts";
import { ClientError } from "./client.ts";
import type { NodeClient, NodeResponse } from "./client.ts";
import { entryNames } from "./completer.ts";
import {
  formatDeviceState,
  formatError,
  formatJson,
  formatList,
  formatPeers,
  formatStatus,
} from "./format.ts";
import { inContext, resolvePath } from "./shell_paths.ts";
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";

/** How a command ended. `unreachable`: the node could not be reached at all. */
export type Outcome = "ok" | "failed" | "unreachable" | "exit";

/** Where a session writes; each call is one or more whole lines, without the final newline. */
export interface ShellOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Deadline of the LISTs behind Tab completion: a slow peer must not freeze the prompt. */
export const COMPLETION_TIMEOUT_MS = 3_000;

/** The help text. */
export const HELP = `Commands:
  ls [path]               list what is below a path
  cd [path]               go to a path; cd /node/<peer> moves onto that peer, cd ~ (or cd) back home
  pwd                     print the full current path
  get <path>              read a path (pretty JSON)
  call <path> [json]      act on a path, with a JSON object of arguments
  node peers              the peers of the node you are on
  node status             its connection and message counters
  iot on|off|toggle <id>  switch a device
  iot status <id>         a device's state
  audit [N]               the latest N CALLs the node decided (default 20)
  help                    this text
  exit                    leave the shell (Ctrl-D too)
Paths: 'x' is relative to the current path, '/x' starts at the root of the node you are on
(the peer after cd /node/<peer>), '~/x' at this node; '..' goes up.`;

const IOT_ACTIONS = ["on", "off", "toggle"] as const;

class UsageError extends Error {}

/** One shell session: a current directory and a node to ask. */
export class ShellSession {
  #cwd = "/";
  readonly #client: NodeClient;
  readonly #output: ShellOutput;

  constructor(client: NodeClient, output: ShellOutput) {
    this.#client = client;
    this.#output = output;
  }

  /** The current directory, a full path on the home node (`/node/factory/iot`). */
  get cwd(): string {
    return this.#cwd;
  }

  /** `portal:<cwd>> ` */
  get prompt(): string {
    return `portal:${this.#cwd}> `;
  }

  /** Names below a full path, for completion; never rejects. */
  async listNames(path: string): Promise<string[]> {
    try {
      const res = await this.#client.list(path, { timeoutMs: COMPLETION_TIMEOUT_MS });
      return res.status >= 200 && res.status < 300 ? entryNames(res.body) : [];
    } catch {
      return [];
    }
  }

  /** Runs one line; blank lines and `#` comments do nothing. Never rejects. */
  async run(line: string, signal?: AbortSignal): Promise<Outcome> {
    const text = line.trim();
    if (text === "" || text.startsWith("#")) return "ok";
    const words = text.split(/\s+/);
    try {
      return await this.#dispatch(words[0], words.slice(1), text, signal);
    } catch (e) {
      if (e instanceof ClientError) {
        this.#output.err(e.code === "unreachable" ? e.message : `error: ${e.message}`);
        return e.code === "unreachable" ? "unreachable" : "failed";
      }
      if (e instanceof UsageError) {
        this.#output.err(`error: ${e.message}`);
        return "failed";
      }
      this.#output.err(`error: ${(e as Error).message}`);
      return "failed";
    }
  }

  async #dispatch(
    command: string,
    args: string[],
    text: string,
    signal: AbortSignal | undefined,
  ): Promise<Outcome> {
    const request = (method: Method, path: string, callArgs: JsonObject = {}) =>
      this.#request(method, path, callArgs, signal);
    switch (command) {
      case "ls": {
        expectArgs(args, 0, 1, "ls [path]");
        const res = await request("LIST", args[0] ? resolvePath(this.#cwd, args[0]) : this.#cwd);
        return res === null ? "failed" : this.#print(formatList(res.body));
      }
      case "cd": {
        expectArgs(args, 0, 1, "cd [path]");
        const target = resolvePath(this.#cwd, args[0] ?? "~");
        // The home root always exists; anything else must answer LIST to be a place to be.
        if (target !== "/" && await request("LIST", target) === null) return "failed";
        this.#cwd = target;
        return "ok";
      }
      case "pwd":
        expectArgs(args, 0, 0, "pwd");
        return this.#print(this.#cwd);
      case "get": {
        expectArgs(args, 1, 1, "get <path>");
        const res = await request("GET", resolvePath(this.#cwd, args[0]));
        return res === null ? "failed" : this.#print(formatJson(res.body));
      }
      case "call": {
        const m = /^call\s+(\S+)(?:\s+([\s\S]+))?$/.exec(text);
        if (m === null) throw new UsageError("usage: call <path> [json]");
        const res = await request("CALL", resolvePath(this.#cwd, m[1]), parseArgs(m[2]));
        return res === null ? "failed" : this.#print(formatJson(res.body));
      }
      case "node": {
        const usage = "node peers|status";
        expectArgs(args, 1, 1, usage);
        if (args[0] === "peers") {
          const res = await request("GET", inContext(this.#cwd, "/node/peers"));
          return res === null ? "failed" : this.#print(formatPeers(res.body));
        }
        if (args[0] === "status") {
          const res = await request("GET", inContext(this.#cwd, "/node/status"));
          return res === null ? "failed" : this.#print(formatStatus(res.body));
        }
        throw new UsageError(`unknown subcommand 'node ${args[0]}'; usage: ${usage}`);
      }
      case "iot": {
        const usage = "iot on|off|toggle|status <id>";
        if (args.length === 0) throw new UsageError(`usage: ${usage}`);
        const [action, id] = args;
        const known = action === "status" || (IOT_ACTIONS as readonly string[]).includes(action);
        if (!known) throw new UsageError(`unknown subcommand 'iot ${action}'; usage: ${usage}`);
        expectArgs(args, 2, 2, usage);
        if (id.includes("/") || id === "." || id === "..") {
          throw new UsageError(`'${id}' is not a device id`);
        }
        const device = inContext(this.#cwd, "/iot/devices/" + id);
        const res = action === "status"
          ? await request("GET", device)
          : await request("CALL", `${device}/${action}`);
        return res === null ? "failed" : this.#print(formatDeviceState(id, res.body));
      }
      case "audit": {
        const n = auditCount(args);
        const res = await request("GET", inContext(this.#cwd, AUDIT_PATH), { limit: n });
        return res === null ? "failed" : this.#print(formatAudit(res.body, n));
      }
      case "help":
      case "?":
        return this.#print(HELP);
      case "exit":
      case "quit":
        return "exit";
      default:
        throw new UsageError(`unknown command '${command}' — type 'help' for the list of commands`);
    }
  }

  /** Sends a request; prints the error line and answers null when it failed. */
  async #request(
    method: Method,
    path: string,
    args: JsonObject,
    signal: AbortSignal | undefined,
  ): Promise<NodeResponse | null> {
    const res = await this.#client.request(method, path, args, { signal });
    if (res.status >= 200 && res.status < 300) return res;
    this.#output.err(formatError(res.status, res.error));
    return null;
  }

  #print(text: string): Outcome {
    if (text !== "") this.#output.out(text);
    return "ok";
  }
}

function expectArgs(args: string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw new UsageError(`usage: ${usage}`);
}

function parseArgs(json: string | undefined): JsonObject {
  if (json === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (e) {
    throw new UsageError(`invalid JSON arguments: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new UsageError(`the arguments must be a JSON object, e.g. {"level": 3}`);
  }
  return value as JsonObject;
}
