/**
 * Child processes of tests and scripts: Portal nodes (`main.ts --config FILE`), shells and load
 * generators. Their output is read as lines (from pipes, or from a log file the child appends
 * to), always drained so a chatty child never blocks, and awaited by content, never by time.
 */
import { TimedOut, within } from "./async.ts";
import { LineLog, LinesEnded } from "./lines.ts";
import { parseLogLine } from "./log_line.ts";
import { addressPort } from "./ports.ts";

/** The repository's root directory (no trailing slash). */
export const REPO_ROOT = decodeURIComponent(new URL("../..", import.meta.url).pathname)
  .replace(/\/$/, "");
/** Portal's entry point. */
export const MAIN_TS = `${REPO_ROOT}/main.ts`;

/** Permissions of a node or shell process: those of deno.json's `start` task. */
export const NODE_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "--allow-ffi=/lib,/usr/lib,/lib64,/usr/lib64",
  "--unstable-net",
];

/** How long `stop` waits after SIGTERM before SIGKILL, by default. */
export const STOP_GRACE_MS = 5_000;
/** How long a wait on a child's output lasts, by default (a guard: starts take about 1 s). */
export const WAIT_MS = 20_000;

/** Deno arguments that run main.ts with `args`: `deno run FLAGS [denoFlags] main.ts ARGS`. */
export function mainArgs(args: readonly string[], denoFlags: readonly string[] = []): string[] {
  return ["run", ...NODE_FLAGS, ...denoFlags, MAIN_TS, ...args];
}

/** What a finished command said: its exit code and its output as text. */
export interface Ran {
  readonly code: number;
  /** The signal that ended it (SIGKILL after `timeoutMs`), or null. */
  readonly signal: Deno.Signal | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Options of {@link runCommand}. */
export interface RunCommandOptions {
  /** Text written to its stdin, which is then closed. Default none (stdin is /dev/null). */
  readonly input?: string;
  /** Working directory. Default the repository root. */
  readonly cwd?: string;
  /** Variables added to (or, with `clearEnv`, the whole of) its environment. Default none. */
  readonly env?: Readonly<Record<string, string>>;
  /** Start from an empty environment. Default false. */
  readonly clearEnv?: boolean;
  /** Killed (SIGKILL) when still running after this long. Default never. */
  readonly timeoutMs?: number;
}

/** Runs `command args` to its end (a one-shot: a CLI, a tool) and returns what it said. */
export async function runCommand(
  command: string,
  args: readonly string[],
  options: RunCommandOptions = {},
): Promise<Ran> {
  const child = new Deno.Command(command, {
    args: [...args],
    cwd: options.cwd ?? REPO_ROOT,
    env: options.env === undefined ? undefined : { ...options.env },
    clearEnv: options.clearEnv ?? false,
    stdin: options.input === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // A plain timer rather than AbortSignal.timeout(), so that nothing outlives the call.
  const timer = options.timeoutMs === undefined ? undefined : setTimeout(() => {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }, options.timeoutMs);
  try {
    if (options.input !== undefined) {
      const w = child.stdin.getWriter();
      try {
        await w.write(new TextEncoder().encode(options.input));
        await w.close();
      } catch {
        // It exited without reading all of it; what it said tells why.
      }
    }
    const out = await child.output();
    const text = new TextDecoder();
    return {
      code: out.code,
      signal: out.signal,
      stdout: text.decode(out.stdout),
      stderr: text.decode(out.stderr),
    };
  } finally {
    clearTimeout(timer);
  }
}

/** Makes a named pipe at `path`: a file that blocks whoever reads it while nobody writes. */
export async function makeFifo(path: string): Promise<void> {
  const ran = await runCommand("mkfifo", [path]);
  if (ran.code !== 0) throw new Error(`mkfifo ${path}: ${ran.stderr.trim()}`);
}

/** A child exited (or its output ended) while something waited for it. */
export class ChildExited extends Error {
  override readonly name = "ChildExited";
  readonly code = "exited";
  constructor(message: string, readonly child: Child, readonly status: Deno.CommandStatus) {
    super(message);
  }
}

/** "exit status 1" or "killed by SIGKILL". */
export function describeStatus(s: Deno.CommandStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exit status ${s.code}`;
}

/** Options of {@link Child}. */
export interface ChildOptions {
  /** The program. Default the Deno executable running this process. */
  readonly command?: string;
  /** Its arguments, e.g. {@link mainArgs}. */
  readonly args: readonly string[];
  /** Variables added to (or replacing those of) this process's environment. Default none. */
  readonly env?: Readonly<Record<string, string>>;
  /** Working directory. Default the repository root. */
  readonly cwd?: string;
  /** `piped` enables `send` and `closeStdin`. Default `null`. */
  readonly stdin?: "null" | "piped" | "inherit";
  /**
   * Where stdout and stderr go. Default `piped`: read as lines. `{ file }`: appended to that
   * file (created empty first) and followed for lines, so the child can keep logging after this
   * process exits (see `release`). `inherit`: this process's terminal; no lines.
   */
  readonly output?: "piped" | "inherit" | { readonly file: string };
  /** Lines kept for waits and tails. Default all. */
  readonly keepLines?: number;
  /** Sees every line once. Default none. */
  readonly onLine?: (line: string) => void;
}

/** One spawned process (by default Deno) whose output lines can be awaited. */
export class Child {
  readonly name: string;
  /** stdout and stderr lines, merged in arrival order (or the log file's lines). */
  readonly log: LineLog;
  /** stdout lines alone (piped output only). */
  readonly out: LineLog;
  /** stderr lines alone (piped output only). */
  readonly err: LineLog;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Rejects with a {@link ChildExited} once the process has exited and its output is read. */
  readonly died: Promise<never>;
  readonly #child: Deno.ChildProcess;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | null;
  readonly #drained: Promise<void>;
  #exit: Deno.CommandStatus | null = null;
  #release: () => void = () => {};

  constructor(name: string, options: ChildOptions) {
    this.name = name;
    const keep = options.keepLines;
    this.log = new LineLog({ keep, onLine: options.onLine });
    this.out = new LineLog({ keep, onLine: (l) => this.log.add(l) });
    this.err = new LineLog({ keep, onLine: (l) => this.log.add(l) });
    const stdin = options.stdin ?? "null";
    const output = options.output ?? "piped";
    let reading: Promise<void>;
    if (typeof output === "object") {
      // Deno cannot hand a file to a child as stdout, so `sh` redirects and then becomes the
      // child itself (exec): the PID is the Deno process's.
      Deno.writeTextFileSync(output.file, "");
      const file = Deno.openSync(output.file, { read: true });
      const watcher = Deno.watchFs(output.file, { recursive: false });
      const wrapper = ["-c", 'log=$1; shift; exec "$@" >>"$log" 2>&1', `portal-${name}`];
      try {
        this.#child = spawn(
          "sh",
          [...wrapper, output.file, options.command ?? Deno.execPath(), ...options.args],
          options,
          stdin,
          "null",
        );
      } catch (e) {
        watcher.close();
        file.close();
        throw e;
      }
      reading = this.#follow(file, watcher);
    } else {
      const command = options.command ?? Deno.execPath();
      this.#child = spawn(command, options.args, options, stdin, output);
      reading = output === "piped"
        ? Promise.all([
          this.#pump(this.#child.stdout, this.out),
          this.#pump(this.#child.stderr, this.err),
        ]).then(() => {})
        : this.#child.status.then(() => {});
    }
    this.#stdin = stdin === "piped" ? this.#child.stdin.getWriter() : null;
    this.status = this.#child.status.then((s) => (this.#exit = s));
    // Nobody reads a dead process's stdin: it is closed once the process has exited.
    this.#drained = Promise.all([reading, this.status.then(() => this.closeStdin())]).then(() => {
      this.out.end();
      this.err.end();
      this.log.end();
    });
    this.died = this.exited().then((s) => {
      throw new ChildExited(`${name} exited early (${describeStatus(s)})`, this, s);
    });
    this.died.catch(() => {});
  }

  get pid(): number {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** The exit status, once exited. */
  get exitStatus(): Deno.CommandStatus | null {
    return this.#exit;
  }

  /** The kept output lines. */
  get lines(): readonly string[] {
    return this.log.lines;
  }

  /** Waits for the exit and for the output to be read to its end. */
  async exited(): Promise<Deno.CommandStatus> {
    const s = await this.status;
    await this.#drained;
    return s;
  }

  /**
   * The first line from index `from` on (default: every line so far and to come) that matches;
   * fails after `ms`, or at once when the output ends, with the child's last lines.
   */
  async waitFor(
    match: RegExp | ((line: string) => boolean),
    what: string,
    ms = WAIT_MS,
    from = 0,
  ): Promise<string> {
    const test = typeof match === "function" ? match : (l: string) => match.test(l);
    try {
      return await within(this.log.next((l) => (test(l) ? l : undefined), from), what, ms);
    } catch (e) {
      if (e instanceof TimedOut) {
        throw new TimedOut(`${what} from ${this.name}`, ms, `its last lines:\n${this.tail()}`);
      }
      if (e instanceof LinesEnded) {
        const s = await this.status;
        throw new ChildExited(
          `${this.name} ended (${describeStatus(s)}) while waiting for ${what}; ` +
            `its last lines:\n${this.tail()}`,
          this,
          s,
        );
      }
      throw e;
    }
  }

  /** Like `waitFor` with a regular expression, resolving with the match. */
  async match(re: RegExp, what: string, ms = WAIT_MS, from = 0): Promise<RegExpExecArray> {
    return re.exec(await this.waitFor(re, what, ms, from))!;
  }

  /** The last `n` lines, indented and prefixed with the name, for an error message. */
  tail(n = 30): string {
    return this.log.tail(n).map((l) => `  ${this.name}| ${l}`).join("\n");
  }

  /** Writes to stdin (spawned with `stdin: "piped"`); rejects once the child stopped reading. */
  async send(text: string): Promise<void> {
    if (this.#stdin === null) throw new Error(`${this.name} was spawned without a stdin pipe`);
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Closes stdin (end of input); harmless when already closed or never piped. */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {});
  }

  /** Sends `sig` unless the child has exited. */
  signal(sig: Deno.Signal): void {
    if (!this.running) return;
    try {
      this.#child.kill(sig);
    } catch {
      // Exited between the check and the kill.
    }
  }

  /** SIGTERM, SIGKILL after `graceMs`; waits for the exit and the end of the output. */
  async stop(graceMs = STOP_GRACE_MS): Promise<Deno.CommandStatus> {
    await stopAll([this], { graceMs });
    return await this.exited();
  }

  /**
   * Lets the child outlive this process: stops following its log file and no longer holds this
   * process open. Its output must go to a file (`output: { file }`).
   */
  release(): void {
    this.#release();
    this.#child.unref();
  }

  async #pump(stream: ReadableStream<Uint8Array>, into: LineLog): Promise<void> {
    try {
      for await (const text of stream.pipeThrough(new TextDecoderStream())) into.feed(text);
    } catch {
      // The process went away mid-read; what arrived is kept.
    }
    // A last unterminated line reaches the merged log too.
    into.end();
  }

  /** Reads the log file on each change, and to its end once the child has exited. */
  async #follow(file: Deno.FsFile, watcher: Deno.FsWatcher): Promise<void> {
    const decoder = new TextDecoder();
    const buf = new Uint8Array(64 * 1024);
    let closed = false;
    let reading = Promise.resolve();
    const read = () =>
      reading = reading.then(async () => {
        while (!closed) {
          const n = await file.read(buf).catch(() => null);
          if (n === null || n === 0) return;
          this.log.feed(decoder.decode(buf.subarray(0, n), { stream: true }));
        }
      });
    const close = () => {
      if (closed) return;
      closed = true;
      watcher.close();
      file.close();
    };
    this.#release = close;
    const changes = (async () => {
      try {
        for await (const _ of watcher) read();
      } catch {
        // Closed.
      }
    })();
    await this.#child.status;
    await read();
    close();
    await changes;
  }
}

function spawn(
  command: string,
  args: readonly string[],
  o: ChildOptions,
  stdin: Deno.CommandOptions["stdin"],
  output: "piped" | "inherit" | "null",
): Deno.ChildProcess {
  return new Deno.Command(command, {
    args: [...args],
    cwd: o.cwd ?? REPO_ROOT,
    env: o.env === undefined ? undefined : { ...o.env },
    stdin,
    stdout: output,
    stderr: output,
  }).spawn();
}

/** Options of {@link startNode}: those of a {@link Child} but its arguments. */
export interface NodeOptions extends Omit<ChildOptions, "args"> {
  /** Deno flags before main.ts, e.g. `--cpu-prof`. Default none. */
  readonly denoFlags?: readonly string[];
}

/** Starts a node: `main.ts --config configPath` as child `name`. */
export function startNode(name: string, configPath: string, options: NodeOptions = {}): Child {
  return new Child(name, {
    ...options,
    args: mainArgs(["--config", configPath], options.denoFlags),
  });
}

/** Options of {@link stopAll}. */
export interface StopOptions {
  /** Time between SIGTERM and SIGKILL. Default {@link STOP_GRACE_MS}. */
  readonly graceMs?: number;
  /** Told which children are still running when the grace time is over, before SIGKILL. */
  readonly onLate?: (late: readonly Child[]) => void;
}

/** Stops children together: SIGTERM, then SIGKILL for any still running after the grace time. */
export async function stopAll(
  children: readonly Child[],
  options: StopOptions = {},
): Promise<void> {
  for (const c of children) c.signal("SIGTERM");
  const all = Promise.all(children.map((c) => c.exited()));
  let timer: ReturnType<typeof setTimeout> | undefined;
  const grace = new Promise<"late">((r) => {
    timer = setTimeout(() => r("late"), options.graceMs ?? STOP_GRACE_MS);
  });
  const outcome = await Promise.race([all.then(() => "done" as const), grace]);
  clearTimeout(timer);
  if (outcome === "late") {
    options.onLate?.(children.filter((c) => c.running));
    for (const c of children) c.signal("SIGKILL");
    await all;
  }
}

/** The ports a node reported in its `node ready` line; null for what it does not listen on. */
export interface NodePorts {
  readonly federation: number | null;
  readonly api: number | null;
}

/** The ports of a `node ready` log line (text or JSON); null for any other line. */
export function readyPorts(line: string, name = "the node"): NodePorts | null {
  const l = parseLogLine(line);
  if (l?.msg !== "node ready") return null;
  const port = (key: string) => {
    const v = String(l.fields[key] ?? "off");
    return v === "off" ? null : addressPort(v, `${name}'s ${key} address`);
  };
  return { federation: port("federation"), api: port("api") };
}

/**
 * Waits for a node's `node ready` line and reads the ports it really listens on: start nodes
 * with `listen_port = 0` and `listen = 127.0.0.1:0`, then write the configs that need their ports.
 */
export async function nodeReady(node: Child, ms = WAIT_MS): Promise<NodePorts> {
  const line = await node.waitFor((l) => parseLogLine(l)?.msg === "node ready", "node ready", ms);
  return readyPorts(line, node.name)!;
}
