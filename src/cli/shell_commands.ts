/**
 * The shell's commands (PATHS.md "The shell"): one session holds the current
 * directory and runs one line at a time against a node's API. Every command is
 * one entry of {@link SHELL_COMMANDS}: its help lines, what Tab completes after
 * it, and how it runs; help and completion are made from that table.
 */
import { didYouMean } from "../config/mod.ts";
import type { Method } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";
import { UsageError } from "./args.ts";
import { AUDIT_PATH, auditCount, formatAudit } from "./audit.ts";
import { ClientError } from "./client.ts";
import type { NodeClient, NodeResponse } from "./client.ts";
import {
  entryNames,
  formatDeviceState,
  formatFailure,
  formatJson,
  formatList,
  formatPeers,
  formatStatus,
} from "./format.ts";
import { inContext, resolvePath } from "./shell_paths.ts";
import { formatWatchLine, watchEvents } from "./watch.ts";

/** How a command ended. `unreachable`: the node could not be reached at all. */
export type Outcome = "ok" | "failed" | "unreachable" | "exit";

/** Where a session writes; each call is one or more whole lines, without the final newline. */
export interface ShellOutput {
  out(text: string): void;
  /** One error, without the `error: ` prefix: the front end adds it (and, on a pipe, the line). */
  err(message: string): void;
  /** Clears the screen. Default: nothing (only a terminal has a screen). */
  clear?(): void;
  /** A remark for a person at a terminal (`watching …`). Default: nothing (a pipe gets results only). */
  note?(text: string): void;
}

/** Deadline of the LISTs behind Tab completion: a slow peer must not freeze the prompt. */
export const COMPLETION_TIMEOUT_MS = 3_000;

/** What a command sees of the session. */
export interface CommandContext {
  /** The current directory, a full path on the home node. */
  readonly cwd: string;
  /** Moves the current directory (a full path, as {@link resolve} gives). */
  cd(path: string): void;
  /** What the user typed as a path, as a full path from the home node. */
  resolve(input: string): string;
  /** A module path (`/node/peers`) on the node the shell is on. */
  onNode(path: string): string;
  /** Sends a request; on an error answer prints it and resolves to null. */
  request(method: Method, path: string, args?: JsonObject): Promise<NodeResponse | null>;
  /** Prints a result (nothing for ""); answers "ok". */
  print(text: string): Outcome;
  readonly output: ShellOutput;
  /** For commands that talk to the node in their own way (streams, long waits). */
  readonly client: NodeClient;
  /** Aborted by Ctrl-C while the command runs. */
  readonly signal: AbortSignal | undefined;
}

/** One shell command. */
export interface ShellCommand {
  readonly name: string;
  /** Other names that run it (`quit` for `exit`); not listed or completed. */
  readonly aliases?: readonly string[];
  /** Its lines in `help`: usage, then what it does. */
  readonly help: readonly (readonly [string, string])[];
  /** Words Tab completes right after the name. */
  readonly subcommands?: readonly string[];
  /** What Tab completes next: a path as first argument, or a device id after a subcommand. */
  readonly completes?: "path" | "device";
  /** `args`: the words after the name; `rest`: the text after it, unsplit (for JSON). */
  run(ctx: CommandContext, args: readonly string[], rest: string): Promise<Outcome>;
}

const IOT_ACTIONS = ["on", "off", "toggle"] as const;

function expectArgs(args: readonly string[], min: number, max: number, usage: string): void {
  if (args.length < min || args.length > max) throw new UsageError(`usage: ${usage}`);
}

/** Prints an answer with `format`, or answers "failed" when the request failed. */
function shown(res: NodeResponse | null, ctx: CommandContext, format: (v: unknown) => string) {
  return res === null ? "failed" : ctx.print(format(res.body));
}

/** Every command, in help order. Add a command by adding its entry here. */
export const SHELL_COMMANDS: readonly ShellCommand[] = [
  {
    name: "ls",
    help: [["ls [path]", "list what is below a path"]],
    completes: "path",
    async run(ctx, args) {
      expectArgs(args, 0, 1, "ls [path]");
      const path = args[0] === undefined ? ctx.cwd : ctx.resolve(args[0]);
      return shown(await ctx.request("LIST", path), ctx, formatList);
    },
  },
  {
    name: "cd",
    help: [[
      "cd [path]",
      "go to a path; cd /node/<peer> moves onto that peer, cd ~ (or cd) back home",
    ]],
    completes: "path",
    async run(ctx, args) {
      expectArgs(args, 0, 1, "cd [path]");
      const target = ctx.resolve(args[0] ?? "~");
      // The home root always exists; anything else must answer LIST to be a place to be.
      if (target !== "/" && await ctx.request("LIST", target) === null) return "failed";
      ctx.cd(target);
      return "ok";
    },
  },
  {
    name: "pwd",
    help: [["pwd", "print the full current path"]],
    run(ctx, args) {
      expectArgs(args, 0, 0, "pwd");
      return Promise.resolve(ctx.print(ctx.cwd));
    },
  },
  {
    name: "get",
    help: [["get <path>", "read a path (pretty JSON)"]],
    completes: "path",
    async run(ctx, args) {
      expectArgs(args, 1, 1, "get <path>");
      return shown(await ctx.request("GET", ctx.resolve(args[0])), ctx, formatJson);
    },
  },
  {
    name: "call",
    help: [["call <path> [json]", "act on a path, with a JSON object of arguments"]],
    completes: "path",
    async run(ctx, _args, rest) {
      const m = /^(\S+)(?:\s+([\s\S]+))?$/.exec(rest);
      if (m === null) throw new UsageError("usage: call <path> [json]");
      const res = await ctx.request("CALL", ctx.resolve(m[1]), jsonArgs(m[2]));
      return shown(res, ctx, formatJson);
    },
  },
  {
    name: "node",
    help: [
      ["node peers", "the peers of the node you are on"],
      ["node status", "its connection and message counters"],
    ],
    subcommands: ["peers", "status"],
    async run(ctx, args) {
      const usage = "node peers|status";
      expectArgs(args, 1, 1, usage);
      if (args[0] === "peers") {
        return shown(await ctx.request("GET", ctx.onNode("/node/peers")), ctx, formatPeers);
      }
      if (args[0] === "status") {
        return shown(await ctx.request("GET", ctx.onNode("/node/status")), ctx, formatStatus);
      }
      throw new UsageError(`unknown subcommand 'node ${args[0]}'; usage: ${usage}`);
    },
  },
  {
    name: "iot",
    help: [
      ["iot on|off|toggle <id>", "switch a device"],
      ["iot status <id>", "a device's state"],
    ],
    subcommands: [...IOT_ACTIONS, "status"],
    completes: "device",
    async run(ctx, args) {
      const usage = "iot on|off|toggle|status <id>";
      if (args.length === 0) throw new UsageError(`usage: ${usage}`);
      const [action, id] = args;
      const known = action === "status" || (IOT_ACTIONS as readonly string[]).includes(action);
      if (!known) throw new UsageError(`unknown subcommand 'iot ${action}'; usage: ${usage}`);
      expectArgs(args, 2, 2, usage);
      if (id.includes("/") || id === "." || id === "..") {
        throw new UsageError(`'${id}' is not a device id`);
      }
      const device = ctx.onNode("/iot/devices/" + id);
      const res = action === "status"
        ? await ctx.request("GET", device)
        : await ctx.request("CALL", `${device}/${action}`);
      return shown(res, ctx, (body) => formatDeviceState(id, body));
    },
  },
  {
    name: "audit",
    help: [["audit [N]", "the latest N CALLs the node decided (default 20)"]],
    async run(ctx, args) {
      let n: number;
      try {
        n = auditCount(args);
      } catch (e) {
        throw new UsageError((e as Error).message);
      }
      const res = await ctx.request("GET", ctx.onNode(AUDIT_PATH), { limit: n });
      return shown(res, ctx, (body) => formatAudit(body, n));
    },
  },
  {
    name: "watch",
    help: [["watch <path> [N]", "print changes below a path as they happen (Ctrl-C ends it)"]],
    completes: "path",
    async run(ctx, args) {
      const usage = "watch <path> [N]";
      expectArgs(args, 1, 2, usage);
      const limit = args[1] === undefined ? undefined : Number(args[1]);
      if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
        throw new UsageError(`'${args[1]}' is not a number of events; usage: ${usage}`);
      }
      const path = ctx.resolve(args[0]);
      const end = await watchEvents(ctx.client, path, {
        signal: ctx.signal,
        limit,
        onOpen: (node) => ctx.output.note?.(`watching ${path} on ${node} — Ctrl-C to stop`),
        onEvent: (e) => ctx.output.out(formatWatchLine(e)),
        onDropped: (n) => ctx.output.err(`${n} events dropped: this terminal read too slowly`),
      });
      if (end.kind === "refused") {
        ctx.output.err(formatFailure(end.status, end.error));
        return "failed";
      }
      if (end.kind === "ended") {
        ctx.output.err(`the node ended the event stream of ${path} (is it stopping?)`);
        return "failed";
      }
      return "ok";
    },
  },
  {
    name: "clear",
    help: [["clear", "clear the screen (Ctrl-L too)"]],
    run(ctx, args) {
      expectArgs(args, 0, 0, "clear");
      ctx.output.clear?.();
      return Promise.resolve("ok");
    },
  },
  {
    name: "help",
    aliases: ["?"],
    help: [["help", "this text"]],
    run(ctx) {
      return Promise.resolve(ctx.print(HELP));
    },
  },
  {
    name: "exit",
    aliases: ["quit"],
    help: [["exit", "leave the shell (Ctrl-D too)"]],
    run() {
      return Promise.resolve("exit");
    },
  },
];

const BY_NAME = new Map<string, ShellCommand>(
  SHELL_COMMANDS.flatMap((c) => [c.name, ...(c.aliases ?? [])].map((n) => [n, c] as const)),
);

/** The help text, made from {@link SHELL_COMMANDS}. */
export const HELP: string = (() => {
  const rows = SHELL_COMMANDS.flatMap((c) => c.help);
  const width = Math.max(...rows.map(([usage]) => usage.length)) + 2;
  return [
    "Commands:",
    ...rows.map(([usage, what]) => `  ${usage.padEnd(width)}${what}`),
    "Paths: 'x' is relative to the current path, '/x' starts at the root of the node you are on",
    "(the peer after cd /node/<peer>), '~/x' at this node; '..' goes up.",
    "Several commands on one line: separate them with ';'. The first that fails stops the rest.",
  ].join("\n");
})();

/**
 * A line's commands: split at each `;` outside double quotes (JSON arguments may hold one),
 * trimmed, empty ones left out; a command starting with `#` ends the line (a comment).
 */
export function splitCommands(line: string): string[] {
  const parts: string[] = [];
  let current = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quoted && c === "\\" && i + 1 < line.length) {
      current += c + line[++i];
      continue;
    }
    if (c === '"') quoted = !quoted;
    if (c === ";" && !quoted) {
      parts.push(current);
      current = "";
      continue;
    }
    current += c;
  }
  parts.push(current);
  const commands: string[] = [];
  for (const part of parts.map((p) => p.trim())) {
    if (part.startsWith("#")) break;
    if (part !== "") commands.push(part);
  }
  return commands;
}

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

  /**
   * Runs one line: its `;`-separated commands in order, stopping at the first that does not
   * succeed (so `cd /node/factory; iot off plug-001` never switches a plug elsewhere when
   * the cd fails). Blank lines and `#` comments do nothing. Never rejects.
   */
  async run(line: string, signal?: AbortSignal): Promise<Outcome> {
    for (const text of splitCommands(line)) {
      const outcome = await this.#runOne(text, signal);
      if (outcome !== "ok") return outcome;
    }
    return "ok";
  }

  async #runOne(text: string, signal: AbortSignal | undefined): Promise<Outcome> {
    const name = text.split(/\s/, 1)[0];
    const rest = text.slice(name.length).trim();
    const args = rest === "" ? [] : rest.split(/\s+/);
    try {
      const command = BY_NAME.get(name);
      if (command === undefined) {
        throw new UsageError(
          `unknown command '${name}'${didYouMean(name, [...BY_NAME.keys()])} — ` +
            "type 'help' for the list of commands",
        );
      }
      return await command.run(this.#context(signal), args, rest);
    } catch (e) {
      if (e instanceof ClientError) {
        const hint = e.code === "timeout"
          ? "; to wait longer, start the shell with --timeout (e.g. --timeout 60s)"
          : "";
        this.#output.err(e.message + hint);
        return e.code === "unreachable" ? "unreachable" : "failed";
      }
      this.#output.err((e as Error).message);
      return "failed";
    }
  }

  #context(signal: AbortSignal | undefined): CommandContext {
    const cwd = () => this.#cwd;
    return {
      get cwd() {
        return cwd();
      },
      cd: (path) => void (this.#cwd = path),
      resolve: (input) => resolvePath(this.#cwd, input),
      onNode: (path) => inContext(this.#cwd, path),
      request: (method, path, args = {}) => this.#request(method, path, args, signal),
      print: (text) => {
        if (text !== "") this.#output.out(text);
        return "ok";
      },
      output: this.#output,
      client: this.#client,
      signal,
    };
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
    this.#output.err(formatFailure(res.status, res.error));
    return null;
  }
}

function jsonArgs(json: string | undefined): JsonObject {
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
