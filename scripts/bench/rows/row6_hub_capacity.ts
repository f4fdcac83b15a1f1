/**
 * Row 6: hub capacity. N idle peers (10,000 in full mode) dial one hub: how fast they join, the
 * hub's memory per idle peer, its CPU while idle at the default ping_interval (10 s) and at 1 s,
 * and the time of a single join.
 */
import { startBare } from "../bare.ts";
import { type BenchNode, jsonLine, KEY } from "../cluster.ts";
import type { BenchRow, RowContext } from "../context.ts";
import { cpuTicks, statusKiB, UsageWindow } from "../proc.ts";
import type { Row } from "../report.ts";

const HERE = new URL("..", import.meta.url).pathname;
/** Peers joined one at a time to time a single join. */
const SERIAL_JOINS = 20;

/** The "authenticated" line of peers.ts. */
interface PeersReady {
  readonly peers: number;
  readonly failed: number;
  readonly ms: number;
  readonly join: { p50Ms: number; p99Ms: number; maxMs: number; stalls: number };
  readonly firstError: string | null;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A row without latencies or a ratio. */
const plain = {
  p50Ms: null,
  p99Ms: null,
  maxMs: null,
  ratio: null,
  completed: null,
  timeBound: false,
  procs: [],
} as const;

/**
 * peers.ts dialing the hub at `port`: `n` peers, `concurrency` dials at a time, each pinging
 * the hub every `pingMs` as a Portal node does (0: they only answer).
 */
function peersArgs(
  ctx: RowContext,
  port: number,
  n: number,
  concurrency: number,
  pingMs: number,
): string[] {
  // deno-fmt-ignore
  return [
    "run", "--allow-net", "--allow-read", `${HERE}peers.ts`, "--port", String(port),
    "--ca", ctx.caPath, "--key", KEY, "--n", String(n), "--concurrency", String(concurrency),
    "--ping-ms", String(pingMs),
  ];
}

/** ping_interval's default, in seconds. */
const DEFAULT_PING_S = 10;
/** Idle window at the default ping_interval: one whole interval, so every peer is pinged once. */
const IDLE_AT_DEFAULT_MS = DEFAULT_PING_S * 1000;

/** What one hub phase measured. */
interface Phase {
  readonly rows: Row[];
  readonly hub: BenchNode;
}

/**
 * One hub with a ping_interval of `pingS` seconds: `n` peers join (64 dials at a time), the hub's RSS per
 * idle peer, then its CPU over `idleMs` while every peer answers the pings. The hub is left
 * running for the caller (serial joins); the peers are closed.
 */
async function phase(
  ctx: RowContext,
  pingS: number,
  idleMs: number,
  memory: boolean,
): Promise<Phase> {
  const n = ctx.settings.peers;
  const ping = `${pingS}s`;
  ctx.log(`row 6 hub capacity: ${n} peers, ping_interval = ${ping}`);
  const hub = await ctx.kids.startNode({
    name: "hub",
    listen: true,
    http: false,
    nodeExtra: { ping_interval: ping },
  });
  const pid = hub.child.pid;
  // Let start-up garbage settle before the baseline.
  await sleep(1000);
  const rssBefore = statusKiB(pid, "VmRSS");
  const authWindow = new UsageWindow([{ name: "hub", pid }], ctx.ticksPerS);
  let ready: PeersReady | null = null;
  const peers = ctx.kids.spawn(
    "peers",
    peersArgs(ctx, hub.fedPort!, n, ctx.settings.dialConcurrency, pingS * 1000),
    {
      stdin: "piped",
      onLine: (l) => {
        const j = jsonLine(l);
        if (j?.event === "authenticated") ready = j as unknown as PeersReady;
      },
    },
  );
  const rows: Row[] = [];
  try {
    await peers.waitFor(
      (l) => jsonLine(l)?.event === "authenticated",
      "all peers dialed",
      120_000,
    );
    const authUsage = authWindow.end();
    const r = ready as unknown as PeersReady;
    const hubSaw = hub.msgCounts.get("authenticated") ?? 0;
    const seconds = r.ms / 1000;
    rows.push({
      row: 6,
      case: `hub: ${n} peers dial + authenticate (${ping} pings)`,
      c: ctx.settings.dialConcurrency,
      rate: r.peers / seconds,
      unit: "peers/s",
      ...r.join,
      ratio: null,
      completed: r.peers,
      errors: r.failed,
      durationS: seconds,
      timeBound: false,
      procs: authUsage.map((u) => ({
        ...u,
        cpuUsPerReq: r.peers > 0 ? (u.cpuS * 1e6) / r.peers : null,
      })),
      notes: `all in ${seconds.toFixed(2)} s; p50/p99/max: one peer's dial-to-verdict time; ` +
        `hub logged ${hubSaw} authentications` +
        (r.firstError ? `; first error: ${r.firstError}` : ""),
      extra: { kind: "auth", seconds, authenticated: r.peers, hubLogged: hubSaw, ping },
    });
    // RSS once the joins' garbage had a moment; then the idle window.
    await sleep(1000);
    const rssAfter = statusKiB(pid, "VmRSS");
    const hwm = statusKiB(pid, "VmHWM");
    if (memory) {
      rows.push({
        ...plain,
        row: 6,
        case: `hub: RSS per idle peer`,
        c: null,
        rate: (rssAfter - rssBefore) / Math.max(1, r.peers),
        unit: "KiB/peer",
        errors: 0,
        durationS: null,
        notes: `VmRSS ${(rssBefore / 1024).toFixed(1)} → ${(rssAfter / 1024).toFixed(1)} MiB, ` +
          `peak ${(hwm / 1024).toFixed(1)} MiB`,
        extra: { kind: "memory", rssBeforeKiB: rssBefore, rssAfterKiB: rssAfter, vmHwmKiB: hwm },
      });
    }
    const idle = await idleWindow(ctx, pid, peers, idleMs);
    rows.push({
      ...plain,
      row: 6,
      case: `hub: CPU idle, ${r.peers} peers, ${ping} pings`,
      c: null,
      rate: (idle.cpuS / idle.wallS) * 1000,
      unit: "CPU ms/s",
      errors: idle.report.lost,
      durationS: idle.wallS,
      notes: idleNotes(idle),
      extra: { kind: "idle_cpu", ...idle.report, cpuS: idle.cpuS, wallS: idle.wallS, ping },
    });
  } catch (e) {
    await ctx.kids.stop(hub.child);
    throw e;
  } finally {
    await ctx.kids.stop(peers);
  }
  return { rows, hub };
}

/** What peers.ts reports when its stdin closes. */
interface PeersClosed {
  readonly pings: number;
  readonly sent: number;
  readonly pongs: number;
  readonly lost: number;
}

/** CPU of `pid` over `idleMs` while the peers idle; then the peers are closed and report. */
async function idleWindow(
  ctx: RowContext,
  pid: number,
  peers: ReturnType<RowContext["kids"]["spawn"]>,
  idleMs: number,
): Promise<{ cpuS: number; wallS: number; report: PeersClosed }> {
  const t0 = cpuTicks(pid);
  const w0 = performance.now();
  await sleep(idleMs);
  const cpuS = (cpuTicks(pid) - t0) / ctx.ticksPerS;
  const wallS = (performance.now() - w0) / 1000;
  const closed = peers.waitFor(
    (l) => jsonLine(l)?.event === "closed",
    "the peers' close report",
    30_000,
  );
  await peers.closeStdin();
  return { cpuS, wallS, report: jsonLine(await closed) as unknown as PeersClosed };
}

function idleNotes(idle: { cpuS: number; wallS: number; report: PeersClosed }): string {
  const { report } = idle;
  return `${(100 * idle.cpuS / idle.wallS).toFixed(1)}% of a core over ${
    idle.wallS.toFixed(1)
  } s; peers answered ${report.pings} pings and sent ${report.sent} ` +
    `(${report.pongs} answered); ${report.lost} peers lost`;
}

/**
 * The floor of the idle figure: idle_floor_server.ts (a bare TLS server doing only the I/O the
 * hub must do per peer) under the same peers, pinging every 10 s, over the same window.
 */
async function idleFloor(ctx: RowContext): Promise<Row> {
  const n = ctx.settings.peers;
  ctx.log(`row 6 idle floor: ${n} peers on a bare TLS server`);
  const server = await startBare(ctx, "floor", "idle_floor_server.ts");
  try {
    const peers = ctx.kids.spawn(
      "peers",
      peersArgs(ctx, server.port, n, ctx.settings.dialConcurrency, DEFAULT_PING_S * 1000),
      { stdin: "piped" },
    );
    try {
      const line = await peers.waitFor(
        (l) => jsonLine(l)?.event === "authenticated",
        "all peers dialed",
        120_000,
      );
      const ready = jsonLine(line) as unknown as PeersReady;
      await sleep(1000);
      const idle = await idleWindow(ctx, server.child.pid, peers, IDLE_AT_DEFAULT_MS);
      return {
        ...plain,
        row: 6,
        case: `floor: bare TLS server, CPU idle, ${ready.peers} peers, ${DEFAULT_PING_S}s pings`,
        c: null,
        rate: (idle.cpuS / idle.wallS) * 1000,
        unit: "CPU ms/s",
        errors: idle.report.lost + ready.failed,
        durationS: idle.wallS,
        notes: idleNotes(idle),
        extra: { kind: "idle_floor", ...idle.report, cpuS: idle.cpuS, wallS: idle.wallS },
      };
    } finally {
      await ctx.kids.stop(peers);
    }
  } finally {
    await ctx.kids.stop(server.child);
  }
}

export const row6: BenchRow = {
  row: 6,
  name: "hub capacity",
  usesCluster: false,
  async run(ctx) {
    const rows: Row[] = [];
    // Full mode: the default ping_interval (10 s) first, for memory and idle CPU; then 1 s,
    // the figure earlier runs gave. Quick mode: 1 s alone.
    if (!ctx.settings.quick) {
      const tenS = await phase(ctx, DEFAULT_PING_S, IDLE_AT_DEFAULT_MS, true);
      await ctx.kids.stop(tenS.hub.child);
      rows.push(...tenS.rows);
      rows.push(await idleFloor(ctx));
    }
    const oneS = await phase(ctx, 1, ctx.settings.idleMs, ctx.settings.quick);
    try {
      rows.push(...oneS.rows);
      rows.push(await serialJoins(ctx, oneS.hub.fedPort!));
    } finally {
      await ctx.kids.stop(oneS.hub.child);
    }
    return rows;
  },
};

/** One dial at a time: the latency of a single join, which concurrency hides above. */
async function serialJoins(ctx: RowContext, port: number): Promise<Row> {
  const serial = ctx.kids.spawn(
    "peers-serial",
    [...peersArgs(ctx, port, SERIAL_JOINS, 1, 0), "--prefix", "bench-serial"],
    { stdin: "piped" },
  );
  const line = await serial.waitFor(
    (l) => jsonLine(l)?.event === "authenticated",
    "serial joins",
    60_000,
  );
  const s = jsonLine(line) as unknown as PeersReady;
  await ctx.kids.stop(serial);
  return {
    row: 6,
    case: `hub: join one at a time (${SERIAL_JOINS} peers)`,
    c: 1,
    rate: s.peers / (s.ms / 1000),
    unit: "peers/s",
    ...s.join,
    ratio: null,
    completed: s.peers,
    errors: s.failed,
    durationS: s.ms / 1000,
    timeBound: false,
    procs: [],
    notes: "dial, TLS handshake, challenge, response, verdict" +
      (s.firstError ? `; first error: ${s.firstError}` : ""),
    extra: { kind: "serial_join", ...s },
  };
}
