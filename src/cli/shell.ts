/**
 * `portal shell`: the `portal:/>` prompt attached to a running node through
 * its HTTP API (PATHS.md "The shell"). With a terminal it edits lines, keeps
 * history and completes with Tab; on a pipe it runs one command per line,
 * prints only results and exits 1 if any command failed.
 */
import * as readline from "node:readline";
import process from "node:process";
import { durationOption, type OptionSpecs, parseOptions, UsageError } from "./args.ts";
import { ClientError, NodeClient, resolveTarget } from "./client.ts";
import { complete } from "./completer.ts";
import { formatFailure } from "./format.ts";
import { type CliIo, cliIo, type Writer } from "./io.ts";
import { type Outcome, ShellSession } from "./shell_commands.ts";

export { type CliIo, defaultIo, type Writer } from "./io.ts";

/** The options of `portal shell`. */
export const SHELL_OPTIONS = {
  config: { type: "string", value: "FILE" },
  url: { type: "string", value: "URL" },
  token: { type: "string", value: "TOKEN" },
  timeout: { type: "string", value: "DURATION" },
  command: { type: "string", short: "c", value: "COMMAND", display: "-c COMMAND" },
  help: { type: "boolean", short: "h" },
} as const satisfies OptionSpecs;

/** What `portal shell --help` prints. */
export const SHELL_USAGE =
  `usage: portal shell [--config FILE | --url URL] [--token TOKEN] [--timeout DURATION] [-c COMMAND]

Opens the portal:/> prompt on a running node, through its HTTP API.
  --config FILE       the node's node.ini: its [mod_http] listen and token, and its deadlines
  --url URL           the API address instead, e.g. http://127.0.0.1:8080 (the default)
  --token TOKEN       the [mod_http] token (default: the config's, else $PORTAL_TOKEN)
  --timeout DURATION  how long to wait for each answer, e.g. 60s (default: 5s more than the
                      config's request_timeout and device timeouts, at least 15s)
  -c COMMAND          run COMMAND (several separated by ';') and exit with its status
Without a terminal, reads one command per line and exits 1 if any failed.
Type 'help' at the prompt for the commands.`;

/** Bound of `~/.portal_history`, in lines. */
export const HISTORY_LINES = 1000;

/** Longest command line read from a pipe. */
export const MAX_LINE_CHARS = 1024 * 1024;

/** Runs `portal shell`; resolves to the exit status (0 ok, 1 a command failed, 2 usage). */
export async function shellCommand(argv: string[], io: Partial<CliIo> = {}): Promise<number> {
  const cli = cliIo(io);
  let values;
  let timeoutMs: number | undefined;
  try {
    ({ values } = parseOptions(argv, SHELL_OPTIONS, {
      command: "portal shell",
      extraPositional: (arg) =>
        `unexpected argument '${arg}'; to run a command, give it with -c: ` +
        `portal shell -c "${arg}"`,
    }));
    if (values.timeout !== undefined) timeoutMs = durationOption("timeout", values.timeout);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    cli.stderr.write(`portal shell: ${e.message}\n`);
    return 2;
  }
  if (values.help) {
    cli.stdout.write(SHELL_USAGE + "\n");
    return 0;
  }
  let client: NodeClient;
  try {
    const target = await resolveTarget({ ...values, timeoutMs }, cli);
    client = new NodeClient(target);
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    cli.stderr.write(`portal shell: ${e.message}\n`);
    return 2;
  }
  if (cli.isTerminal && values.command === undefined) return await interactive(client, cli);
  // Without a terminal, as with one: a node that is not there is a failure before anything
  // runs, even when the input holds only commands that need no node (pwd, help) or nothing.
  if (await checkNode(client, cli.stderr) === null) return 1;
  if (values.command !== undefined) {
    const session = new ShellSession(client, {
      out: (text) => cli.stdout.write(text + "\n"),
      err: (message) => cli.stderr.write(`error: ${message}\n`),
    });
    const outcome = await session.run(values.command);
    return outcome === "ok" || outcome === "exit" ? 0 : 1;
  }
  return await runPipe(client, cli.stdin(), cli);
}

/** What `GET /health` says; null (after printing why) when the node cannot be used. */
async function checkNode(
  client: NodeClient,
  stderr: Writer,
): Promise<{ name: string; version: string | null } | null> {
  let health;
  try {
    health = await client.get("/health");
  } catch (e) {
    if (!(e instanceof ClientError)) throw e;
    stderr.write(`error: ${e.message}\n`);
    return null;
  }
  if (health.status < 200 || health.status >= 300) {
    stderr.write(`error: ${formatFailure(health.status, health.error)}\n`);
    return null;
  }
  const info = health.body as { node?: unknown; version?: unknown } | null;
  return {
    name: typeof info?.node === "string" ? info.node : "the node",
    version: typeof info?.version === "string" ? info.version : null,
  };
}

/**
 * Pipe mode: each line a command, results only, errors naming their input line; 1 if any
 * failed, at once if the node is gone.
 */
async function runPipe(
  client: NodeClient,
  input: ReadableStream<Uint8Array>,
  io: CliIo,
): Promise<number> {
  let count = 0;
  const session = new ShellSession(client, {
    out: (text) => io.stdout.write(text + "\n"),
    err: (message) => io.stderr.write(`error: line ${count}: ${message}\n`),
  });
  let failed = false;
  for await (const line of readLines(input)) {
    count++;
    if (line === null) {
      io.stderr.write(
        `error: line ${count}: longer than ${MAX_LINE_CHARS} characters; stopped\n`,
      );
      return 1;
    }
    const outcome = await session.run(line);
    if (outcome === "unreachable") return 1;
    if (outcome === "failed") failed = true;
    if (outcome === "exit") break;
  }
  return failed ? 1 : 0;
}

/** Lines of a byte stream without their `\n`/`\r\n`; yields null (and stops) for an overlong one. */
export async function* readLines(
  input: ReadableStream<Uint8Array>,
  maxChars = MAX_LINE_CHARS,
): AsyncGenerator<string | null> {
  const reader = input.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      buffer += value;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        yield buffer.slice(0, nl).replace(/\r$/, "");
        buffer = buffer.slice(nl + 1);
      }
      if (buffer.length > maxChars) {
        yield null;
        return;
      }
    }
    if (buffer !== "") yield buffer.replace(/\r$/, "");
  } finally {
    await reader.cancel().catch(() => {});
    reader.releaseLock();
  }
}

/** The shell with a terminal: banner, prompt, history, Tab completion, Ctrl-C, Ctrl-D. */
async function interactive(client: NodeClient, io: CliIo): Promise<number> {
  // Say at once when the node is not there, instead of at the first command.
  const info = await checkNode(client, io.stderr);
  if (info === null) return 1;
  const version = info.version === null ? "" : ` (portal ${info.version})`;
  io.stdout.write(
    `Connected to ${info.name}${version} at ${client.url}. ` +
      "Type 'help' for commands, 'exit' to leave.\n",
  );
  const input = io.terminal?.input ?? process.stdin;
  const output = io.terminal?.output ?? process.stdout;
  const session = new ShellSession(client, {
    out: (text) => io.stdout.write(text + "\n"),
    err: (message) => io.stderr.write(`error: ${message}\n`),
    clear: () => {
      readline.cursorTo(output, 0, 0);
      readline.clearScreenDown(output);
    },
    note: (text) => io.stdout.write(text + "\n"),
  });

  const history = new HistoryFile(historyPath(io.env), HISTORY_LINES, io.stderr);
  await history.load();
  const rl = readline.createInterface({
    input,
    output,
    terminal: true,
    // readline wants the newest entry first.
    history: [...history.lines].reverse(),
    historySize: HISTORY_LINES,
    completer: (line: string, callback: (err: null, result: [string[], string]) => void) => {
      complete(line, { cwd: session.cwd, list: (path) => session.listNames(path) })
        .then((result) => callback(null, result), () => callback(null, [[], line]));
    },
  });
  return await new Promise<number>((resolve) => {
    let running: AbortController | null = null;
    let queue: Promise<void> = Promise.resolve();
    let leaving = false;
    const prompt = () => {
      rl.setPrompt(session.prompt);
      rl.prompt();
    };
    rl.on("line", (line: string) => {
      queue = queue.then(async () => {
        if (leaving) return;
        await history.add(line);
        running = new AbortController();
        let outcome: Outcome;
        try {
          outcome = await session.run(line, running.signal);
        } finally {
          running = null;
        }
        if (outcome === "exit") {
          leaving = true;
          rl.close();
          return;
        }
        prompt();
      });
    });
    rl.on("SIGINT", () => {
      // Ctrl-C stops the command in flight, or discards the line being typed.
      if (running !== null) {
        running.abort();
        return;
      }
      rl.write(null, { ctrl: true, name: "e" });
      rl.write(null, { ctrl: true, name: "u" });
      output.write("^C\n");
      prompt();
    });
    rl.on("close", () => {
      if (!leaving) output.write("\n");
      leaving = true;
      queue.then(() => resolve(0));
    });
    prompt();
  });
}

function historyPath(env: (name: string) => string | undefined): string | null {
  const home = env("HOME") ?? env("USERPROFILE");
  return home === undefined || home === "" ? null : `${home}/.portal_history`;
}

/**
 * `~/.portal_history`: loaded at start, appended after each command, and
 * rewritten with only the newest `max` lines once it would grow past them.
 * A history that cannot be read or written is reported once and then skipped.
 */
export class HistoryFile {
  #lines: string[] = [];
  #broken = false;

  constructor(
    readonly path: string | null,
    readonly max: number,
    readonly warn: Writer,
  ) {}

  /** Oldest first. */
  get lines(): readonly string[] {
    return this.#lines;
  }

  /** Reads the file; a missing file is an empty history. */
  async load(): Promise<void> {
    if (this.path === null) return;
    let text: string;
    try {
      text = await Deno.readTextFile(this.path);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) this.#fail(e);
      return;
    }
    const lines = text.split("\n").filter((l) => l.trim() !== "");
    this.#lines = lines.slice(-this.max);
    if (lines.length > this.max) await this.#rewrite();
  }

  /** Records a command; blank lines and a repeat of the previous one are skipped. */
  async add(line: string): Promise<void> {
    const text = line.trim();
    if (text === "" || text === this.#lines.at(-1)) return;
    this.#lines.push(text);
    if (this.path === null || this.#broken) {
      if (this.#lines.length > this.max) this.#lines.shift();
      return;
    }
    if (this.#lines.length > this.max) {
      this.#lines.shift();
      await this.#rewrite();
      return;
    }
    try {
      await Deno.writeTextFile(this.path, text + "\n", { append: true, mode: 0o600 });
    } catch (e) {
      this.#fail(e);
    }
  }

  async #rewrite(): Promise<void> {
    if (this.path === null || this.#broken) return;
    const tmp = `${this.path}.${Deno.pid}.tmp`;
    try {
      await Deno.writeTextFile(tmp, this.#lines.join("\n") + "\n", { mode: 0o600 });
      await Deno.rename(tmp, this.path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      this.#fail(e);
    }
  }

  #fail(e: unknown): void {
    if (this.#broken) return;
    this.#broken = true;
    this.warn.write(`warning: history file ${this.path} not kept: ${(e as Error).message}\n`);
  }
}
