/**
 * The benchmark's processes: a registry that stops them all on any failure or Ctrl-C, its
 * nodes (TLS, JSON logs, ports read back from `node ready`), and the four-node cluster of rows
 * 1–5: hub, factory (dials the hub), office (reaches factory via the hub) and office-direct
 * (dials factory itself).
 */
import { Child, type ChildOptions, readyPorts, startNode } from "../../tests/kit/child.ts";
import { http, type IniFields, modNode, peer, portal, writeIni } from "../../tests/kit/ini.ts";
import { logMatcher, parseLogLine } from "../../tests/kit/log_line.ts";

/** The bench federation's shared key. */
export const KEY = "bench-federation-key-0123456789abcdef";
/** How long a node may take to start. */
export const NODE_START_MS = 30_000;
/** How long a link may take to come up. */
const LINK_UP_MS = 20_000;
/** Lines of output kept per child for error reports. */
const KEPT_LINES = 200;
/** How long a child may take to exit after SIGTERM before it is killed. */
const STOP_GRACE_MS = 6000;

/** One node of the benchmark: what it is to run. */
export interface NodeSpec {
  readonly name: string;
  /** Federation listener on a free port, or none. */
  readonly listen: boolean;
  /** HTTP API on a free port, or none. */
  readonly http: boolean;
  readonly nodeExtra?: IniFields;
  /** [peer:...] sections. */
  readonly peers?: readonly string[];
}

/** A started node, the ports it reported, and how many log lines carried each message. */
export interface BenchNode {
  readonly child: Child;
  readonly fedPort: number | null;
  readonly apiPort: number | null;
  /** How many log lines carried each `msg`, e.g. how many peers the node authenticated. */
  readonly msgCounts: ReadonlyMap<string, number>;
}

/** The next (or an earlier) log line of `node` with this `msg` (and `peer`, when given). */
export async function waitForLog(
  node: BenchNode,
  msg: string,
  ms: number,
  peer?: string,
): Promise<void> {
  const what = peer === undefined ? `'${msg}'` : `'${msg}' for peer ${peer}`;
  await node.child.waitFor(logMatcher(msg, peer === undefined ? {} : { peer }), what, ms);
}

/** Owns every child so that any failure or Ctrl-C stops them all. */
export class Children {
  readonly all = new Set<Child>();

  constructor(readonly dir: string, readonly cpuProfDir: string | null) {}

  /** Writes NAME.ini in the run's directory, starts the node and waits until it is ready. */
  async startNode(spec: NodeSpec): Promise<BenchNode> {
    const ini = await writeIni(
      this.dir,
      spec.name,
      "# written by scripts/bench/run.ts\n",
      portal({ log_format: "json" }),
      modNode(spec.name, { key: KEY, listenPort: spec.listen ? 0 : "off", extra: spec.nodeExtra }),
      ...(spec.peers ?? []),
      http(spec.http ? "127.0.0.1:0" : "off"),
    );
    const msgCounts = new Map<string, number>();
    const child = startNode(spec.name, ini, {
      keepLines: KEPT_LINES,
      denoFlags: this.cpuProfDir === null
        ? []
        : ["--cpu-prof", `--cpu-prof-dir=${this.cpuProfDir}/${spec.name}`],
      onLine: (line) => {
        const msg = parseLogLine(line)?.msg;
        if (msg !== undefined) msgCounts.set(msg, (msgCounts.get(msg) ?? 0) + 1);
      },
    });
    this.all.add(child);
    const line = await child.waitFor(logMatcher("node ready"), "'node ready'", NODE_START_MS);
    const ports = readyPorts(line, spec.name)!;
    return { child, fedPort: ports.federation, apiPort: ports.api, msgCounts };
  }

  /** Starts a Deno child (a load generator) whose output is kept for error reports. */
  spawn(name: string, args: readonly string[], options: Partial<ChildOptions> = {}): Child {
    const child = new Child(name, { keepLines: KEPT_LINES, ...options, args });
    this.all.add(child);
    return child;
  }

  async stop(child: Child): Promise<void> {
    this.all.delete(child);
    await child.stop(STOP_GRACE_MS);
  }

  async stopAll(): Promise<void> {
    const all = [...this.all];
    this.all.clear();
    await Promise.allSettled(all.map((c) => c.stop(STOP_GRACE_MS)));
  }
}

/** The nodes of rows 1–5. */
export interface Cluster {
  readonly hub: BenchNode;
  readonly factory: BenchNode;
  readonly office: BenchNode;
  readonly direct: BenchNode;
}

/** Starts hub, factory, office and office-direct, each link up and each route checked. */
export async function startCluster(kids: Children, log: (s: string) => void): Promise<Cluster> {
  log(`starting hub, factory, office (routes via hub) and office-direct (dials factory)`);
  const hub = await kids.startNode({ name: "hub", listen: true, http: false });
  const hubAt = { port: hub.fedPort! };
  const factory = await kids.startNode({
    name: "factory",
    listen: true,
    http: false,
    peers: [peer("hub", hubAt)],
  });
  await waitForLog(hub, "authenticated", LINK_UP_MS, "factory");
  const office = await kids.startNode({
    name: "office",
    listen: false,
    http: true,
    peers: [peer("hub", hubAt), peer("factory", { hub: "hub" })],
  });
  await waitForLog(hub, "authenticated", LINK_UP_MS, "office");
  const direct = await kids.startNode({
    name: "office-direct",
    listen: false,
    http: true,
    peers: [peer("factory", { port: factory.fedPort! })],
  });
  await waitForLog(factory, "authenticated", LINK_UP_MS, "office-direct");
  await checkRoute(office.apiPort!, "via-hub");
  await checkRoute(direct.apiPort!, "connected");
  return { hub, factory, office, direct };
}

/** Nodes of row 8: row 1's path with every request signed and checked. */
export interface SignedCluster {
  readonly hub: BenchNode;
  readonly factory: BenchNode;
  readonly office: BenchNode;
}

/**
 * Starts hub, factory (`require_signed = all`) and office (`sign = all`, reaching factory via
 * the hub): row 1 with a signature made at office and checked at factory for every request.
 * The route check proves it: an unsigned request would get 401.
 */
export async function startSignedCluster(
  kids: Children,
  log: (s: string) => void,
): Promise<SignedCluster> {
  log("starting hub, factory (require_signed = all) and office (sign = all, via hub)");
  const hub = await kids.startNode({ name: "hub", listen: true, http: false });
  const hubAt = { port: hub.fedPort! };
  const factory = await kids.startNode({
    name: "factory",
    listen: true,
    http: false,
    nodeExtra: { require_signed: "all" },
    peers: [peer("hub", hubAt)],
  });
  await waitForLog(hub, "authenticated", LINK_UP_MS, "factory");
  const office = await kids.startNode({
    name: "office",
    listen: false,
    http: true,
    nodeExtra: { sign: "all" },
    peers: [peer("hub", hubAt), peer("factory", { hub: "hub" })],
  });
  await waitForLog(hub, "authenticated", LINK_UP_MS, "office");
  await waitForLog(office, "factory is reachable via hub", LINK_UP_MS, "factory");
  await checkRoute(office.apiPort!, "via-hub");
  return { hub, factory, office };
}

async function getJson(port: number, path: string): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`http://127.0.0.1:${port}/api${path}`);
  return { status: r.status, body: await r.json() };
}

/** Checks that office reaches factory the way the row says, so a row never measures the wrong path. */
async function checkRoute(apiPort: number, via: "via-hub" | "connected"): Promise<void> {
  const health = await getJson(apiPort, "/node/factory/health");
  const node = (health.body as { node?: string }).node;
  if (health.status !== 200 || node !== "factory") {
    throw new Error(
      `GET /api/node/factory/health gave ${health.status} ${JSON.stringify(health.body)}`,
    );
  }
  const peers = (await getJson(apiPort, "/node/peers")).body as { name: string; status: string }[];
  const factory = peers.find((p) => p.name === "factory");
  if (factory?.status !== via) {
    throw new Error(`factory should be '${via}' from this office but is '${factory?.status}'`);
  }
}

/** Parses a child's output line as a JSON object, or null. */
export function jsonLine(line: string): Record<string, unknown> | null {
  if (!line.startsWith("{")) return null;
  try {
    const j = JSON.parse(line);
    return typeof j === "object" && j !== null && !Array.isArray(j) ? j : null;
  } catch {
    return null;
  }
}

/** `{ name, pid }` of a node, for CPU and memory accounting. */
export function proc(n: BenchNode): { name: string; pid: number } {
  return { name: n.child.name, pid: n.child.pid };
}
