/**
 * `npx -y deno@2.9.6 task demo [--keep]`: three real Portal nodes on this machine and a short tour.
 *
 * In a fresh temporary directory it makes a CA and node certificates, writes node.ini files for
 * a hub, an office and a factory "behind NAT" (the office's direct address for it is a dead port,
 * so the office reaches it through the hub; the factory only dials out, to the hub), starts the
 * three as child processes of main.ts with their logs in files there, waits until the office
 * reaches the factory through the hub, and prints the real output of `portal shell` and of the
 * HTTP API on the office. With a terminal it then opens `portal shell` on the office; without
 * one it stops after the tour.
 *
 * On exit, Ctrl-C or SIGTERM every node is stopped (SIGTERM, SIGKILL after 5 s) and the
 * directory removed. `--keep` leaves both, and prints the PIDs and how to stop them.
 *
 * Exit status: 0 done, 1 something failed (the node concerned and the tail of its log are
 * printed), 2 bad arguments, 130/143 interrupted by SIGINT/SIGTERM.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { genCerts } from "../src/pki/certs.ts";

/** Exit statuses of this script. */
export const EXIT = { ok: 0, failed: 1, usage: 2, sigint: 130, sigterm: 143 } as const;

/** Permissions of the node and shell processes: those of deno.json's `start` task. */
export const NODE_FLAGS: readonly string[] = [
  "--allow-net",
  "--allow-read",
  "--allow-env",
  "--allow-write",
  "--unstable-net",
];

/** How long the three nodes get to start and find each other. */
export const START_DEADLINE_MS = 15_000;
/** How long one tour command (or the curl request) may take. */
export const COMMAND_DEADLINE_MS = 15_000;
/** How long a stopped node gets between SIGTERM and SIGKILL. */
export const STOP_GRACE_MS = 5_000;
/** Log lines shown when a node is blamed for a failure. */
export const TAIL_LINES = 15;

/** The commands of the tour, run in one shell session so `cd` carries over. */
export const TOUR: readonly string[] = [
  "node peers",
  "node status",
  "cd /node/factory",
  "ls /iot/devices",
  "iot on plug-001",
];

const USAGE = `usage: deno task demo [--keep]

Starts three Portal nodes on this machine (hub, office, and a factory behind NAT reached through
the hub), shows the shell and the HTTP API on the office, then opens the shell (with a terminal).
  --keep   leave the nodes running and their directory in place, and print how to stop them
Everything lives in a temporary directory that is removed when the demo stops.`;

const REPO_ROOT = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const MAIN_TS = `${REPO_ROOT}/main.ts`;
const FEDERATION_KEY = "portal-demo-key-0123456789abcdef";
const startedAt = Date.now();

type NodeName = "hub" | "office" | "factory";

/** Why the demo gave up; `node` is the one whose log explains it, when there is one. */
export class DemoError extends Error {
  override readonly name = "DemoError";
  constructor(
    readonly code: "node_exited" | "deadline" | "tour" | "setup",
    message: string,
    readonly node: DemoNode | null = null,
  ) {
    super(message);
  }
}

/** The demo was interrupted by a signal; the shutdown already under way owns the exit. */
class Interrupted extends Error {
  override readonly name = "Interrupted";
}

/** Lines of text as they arrive, with waits on what they contain. */
class Lines {
  readonly all: string[] = [];
  #ended = false;
  #rest = "";
  #wake: (() => void)[] = [];

  get ended(): boolean {
    return this.#ended;
  }

  /** Adds decoded text; complete lines become visible. */
  feed(text: string): void {
    this.#rest += text;
    let nl: number;
    let added = false;
    while ((nl = this.#rest.indexOf("\n")) >= 0) {
      this.all.push(this.#rest.slice(0, nl).replace(/\r$/, ""));
      this.#rest = this.#rest.slice(nl + 1);
      added = true;
    }
    if (added) this.#notify();
  }

  /** No more text will come; a last unterminated line becomes visible. */
  end(): void {
    if (this.#rest !== "") this.all.push(this.#rest);
    this.#rest = "";
    this.#ended = true;
    this.#notify();
  }

  /** Resolves with `pick`'s first non-undefined answer, re-asked whenever lines arrive. */
  async until<T>(pick: (lines: readonly string[], ended: boolean) => T | undefined): Promise<T> {
    while (true) {
      const found = pick(this.all, this.#ended);
      if (found !== undefined) return found;
      if (this.#ended) throw new Error("the stream ended");
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }
}

/** Pumps a byte stream into `lines` until it ends. */
async function pump(stream: ReadableStream<Uint8Array>, lines: Lines): Promise<void> {
  try {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) lines.feed(text);
  } catch {
    // The process went away mid-read; what arrived is kept.
  } finally {
    lines.end();
  }
}

/**
 * Races `work` against an absolute deadline and against `also` (node deaths, interruption).
 * The timer is always cleared.
 */
async function within<T>(
  work: Promise<T>,
  deadlineAt: number,
  onTimeout: () => Error,
  also: readonly Promise<never>[] = [],
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(onTimeout()), Math.max(0, deadlineAt - Date.now()));
  });
  try {
    return await Promise.race([work, late, ...also]);
  } finally {
    clearTimeout(timer);
  }
}

/** A rejection that is handled elsewhere (in races) and never reported as unhandled. */
function quietRejection(p: Promise<never>): Promise<never> {
  p.catch(() => {});
  return p;
}

/**
 * One node process. Its output goes straight into a log file (through `sh`, since Deno cannot
 * hand a file to a child as stdout), so that with --keep it keeps logging after the demo exits;
 * the demo follows the file with a file-system watch.
 */
export class DemoNode {
  readonly lines = new Lines();
  readonly #child: Deno.ChildProcess;
  readonly #log: Deno.FsFile;
  readonly #decoder = new TextDecoder();
  #reading: Promise<void> = Promise.resolve();
  #exit: Deno.CommandStatus | null = null;
  /** Resolves when the process has exited. */
  readonly status: Promise<Deno.CommandStatus>;
  /** Rejects when the process exits (used in races; harmless when it is being stopped). */
  readonly died: Promise<never>;

  private constructor(
    readonly name: NodeName,
    readonly configPath: string,
    readonly logPath: string,
    log: Deno.FsFile,
  ) {
    this.#log = log;
    this.#child = new Deno.Command("sh", {
      args: [
        "-c",
        'log=$1; shift; exec "$@" >>"$log" 2>&1',
        `portal-${name}`,
        logPath,
        Deno.execPath(),
        "run",
        ...NODE_FLAGS,
        MAIN_TS,
        "--config",
        configPath,
      ],
      cwd: REPO_ROOT,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.status = this.#child.status.then((s) => {
      this.#exit = s;
      return s;
    });
    this.died = quietRejection(this.status.then(async (s) => {
      await this.poll();
      throw new DemoError(
        "node_exited",
        `${name} exited early (${describeStatus(s)})`,
        this,
      );
    }));
  }

  /**
   * Creates the empty log file and opens it for following, then calls `gate` (which throws when
   * the demo is stopping) and starts the node in the same tick, so a stop never misses it.
   */
  static async start(
    name: NodeName,
    configPath: string,
    logPath: string,
    gate: () => void,
  ): Promise<DemoNode> {
    await Deno.writeTextFile(logPath, "");
    const log = await Deno.open(logPath, { read: true });
    try {
      gate();
      return new DemoNode(name, configPath, logPath, log);
    } catch (e) {
      log.close();
      throw e;
    }
  }

  get pid(): number {
    return this.#child.pid;
  }

  get running(): boolean {
    return this.#exit === null;
  }

  /** Reads what was appended to the log since the last call (calls are serialised). */
  poll(): Promise<void> {
    this.#reading = this.#reading.then(async () => {
      const buf = new Uint8Array(64 * 1024);
      while (true) {
        let n: number | null;
        try {
          n = await this.#log.read(buf);
        } catch {
          return; // closed by cleanup
        }
        if (n === null || n === 0) return;
        this.lines.feed(this.#decoder.decode(buf.subarray(0, n), { stream: true }));
      }
    });
    return this.#reading;
  }

  /** The first log line matching `re`, or a DemoError naming this node at the deadline. */
  expect(
    re: RegExp,
    what: string,
    deadlineAt: number,
    also: readonly Promise<never>[],
  ): Promise<RegExpExecArray> {
    return within(
      this.lines.until((lines) => {
        for (const l of lines) {
          const m = re.exec(l);
          if (m) return m;
        }
        return undefined;
      }),
      deadlineAt,
      () =>
        new DemoError(
          "deadline",
          `${this.name} did not ${what} within ${START_DEADLINE_MS / 1000} s`,
          this,
        ),
      [this.died, ...also],
    );
  }

  /** The last lines of the log, for a failure report. */
  tail(n = TAIL_LINES): string[] {
    return this.lines.all.slice(-n);
  }

  signal(sig: Deno.Signal): void {
    if (!this.running) return;
    try {
      this.#child.kill(sig);
    } catch {
      // Exited between the check and the kill.
    }
  }

  /** Stops the file following. */
  close(): void {
    try {
      this.#log.close();
    } catch {
      // Already closed.
    }
  }
}

function describeStatus(s: Deno.CommandStatus): string {
  return s.signal ? `killed by ${s.signal}` : `exit status ${s.code}`;
}

/** A TCP port on 127.0.0.1 that nothing listens on (bound, then released). */
function deadPort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

function modNode(name: NodeName, listenPort: number | "off", extra = ""): string {
  return `[mod_node]
name = ${name}
federation_key = ${FEDERATION_KEY}
listen_host = 127.0.0.1
listen_port = ${listenPort}
tls = true
tls_cert = ${name}.pem
tls_key = ${name}.key
tls_ca = ca.pem
${extra}`;
}

/** The hub: listens, knows nobody in advance, relays between whoever dials in. */
function hubIni(): string {
  return `# Portal demo: the hub. It has no [peer:...] sections: office and factory dial in.
${modNode("hub", 0)}
[mod_http]
listen = 127.0.0.1:0
`;
}

/** The office: dials the hub; its direct address for the factory is dead, so the hub relays. */
function officeIni(hubPort: number, dead: number): string {
  return `# Portal demo: the office. The factory is behind NAT: its direct address below goes
# nowhere, so requests to it go through the hub.
${modNode("office", 0)}
[peer:hub]
host = 127.0.0.1
port = ${hubPort}
auto_connect = true

[peer:factory]
host = 127.0.0.1
port = ${dead}
auto_connect = true
hub = hub

[mod_http]
listen = 127.0.0.1:0
`;
}

/** The factory: behind NAT, so no listener; it dials the hub and drives two (simulated) plugs. */
function factoryIni(hubPort: number): string {
  return `# Portal demo: the factory, behind NAT. It listens on nothing and dials the hub.
${modNode("factory", "off")}
[peer:hub]
host = 127.0.0.1
port = ${hubPort}
auto_connect = true

[mod_http]
listen = 127.0.0.1:0

[mod_iot]

[device:plug-001]
driver = sim
kind = plug
label = "Press line plug"

[device:plug-002]
driver = sim
kind = plug
label = "Conveyor plug"
`;
}

const READY_RE = /\bnode ready\b.*\bfederation=(\S+).*\bapi=(\S+)/;

interface Endpoints {
  readonly federation: string;
  readonly api: string;
}

function endpoints(m: RegExpExecArray): Endpoints {
  return { federation: m[1], api: m[2] };
}

function apiPort(e: Endpoints): number {
  const port = Number(e.api.slice(e.api.lastIndexOf(":") + 1));
  if (!Number.isInteger(port) || port <= 0) {
    throw new DemoError("setup", `unexpected API address '${e.api}' in a 'node ready' line`);
  }
  return port;
}

type Phase =
  | { readonly kind: "running" }
  | { readonly kind: "stopping"; readonly done: Promise<void> }
  | { readonly kind: "kept" };

/** The demo: its directory, its child processes, and the one place that stops them. */
class Demo {
  #phase: Phase = { kind: "running" };
  #dir: string | null = null;
  readonly #nodes: DemoNode[] = [];
  /** Shell processes (tour, interactive), stopped with the nodes. */
  readonly #shells = new Set<Deno.ChildProcess>();
  #watcher: Deno.FsWatcher | null = null;
  #terminalLeftRaw: Promise<boolean> = Promise.resolve(false);
  #interruptedBy: ((e: Interrupted) => void) | null = null;
  /** Rejects when a signal arrives; raced by every wait. */
  readonly interrupted: Promise<never> = quietRejection(
    new Promise<never>((_, reject) => (this.#interruptedBy = reject)),
  );

  constructor(readonly keep: boolean) {}

  /** True once --keep has left the nodes running. */
  get kept(): boolean {
    return this.#phase.kind === "kept";
  }

  async run(): Promise<number> {
    const dir = await Deno.makeTempDir({ prefix: "portal-demo-" });
    this.#dir = dir;
    console.log(`Portal demo: hub, office and a factory behind NAT, on this machine.`);
    console.log(`  directory: ${dir} (certificates, node.ini files, logs)`);
    console.log(`  logs: ${dir}/hub.log, ${dir}/office.log, ${dir}/factory.log`);

    for (const name of ["hub", "office", "factory"] as const) {
      await genCerts({ dir, node: name, hosts: ["localhost", "127.0.0.1"] });
    }
    this.#follow(dir);
    const deadlineAt = Date.now() + START_DEADLINE_MS;
    const also = [this.interrupted];

    // The hub first, on a port of its choosing, so the others are written with the real one.
    const hubIniPath = `${dir}/hub.ini`;
    await Deno.writeTextFile(hubIniPath, hubIni());
    const hub = await this.#spawn("hub", hubIniPath, `${dir}/hub.log`);
    const hubAt = endpoints(await hub.expect(READY_RE, "start", deadlineAt, also));
    const hubPort = Number(hubAt.federation.slice(hubAt.federation.lastIndexOf(":") + 1));

    const dead = deadPort();
    const officeIniPath = `${dir}/office.ini`;
    const factoryIniPath = `${dir}/factory.ini`;
    await Deno.writeTextFile(officeIniPath, officeIni(hubPort, dead));
    await Deno.writeTextFile(factoryIniPath, factoryIni(hubPort));
    const office = await this.#spawn("office", officeIniPath, `${dir}/office.log`);
    const factory = await this.#spawn("factory", factoryIniPath, `${dir}/factory.log`);
    console.log(`nodes: hub=${hub.pid} office=${office.pid} factory=${factory.pid}`);
    const everyone = [hub.died, office.died, factory.died, this.interrupted];

    const [officeAt, factoryAt] = await Promise.all([
      office.expect(READY_RE, "start", deadlineAt, everyone).then(endpoints),
      factory.expect(READY_RE, "start", deadlineAt, everyone).then(endpoints),
    ]);
    await Promise.all([
      factory.expect(/\bauthenticated\b.*\bpeer=hub\b/, "connect to the hub", deadlineAt, everyone),
      office.expect(/\bauthenticated\b.*\bpeer=hub\b/, "connect to the hub", deadlineAt, everyone),
      hub.expect(/\bauthenticated\b.*\bpeer=factory\b/, "accept factory", deadlineAt, everyone),
      hub.expect(/\bauthenticated\b.*\bpeer=office\b/, "accept office", deadlineAt, everyone),
    ]);
    const officeUrl = `http://127.0.0.1:${apiPort(officeAt)}`;
    await this.#checkViaHub(office, officeUrl, everyone);
    console.log(`  hub      federation ${hubAt.federation}, API http://${hubAt.api}`);
    console.log(
      `  office   federation ${officeAt.federation}, API ${officeUrl}; ` +
        `factory's direct address 127.0.0.1:${dead} is dead, so it goes via the hub`,
    );
    console.log(`  factory  no listener (behind NAT), dials the hub; API http://${factoryAt.api}`);
    console.log(
      `office reaches factory through the hub (${((Date.now() - startedAt) / 1000).toFixed(1)} s).`,
    );

    console.log(`\nThe shell on office (portal shell --url ${officeUrl}):\n`);
    await this.#tour(office, officeUrl, everyone);

    const curlUrl = `${officeUrl}/api/node/factory/health`;
    console.log(`\nThe same route over HTTP:\n`);
    console.log(`$ curl ${curlUrl}`);
    console.log(await this.#fetchText(office, curlUrl, everyone));
    console.log();

    if (this.keep) return this.#leaveRunning(officeIniPath, officeUrl);
    if (Deno.stdin.isTerminal()) {
      console.log(
        `Opening portal shell on office ('exit' or Ctrl-D to leave; the nodes stop then).`,
      );
      await this.#interactive(officeUrl);
    } else {
      console.log("No terminal: not opening the interactive shell.");
    }
    return EXIT.ok;
  }

  /** Stops every child: SIGTERM, SIGKILL after the grace time. */
  shutdown(): Promise<void> {
    if (this.#phase.kind === "stopping") return this.#phase.done;
    if (this.#phase.kind === "kept") return Promise.resolve();
    const done = this.#stopAll();
    this.#phase = { kind: "stopping", done };
    return done;
  }

  /** A signal: the first one stops everything; a second one kills at once. */
  interrupt(sig: "SIGINT" | "SIGTERM"): Promise<void> {
    if (this.#phase.kind === "kept") return Promise.resolve();
    if (this.#phase.kind === "stopping") {
      for (const n of this.#nodes) n.signal("SIGKILL");
      for (const s of this.#shells) kill(s, "SIGKILL");
      return this.#phase.done;
    }
    console.error(`\ndemo: ${sig}: stopping the nodes.`);
    this.#interruptedBy?.(new Interrupted(sig));
    return this.shutdown();
  }

  /** Prints a failure: one sentence, and the blamed node's log tail. */
  async report(e: unknown): Promise<number> {
    if (e instanceof DemoError && e.node !== null) await e.node.poll();
    if (e instanceof DemoError) {
      console.error(`demo: ${e.message}.`);
      if (e.node !== null) {
        const tail = e.node.tail();
        console.error(
          tail.length === 0
            ? `  (${e.node.name}'s log is empty)`
            : `  last lines of ${e.node.name}'s log:\n` + tail.map((l) => `    ${l}`).join("\n"),
        );
      }
    } else {
      console.error(`demo: failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
    return EXIT.failed;
  }

  #check(): void {
    if (this.#phase.kind !== "running") throw new Interrupted("stopping");
  }

  async #spawn(name: NodeName, configPath: string, logPath: string): Promise<DemoNode> {
    const node = await DemoNode.start(name, configPath, logPath, () => this.#check());
    this.#nodes.push(node);
    return node;
  }

  /** Follows the log files: each change in the directory makes the nodes read theirs. */
  #follow(dir: string): void {
    const watcher = Deno.watchFs(dir, { recursive: false });
    this.#watcher = watcher;
    (async () => {
      try {
        for await (const event of watcher) {
          for (const node of this.#nodes) {
            if (event.paths.some((p) => p.endsWith(`/${node.name}.log`))) node.poll();
          }
        }
      } catch {
        // Closed.
      }
    })();
  }

  /** office's /api/node/peers must show factory via the hub. */
  async #checkViaHub(office: DemoNode, url: string, also: readonly Promise<never>[]) {
    const text = await this.#fetchText(office, `${url}/api/node/peers`, also);
    let peers: unknown;
    try {
      peers = JSON.parse(text);
    } catch {
      throw new DemoError("tour", `office's /api/node/peers is not JSON: ${text}`, office);
    }
    const factory = Array.isArray(peers)
      ? peers.find((p) => typeof p === "object" && p !== null && p.name === "factory")
      : undefined;
    if (factory?.status !== "via-hub" || factory?.via !== "hub") {
      throw new DemoError(
        "tour",
        `office does not list factory as reached via the hub: ${JSON.stringify(factory ?? peers)}`,
        office,
      );
    }
  }

  async #fetchText(node: DemoNode, url: string, also: readonly Promise<never>[]): Promise<string> {
    const ac = new AbortController();
    const deadlineAt = Date.now() + COMMAND_DEADLINE_MS;
    try {
      const res = await within(
        fetch(url, { signal: ac.signal }).then(async (r) => ({
          status: r.status,
          text: await r.text(),
        })),
        deadlineAt,
        () => new DemoError("deadline", `${node.name} did not answer ${url} in time`, node),
        also,
      );
      if (res.status !== 200) {
        throw new DemoError("tour", `${url} answered ${res.status}: ${res.text.trim()}`, node);
      }
      return res.text.trim();
    } catch (e) {
      if (e instanceof DemoError || e instanceof Interrupted) throw e;
      throw new DemoError("tour", `cannot reach ${url}: ${(e as Error).message}`, node);
    } finally {
      ac.abort();
    }
  }

  /**
   * Runs the tour in one piped `portal shell` session. The shell prints results only, so each
   * command is followed by `pwd`: its line marks where the command's output ends, and says
   * which prompt to print before the next command.
   */
  async #tour(office: DemoNode, url: string, also: readonly Promise<never>[]): Promise<void> {
    this.#check();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...NODE_FLAGS, MAIN_TS, "shell", "--url", url],
      cwd: REPO_ROOT,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#shells.add(child);
    const out = new Lines();
    const err = new Lines();
    const pumps = Promise.all([pump(child.stdout, out), pump(child.stderr, err)]);
    const writer = child.stdin.getWriter();
    const encoder = new TextEncoder();
    let cwd = "/";
    let read = 0;
    let errShown = 0;
    try {
      for (const command of TOUR) {
        console.log(`portal:${cwd}> ${command}`);
        await writer.write(encoder.encode(`${command}\npwd\n`)).catch(() => {
          throw new DemoError(
            "tour",
            `the shell on office exited before '${command}': ${err.all.join(" ") || "no message"}`,
            office,
          );
        });
        const isCd = command === "cd" || command.startsWith("cd ");
        const before = cwd;
        // After a cd (which prints nothing) the first line is pwd's; otherwise cwd is unchanged.
        const end = await within(
          out.until((lines) => {
            for (let i = read; i < lines.length; i++) {
              if (isCd ? lines[i].startsWith("/") : lines[i] === before) return i;
            }
            return undefined;
          }),
          Date.now() + COMMAND_DEADLINE_MS,
          () =>
            new DemoError(
              "deadline",
              `the shell on office did not finish '${command}' in time`,
              office,
            ),
          also,
        ).catch((e) => {
          if (e instanceof DemoError || e instanceof Interrupted) throw e;
          throw new DemoError(
            "tour",
            `the shell on office stopped during '${command}': ${err.all.join(" ") || "no message"}`,
            office,
          );
        });
        for (const line of out.all.slice(read, end)) console.log(line);
        for (const line of err.all.slice(errShown)) console.log(line);
        errShown = err.all.length;
        cwd = out.all[end];
        read = end + 1;
      }
      // A shell that already exited is reported by its status below.
      await writer.close().catch(() => {});
      const status = await within(
        child.status,
        Date.now() + COMMAND_DEADLINE_MS,
        () =>
          new DemoError(
            "deadline",
            "the shell on office did not exit after its input ended",
            office,
          ),
        also,
      );
      await pumps;
      if (!status.success) {
        throw new DemoError(
          "tour",
          `a command in the shell on office failed (${describeStatus(status)}): ` +
            (err.all.join(" ").trim() || "no message"),
          office,
        );
      }
    } finally {
      writer.releaseLock();
      kill(child, "SIGTERM");
      await child.status;
      await pumps;
      this.#shells.delete(child);
    }
  }

  /** `portal shell` on the terminal; returns when the user leaves it. */
  async #interactive(url: string): Promise<void> {
    this.#check();
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", ...NODE_FLAGS, MAIN_TS, "shell", "--url", url],
      cwd: REPO_ROOT,
      stdin: "inherit",
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    this.#shells.add(child);
    try {
      await Promise.race([child.status, this.interrupted]);
    } finally {
      this.#shells.delete(child);
      // A shell stopped by a signal had no chance to take the terminal out of raw mode.
      this.#terminalLeftRaw = child.status.then((s) => s.signal !== null);
    }
  }

  /** --keep: the nodes stay up after this process exits; says how to stop them. */
  #leaveRunning(officeIni: string, officeUrl: string): number {
    this.#phase = { kind: "kept" };
    this.#release();
    const pids = this.#nodes.map((n) => n.pid).join(" ");
    console.log(`--keep: the nodes keep running and ${this.#dir} stays.`);
    console.log(`  shell:  npx -y deno@2.9.6 task start shell --url ${officeUrl}`);
    console.log(`          (or: npx -y deno@2.9.6 task start shell --config ${officeIni})`);
    console.log(`  logs:   tail -f ${this.#dir}/*.log`);
    console.log(`  stop:   kill ${pids} && rm -rf ${this.#dir}`);
    return EXIT.ok;
  }

  /** Stops following files; the processes are left alone. */
  #release(): void {
    try {
      this.#watcher?.close();
    } catch {
      // Already closed.
    }
    this.#watcher = null;
    for (const n of this.#nodes) n.close();
  }

  async #stopAll(): Promise<void> {
    const nodes = [...this.#nodes];
    const shells = [...this.#shells];
    for (const s of shells) kill(s, "SIGTERM");
    for (const n of nodes) n.signal("SIGTERM");
    const all = Promise.all([...nodes.map((n) => n.status), ...shells.map((s) => s.status)]);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<"late">((r) => (timer = setTimeout(() => r("late"), STOP_GRACE_MS)));
    const outcome = await Promise.race([all.then(() => "done" as const), grace]);
    clearTimeout(timer);
    if (outcome === "late") {
      const slow = nodes.filter((n) => n.running).map((n) => `${n.name} (${n.pid})`);
      console.error(`demo: ${slow.join(", ") || "a shell"} did not stop within 5 s; killing.`);
      for (const s of shells) kill(s, "SIGKILL");
      for (const n of nodes) n.signal("SIGKILL");
      await all;
    }
    this.#release();
  }

  /**
   * Puts the terminal back in line mode when the interactive shell was killed in raw mode.
   * `Deno.stdin.setRaw(false)` cannot: it only undoes this process's own setRaw.
   */
  async restoreTerminal(): Promise<void> {
    if (!(await this.#terminalLeftRaw)) return;
    try {
      await new Deno.Command("stty", { args: ["sane"], stdin: "inherit" }).output();
    } catch {
      // No stty: the user can type `reset`.
    }
  }

  /**
   * Removes the directory. Called once run() has returned or thrown, so no step of it can
   * write there any more.
   */
  async removeDir(): Promise<void> {
    if (this.#dir === null || this.#phase.kind === "kept") return;
    const what = this.#nodes.length > 0 ? "Stopped the nodes and removed" : "Removed";
    try {
      await Deno.remove(this.#dir, { recursive: true });
      console.log(`${what} ${this.#dir}.`);
    } catch (e) {
      if (!(e instanceof Deno.errors.NotFound)) {
        console.error(`demo: could not remove ${this.#dir}: ${(e as Error).message}`);
      }
    }
  }
}

function kill(child: Deno.ChildProcess, sig: Deno.Signal): void {
  try {
    child.kill(sig);
  } catch {
    // Already exited.
  }
}

/** Runs the demo with `args`; resolves to the exit status once everything is stopped (or kept). */
export async function demo(args: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: { keep: { type: "boolean" }, help: { type: "boolean", short: "h" } },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    console.error(`demo: ${(e as Error).message}\n${USAGE}`);
    return EXIT.usage;
  }
  if (values.help) {
    console.log(USAGE);
    return EXIT.ok;
  }
  const d = new Demo(values.keep === true);
  let signalled: "SIGINT" | "SIGTERM" | null = null;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((sig) => {
    const h = () => {
      signalled ??= sig;
      d.interrupt(sig);
    };
    Deno.addSignalListener(sig, h);
    return [sig, h] as const;
  });
  let code: number;
  try {
    code = await d.run();
  } catch (e) {
    // After a signal, whatever broke in the middle is a consequence of stopping, not news.
    code = signalled === null && !(e instanceof Interrupted) ? await d.report(e) : EXIT.failed;
  }
  if (signalled !== null) code = signalled === "SIGINT" ? EXIT.sigint : EXIT.sigterm;
  if (!d.kept) {
    await d.shutdown();
    await d.removeDir();
    await d.restoreTerminal();
  }
  for (const [sig, h] of handlers) Deno.removeSignalListener(sig, h);
  return code;
}

if (import.meta.main) {
  Deno.exit(await demo(Deno.args));
}
