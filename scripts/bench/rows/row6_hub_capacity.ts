/**
 * Row 6: hub capacity. N idle peers (10,000 in full mode) dial one hub: how fast they join, the
 * hub's memory per idle peer, its CPU while idle at the default ping_interval (10 s) and at 1 s,
 * and the time of a single join.
 */
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

/** peers.ts dialing the hub at `port`: `n` peers, `concurrency` dials at a time. */
function peersArgs(ctx: RowContext, port: number, n: number, concurrency: number): string[] {
  // deno-fmt-ignore
  return [
    "run", "--allow-net", "--allow-read", `${HERE}peers.ts`, "--port", String(port),
    "--ca", ctx.caPath, "--key", KEY, "--n", String(n), "--concurrency", String(concurrency),
  ];
}

/** Idle window at the default ping_interval: one whole interval, so every peer is pinged once. */
const IDLE_AT_DEFAULT_MS = 10_000;

/** What one hub phase measured. */
interface Phase {
  readonly rows: Row[];
  readonly hub: BenchNode;
}

/**
 * One hub with `ping` as ping_interval: `n` peers join (64 dials at a time), the hub's RSS per
 * idle peer, then its CPU over `idleMs` while every peer answers the pings. The hub is left
 * running for the caller (serial joins); the peers are closed.
 */
async function phase(
  ctx: RowContext,
  ping: string,
  idleMs: number,
  memory: boolean,
): Promise<Phase> {
  const n = ctx.settings.peers;
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
    peersArgs(ctx, hub.fedPort!, n, ctx.settings.dialConcurrency),
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
    const report = jsonLine(await closed) as { pings: number; lost: number };
    rows.push({
      ...plain,
      row: 6,
      case: `hub: CPU idle, ${r.peers} peers, ${ping} pings`,
      c: null,
      rate: (cpuS / wallS) * 1000,
      unit: "CPU ms/s",
      errors: report.lost,
      durationS: wallS,
      notes: `${(100 * cpuS / wallS).toFixed(1)}% of a core over ${wallS.toFixed(1)} s; ` +
        `peers answered ${report.pings} pings; ${report.lost} peers lost`,
      extra: { kind: "idle_cpu", cpuS, wallS, pings: report.pings, lost: report.lost, ping },
    });
  } catch (e) {
    await ctx.kids.stop(hub.child);
    throw e;
  } finally {
    await ctx.kids.stop(peers);
  }
  return { rows, hub };
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
      const tenS = await phase(ctx, "10s", IDLE_AT_DEFAULT_MS, true);
      await ctx.kids.stop(tenS.hub.child);
      rows.push(...tenS.rows);
    }
    const oneS = await phase(ctx, "1s", ctx.settings.idleMs, ctx.settings.quick);
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
    [...peersArgs(ctx, port, SERIAL_JOINS, 1), "--prefix", "bench-serial"],
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
