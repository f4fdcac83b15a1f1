/**
 * Child processes of the benchmark: Portal nodes (`deno run main.ts --config FILE`, logging
 * JSON lines) and load generators (scripts that print JSON lines). Output is always drained,
 * so a chatty child never blocks on a full pipe, and only the last lines are kept.
 */

/** Permissions of a node, as in deno.json's `start` task. */
export const NODE_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "--unstable-net",
] as const;

/** Lines of output kept per child for error reports. */
const KEPT_LINES = 200;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 6000;

const MAIN_TS = new URL("../../main.ts", import.meta.url).pathname;

/** A spawned Deno child whose stdout and stderr lines are watched. */
export class Child {
  readonly name: string;
  readonly lines: string[] = [];
  readonly #child: Deno.ChildProcess;
  readonly #waiters = new Set<{ test: (line: string) => boolean; resolve: (l: string) => void }>();
  readonly #pump: Promise<void>;
  readonly #stdin: WritableStreamDefaultWriter<Uint8Array> | null;
  readonly status: Promise<Deno.CommandStatus>;
  #exited = false;

  readonly #onLine: ((line: string) => void) | null;

  constructor(
    name: string,
    args: readonly string[],
    options: { stdin?: boolean; onLine?: (line: string) => void } = {},
  ) {
    this.name = name;
    this.#onLine = options.onLine ?? null;
    this.#child = new Deno.Command(Deno.execPath(), {
      args: [...args],
      stdin: options.stdin ? "piped" : "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = options.stdin ? this.#child.stdin.getWriter() : null;
    this.status = this.#child.status.then((s) => {
      this.#exited = true;
      return s;
    });
    this.#pump = Promise.all([this.#read(this.#child.stdout), this.#read(this.#child.stderr)])
      .then(() => {});
  }

  /** The Deno process's PID (the process doing the work, not a wrapper). */
  get pid(): number {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exited;
  }

  async #read(stream: ReadableStream<Uint8Array>): Promise<void> {
    let rest = "";
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      rest += chunk;
      let i;
      while ((i = rest.indexOf("\n")) >= 0) {
        this.#line(rest.slice(0, i));
        rest = rest.slice(i + 1);
      }
    }
    if (rest) this.#line(rest);
  }

  #line(line: string): void {
    this.lines.push(line);
    if (this.lines.length > KEPT_LINES) this.lines.shift();
    this.onLine(line);
    this.#onLine?.(line);
    for (const w of [...this.#waiters]) {
      if (w.test(line)) {
        this.#waiters.delete(w);
        w.resolve(line);
      }
    }
  }

  /** Hook for subclasses: sees every line. */
  protected onLine(_line: string): void {}

  /** The next line passing `test` (earlier lines are not searched); fails after `ms` or at exit. */
  waitFor(what: string, test: (line: string) => boolean, ms: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const waiter = {
        test,
        resolve: (l: string) => {
          clearTimeout(timer);
          resolve(l);
        },
      };
      const fail = (why: string) => {
        if (!this.#waiters.delete(waiter)) return;
        clearTimeout(timer);
        reject(new Error(`${this.name}: ${why} while waiting for ${what}\n${this.tail()}`));
      };
      // Declared last; the closures above only run after this line.
      const timer = setTimeout(() => fail(`nothing within ${ms} ms`), ms);
      this.status.then((s) => fail(`exited with code ${s.code}`));
      this.#waiters.add(waiter);
    });
  }

  /** The last lines of output, for an error message. */
  tail(n = 30): string {
    return this.lines.slice(-n).map((l) => `  ${this.name}| ${l}`).join("\n");
  }

  /** Writes to the child's stdin (when spawned with stdin). */
  async send(text: string): Promise<void> {
    await this.#stdin?.write(new TextEncoder().encode(text));
  }

  /** Closes the child's stdin (when spawned with stdin). */
  async closeStdin(): Promise<void> {
    await this.#stdin?.close().catch(() => {});
  }

  /** SIGTERM, then SIGKILL after a grace period; waits for exit and drained output. */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#exited) this.#signal("SIGTERM");
    let timer: ReturnType<typeof setTimeout> | undefined;
    const late = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), STOP_GRACE_MS)));
    if ((await Promise.race([this.status, late])) === "late") this.#signal("SIGKILL");
    clearTimeout(timer);
    const s = await this.status;
    await this.closeStdin();
    await this.#pump;
    return s;
  }

  #signal(sig: Deno.Signal): void {
    try {
      this.#child.kill(sig);
    } catch {
      // already gone
    }
  }
}

/** Fields of a Portal JSON log line that the benchmark reads. */
export interface LogLine {
  readonly msg?: string;
  readonly level?: string;
  readonly peer?: string;
  readonly federation?: string;
  readonly api?: string;
  readonly [key: string]: unknown;
}

function parseLog(line: string): LogLine | null {
  if (!line.startsWith("{")) return null;
  try {
    return JSON.parse(line) as LogLine;
  } catch {
    return null;
  }
}

/** A Portal node: `deno run main.ts --config FILE` with `[portal] log_format = json`. */
export class NodeChild extends Child {
  /** How many log lines carried each `msg`, e.g. how many peers the node authenticated. */
  readonly msgCounts = new Map<string, number>();

  /** `denoFlags` go before the script, e.g. `--cpu-prof --cpu-prof-dir=DIR`. */
  constructor(name: string, configPath: string, denoFlags: readonly string[] = []) {
    super(name, ["run", ...NODE_FLAGS, ...denoFlags, MAIN_TS, "--config", configPath]);
  }

  protected override onLine(line: string): void {
    const msg = parseLog(line)?.msg;
    if (msg !== undefined) this.msgCounts.set(msg, (this.msgCounts.get(msg) ?? 0) + 1);
  }

  /** Waits for the next log line with this `msg` (and `peer`, when given). */
  async waitForLog(msg: string, ms: number, peer?: string): Promise<LogLine> {
    const what = peer === undefined ? `'${msg}'` : `'${msg}' for peer ${peer}`;
    const line = await this.waitFor(what, (l) => {
      const j = parseLog(l);
      return j !== null && j.msg === msg && (peer === undefined || j.peer === peer);
    }, ms);
    return parseLog(line)!;
  }
}

/** Port of an "host:port" address from a log field. */
export function portOf(address: unknown, what: string): number {
  const m = typeof address === "string" ? address.match(/:(\d+)$/) : null;
  const port = m ? Number(m[1]) : 0;
  // Port 0 would mean the node reported its address before binding: nothing to dial.
  if (port <= 0) throw new Error(`cannot read a port from ${what} '${String(address)}'`);
  return port;
}

/** Parses a child's output line as JSON, or null. */
export function jsonLine(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    return JSON.parse(line);
  } catch {
    return null;
  }
}
