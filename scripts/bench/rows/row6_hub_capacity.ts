/**
 * Row 6: hub capacity. N idle peers dial one hub that pings every second: how fast they join,
 * the hub's memory per idle peer, its CPU while idle, and the time of a single join.
 */
import { jsonLine, KEY } from "../cluster.ts";
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

export const row6: BenchRow = {
  row: 6,
  name: "hub capacity",
  usesCluster: false,
  async run(ctx) {
    const n = ctx.settings.peers;
    ctx.log(`row 6 hub capacity: ${n} peers, ping_interval = 1s`);
    const hub = await ctx.kids.startNode({
      name: "hub",
      listen: true,
      http: false,
      nodeExtra: { ping_interval: "1s" },
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
        60_000,
      );
      const authUsage = authWindow.end();
      const r = ready as unknown as PeersReady;
      const hubSaw = hub.msgCounts.get("authenticated") ?? 0;
      const seconds = r.ms / 1000;
      rows.push({
        row: 6,
        case: `hub: ${n} peers dial + authenticate`,
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
        extra: { kind: "auth", seconds, authenticated: r.peers, hubLogged: hubSaw },
      });

      // Idle: every peer authenticated, the hub pinging each once a second.
      const t0 = cpuTicks(pid);
      const w0 = performance.now();
      await sleep(ctx.settings.idleMs);
      const cpuS = (cpuTicks(pid) - t0) / ctx.ticksPerS;
      const wallS = (performance.now() - w0) / 1000;
      const rssAfter = statusKiB(pid, "VmRSS");
      const hwm = statusKiB(pid, "VmHWM");
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
      const closed = peers.waitFor(
        (l) => jsonLine(l)?.event === "closed",
        "the peers' close report",
        20_000,
      );
      await peers.closeStdin();
      const report = jsonLine(await closed) as { pings: number; lost: number };
      rows.push({
        ...plain,
        row: 6,
        case: `hub: CPU idle, ${r.peers} peers, 1 s pings`,
        c: null,
        rate: (cpuS / wallS) * 1000,
        unit: "CPU ms/s",
        errors: report.lost,
        durationS: wallS,
        notes: `${(100 * cpuS / wallS).toFixed(1)}% of a core over ${wallS.toFixed(1)} s; ` +
          `peers answered ${report.pings} pings; ${report.lost} peers lost`,
        extra: { kind: "idle_cpu", cpuS, wallS, pings: report.pings, lost: report.lost },
      });
      await ctx.kids.stop(peers);
      rows.push(await serialJoins(ctx, hub.fedPort!));
    } finally {
      await ctx.kids.stop(peers);
      await ctx.kids.stop(hub.child);
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
