/**
 * The chaos harness's laboratory: real `main.ts` node processes on 127.0.0.1 (TLS, real
 * certificates, JSON logs), their figures from /proc, and the clients that talk to them:
 * HTTP, PORTAL02 over TLS from a chosen source address, and floods.
 */
import net from "node:net";
import tls from "node:tls";
import { NodeSocketStream } from "../../src/transport/node_socket.ts";
import { encodeFrame, MsgType } from "../../src/wire/mod.ts";
import { RawClient } from "../../tests/helpers/raw_client.ts";
import { makeCertDir } from "../../tests/kit/certs.ts";
import { Child, mainArgs, readyPorts } from "../../tests/kit/child.ts";
import { http, type IniFields, modNode, portal, writeIni } from "../../tests/kit/ini.ts";
import { logMatcher, parseLogLine } from "../../tests/kit/log_line.ts";

/** The federation key of the lab. */
export const KEY = "chaos-federation-key-0123456789abcdef";
/** The API token of nodes started with one. */
export const TOKEN = "chaos-api-token-0123456789";
/** Node names with certificates in the lab. */
const NAMES = ["hub", "office", "factory", "site2", "mallory", "fuzzer", "newcomer"];
/** Fast liveness and reconnects, so that detection and recovery are measured in seconds. */
export const FAST: IniFields = {
  ping_interval: "1s",
  ping_max_missed: 3,
  reconnect_initial: "200ms",
  reconnect_max: "1s",
  request_timeout: "3s",
};

/** How a node is started. */
export interface NodeSpec {
  readonly name: string;
  /** Federation port: a number (fixed, e.g. a restart), 0 (free), or "off". Default 0. */
  readonly listen?: number | "off";
  /** API on a free port, with or without a token. Default none. */
  readonly api?: "open" | "token";
  readonly extra?: IniFields;
  readonly peers?: readonly string[];
  /** Runs under `prlimit --nofile=N`. */
  readonly nofile?: number;
}

/** A node process and the ports it reported. */
export interface LabNode {
  readonly name: string;
  readonly child: Child;
  readonly fedPort: number | null;
  readonly apiPort: number | null;
  readonly ini: string;
}

/** Resident memory and open descriptors of a process. */
export interface ProcFigures {
  readonly rssMiB: number;
  readonly fds: number;
}

/** The figures of `pid` from /proc. */
export function procFigures(pid: number): ProcFigures {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  const rss = Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0);
  let fds = 0;
  for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) fds++;
  return { rssMiB: Math.round(rss / 102.4) / 10, fds };
}

/** `72.1 MiB/31 fd → 73.0 MiB/31 fd`. */
export function beforeAfter(a: ProcFigures, b: ProcFigures): string {
  return `${a.rssMiB} MiB/${a.fds} fd → ${b.rssMiB} MiB/${b.fds} fd`;
}

/** Owns the certificates, configs and processes of one run; `close` stops and removes all. */
export class Lab {
  readonly all = new Set<Child>();
  private constructor(readonly dir: string) {}

  static async open(): Promise<Lab> {
    return new Lab(await makeCertDir(NAMES));
  }

  /** Writes NAME.ini, starts the node and waits for `node ready`. */
  async start(spec: NodeSpec): Promise<LabNode> {
    const ini = await this.writeConfig(spec);
    return await this.startFrom(spec.name, ini, spec.nofile);
  }

  /** Writes the config of `spec` (without starting it). */
  writeConfig(spec: NodeSpec, file = spec.name): Promise<string> {
    return writeIni(
      this.dir,
      file,
      portal({ log_format: "json" }),
      modNode(spec.name, { key: KEY, listenPort: spec.listen ?? 0, extra: spec.extra }),
      ...(spec.peers ?? []),
      http(spec.api ? "127.0.0.1:0" : "off", spec.api === "token" ? { token: TOKEN } : {}),
    );
  }

  /** Starts a node from an existing config and waits until it is ready. */
  async startFrom(name: string, ini: string, nofile?: number): Promise<LabNode> {
    const child = this.spawn(name, ini, nofile);
    const line = await child.waitFor(logMatcher("node ready"), "'node ready'", 30_000);
    const ports = readyPorts(line, name)!;
    return { name, child, fedPort: ports.federation, apiPort: ports.api, ini };
  }

  /** Spawns `main.ts --config ini` without waiting. */
  spawn(name: string, ini: string, nofile?: number): Child {
    const args = mainArgs(["--config", ini]);
    const child = nofile === undefined
      ? new Child(name, { args, keepLines: 5000 })
      : new Child(name, {
        command: "prlimit",
        args: [`--nofile=${nofile}`, Deno.execPath(), ...args],
        keepLines: 5000,
      });
    this.all.add(child);
    return child;
  }

  async stop(node: LabNode | Child): Promise<void> {
    const child = node instanceof Child ? node : node.child;
    this.all.delete(child);
    await child.stop(6000);
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.all].map((c) => c.stop(6000)));
    this.all.clear();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }

  pem(name: string): { cert: string; key: string; ca: string } {
    return {
      cert: Deno.readTextFileSync(`${this.dir}/${name}.pem`),
      key: Deno.readTextFileSync(`${this.dir}/${name}.key`),
      ca: Deno.readTextFileSync(`${this.dir}/ca.pem`),
    };
  }
}

/** Waits for a log line of `node` with `msg` (and fields) after line index `from`; its arrival time. */
export async function logged(
  node: LabNode,
  msg: string,
  fields: Readonly<Record<string, string>> = {},
  from = 0,
  ms = 20_000,
): Promise<number> {
  await node.child.waitFor(logMatcher(msg, fields), `'${msg}' from ${node.name}`, ms, from);
  return performance.now();
}

/** Log lines of `node` from index `from` on whose level is warn or error. */
export function warnings(node: LabNode, from: number): string[] {
  return node.child.log.lines.slice(
    Math.max(0, from - node.child.log.count + node.child.log.lines.length),
  )
    .filter((l) => {
      const p = parseLogLine(l);
      return p !== null && (p.level === "WARN" || p.level === "ERROR");
    });
}

/** One HTTP request to a node's API with a deadline; status 0 when it could not be made. */
export async function api(
  port: number,
  path: string,
  init: RequestInit & { timeoutMs?: number } = {},
): Promise<{ status: number; body: unknown; ms: number }> {
  const t0 = performance.now();
  try {
    const r = await fetch(`http://127.0.0.1:${port}${path}`, {
      ...init,
      signal: AbortSignal.timeout(init.timeoutMs ?? 10_000),
    });
    const text = await r.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (HEAD): keep the text.
    }
    return { status: r.status, body, ms: performance.now() - t0 };
  } catch {
    return { status: 0, body: null, ms: performance.now() - t0 };
  }
}

/** Counts answers by status. */
export class Tally {
  readonly byStatus = new Map<number, number>();
  add(status: number): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
  }
  get total(): number {
    let n = 0;
    for (const v of this.byStatus.values()) n += v;
    return n;
  }
  count(status: number): number {
    return this.byStatus.get(status) ?? 0;
  }
  /** Only these statuses were seen. */
  only(...statuses: number[]): boolean {
    return [...this.byStatus.keys()].every((s) => statuses.includes(s));
  }
  /** `200×143 502×4` (0 is "no answer"). */
  toString(): string {
    return [...this.byStatus.entries()].sort((a, b) => a[0] - b[0])
      .map(([s, n]) => `${s === 0 ? "none" : s}×${n}`).join(" ") || "none";
  }
}

/** Sends `path` to `port` every `everyMs` until `stop()`, counting answers by status. */
export function steadyLoad(port: number, path: string, everyMs = 50, headers: HeadersInit = {}) {
  const tally = new Tally();
  let running = true;
  const done = (async () => {
    while (running) {
      const r = await api(port, path, { headers, timeoutMs: 8000 });
      tally.add(r.status);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  })();
  return {
    tally,
    async stop(): Promise<Tally> {
      running = false;
      await done;
      return tally;
    },
  };
}

/**
 * TLS options dialing from `localAddress`: node:tls passes net.connect's options through,
 * though its types do not list them.
 */
export function withSource(
  options: tls.ConnectionOptions,
  localAddress: string,
): tls.ConnectionOptions {
  return { ...options, localAddress } as tls.ConnectionOptions;
}

/** A PORTAL02 client over TLS (verified against `ca` when given) from `localAddress`. */
export function wireConnect(
  port: number,
  localAddress = "127.0.0.1",
  ca?: string,
): Promise<RawClient<NodeSocketStream>> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect(
      withSource({
        host: "127.0.0.1",
        port,
        servername: "localhost",
        ...(ca ? { ca } : { rejectUnauthorized: false }),
      }, localAddress),
      () => {
        socket.setNoDelay(true);
        resolve(new RawClient(new NodeSocketStream(socket)));
      },
    );
    socket.once("error", reject);
  });
}

/** Opens a plain TCP connection from `localAddress`; null when it failed. */
export function tcpConnect(port: number, localAddress: string): Promise<net.Socket | null> {
  return new Promise((resolve) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    s.on("error", () => resolve(null));
  });
}

/** A TCP connection from `localAddress` and the moment the server closed it (or it failed). */
export function watchedConnect(
  port: number,
  localAddress: string,
): { socket: net.Socket; closed: Promise<number> } {
  const socket = net.connect({ host: "127.0.0.1", port, localAddress });
  socket.on("error", () => {});
  socket.resume();
  const closed = new Promise<number>((resolve) =>
    socket.once("close", () => resolve(performance.now()))
  );
  return { socket, closed };
}

/** One raw HTTP/1.1 request (any Host header) on a fresh connection; the status, or 0. */
export async function rawHttp(port: number, request: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(1024);
    const n = await Promise.race([conn.read(buf), sleep(5000).then(() => null)]);
    const m = /^HTTP\/1\.1 (\d{3}) /.exec(new TextDecoder().decode(buf.subarray(0, n ?? 0)));
    return m ? Number(m[1]) : 0;
  } finally {
    conn.close();
  }
}

/** Resolves when `s` is closed (by either side). */
export function socketClosed(s: net.Socket): Promise<number> {
  return new Promise((resolve) => {
    if (s.destroyed) return resolve(performance.now());
    s.once("close", () => resolve(performance.now()));
    s.resume();
  });
}

/** Sleeps `ms` of real time. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A JSON body as bytes. */
export function json(obj: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(obj));
}

/** `1.23 s` or `456 ms`. */
export function ms(t: number): string {
  return t >= 1000 ? `${(t / 1000).toFixed(2)} s` : `${Math.round(t)} ms`;
}

export { encodeFrame, MsgType };

/** What one scenario found: PASS or FAIL, with its figures. */
export interface Outcome {
  readonly pass: boolean;
  /** The measured figures, `; `-separated. */
  readonly figures: string;
  /** Why it failed, when it did. */
  readonly failure?: string;
}

/** One scenario of the harness. */
export interface Scenario {
  readonly name: string;
  /** What it does, one line. */
  readonly what: string;
  run(lab: Lab, quick: boolean): Promise<Outcome>;
}

/** An outcome from named checks: PASS when every check holds. */
export function outcome(figures: string[], checks: Record<string, boolean>): Outcome {
  const failed = Object.entries(checks).filter(([, ok]) => !ok).map(([what]) => what);
  return {
    pass: failed.length === 0,
    figures: figures.join("; "),
    failure: failed.length === 0 ? undefined : failed.join("; "),
  };
}
