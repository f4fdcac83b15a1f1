/**
 * `deno task bench`: Portal's performance benchmark. Every node is its own `main.ts` process
 * on 127.0.0.1 with TLS and real certificates; load comes from separate child processes.
 * Prints one table and writes the same rows as JSON to bench/results/<timestamp>.json.
 * Rows are described in docs/performance.md.
 *
 *   deno task bench [--quick] [--peers N] [--c 1,16,64] [--rows 1,2,3,4,5,6,7] [--out DIR]
 */
import { parseArgs } from "node:util";
import { genCerts } from "../../src/pki/certs.ts";
import { Child, jsonLine, NodeChild, portOf } from "./children.ts";
import { CODEC_CASES } from "./codec_fixtures.ts";
import { clockTicksPerSecond, cpuTicks, statusKiB, UsageWindow } from "./proc.ts";
import {
  checkTargets,
  formatTable,
  formatTargets,
  type Row,
  type RowProc,
  type TargetCheck,
} from "./report.ts";
import { type LoadResult, STALL_MS } from "./stats.ts";

const USAGE = `usage: deno task bench [options]
  --quick          about 30 s instead of 60-90 s: fewer requests, shorter bounds
  --peers N        idle peers for the hub capacity row (default 500)
  --c LIST         concurrencies for rows 1-5 (default 1,16,64)
  --rows LIST      rows to run (default 1,2,3,4,5,6,7)
  --out DIR        where the JSON goes (default bench/results)
  --cpu-prof DIR   run every node with V8's CPU profiler; one .cpuprofile per node
                   lands in DIR/<node>/ when it stops (summarise: profile_top.ts)
  --help`;

const HERE = new URL(".", import.meta.url).pathname;
const REPO = new URL("../../", import.meta.url).pathname;
const KEY = "bench-federation-key-0123456789abcdef";
const NODE_START_MS = 30_000;
const LINK_UP_MS = 20_000;
/** Time left for rows 6 and 7 when deciding to skip further load measurements. */
const LATE_ROWS_RESERVE_MS = 35_000;

/** What a run does; fixed by --quick. */
interface Settings {
  readonly quick: boolean;
  readonly peers: number;
  readonly cs: readonly number[];
  readonly rows: ReadonlySet<number>;
  readonly outDir: string;
  /** Directory for per-node CPU profiles, or null. */
  readonly cpuProfDir: string | null;
  /** Requests per measurement. */
  readonly n: number;
  /** Time bound of one measurement. */
  readonly timeMs: number;
  /** Unrecorded requests before each measurement. */
  readonly warmup: number;
  /** Window over which the idle hub's CPU is read. */
  readonly idleMs: number;
  /** Concurrent dials of the capacity row. */
  readonly dialConcurrency: number;
  /** Whole-run budget: load measurements are skipped past it. */
  readonly deadlineMs: number;
}

class UsageError extends Error {
  override readonly name = "UsageError";
}

function intList(name: string, text: string): number[] {
  const out = text.split(",").map((s) => Number(s.trim()));
  if (out.length === 0 || out.some((n) => !Number.isSafeInteger(n) || n <= 0)) {
    throw new UsageError(
      `--${name} must be a comma-separated list of positive integers, got '${text}'`,
    );
  }
  return out;
}

function parseSettings(argv: string[]): Settings | null {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        quick: { type: "boolean" },
        peers: { type: "string" },
        c: { type: "string" },
        rows: { type: "string" },
        out: { type: "string" },
        "cpu-prof": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  if (values.help) return null;
  const quick = values.quick ?? false;
  const peers = values.peers === undefined ? 500 : Number(values.peers);
  if (!Number.isSafeInteger(peers) || peers <= 0) {
    throw new UsageError(`--peers must be a positive integer, got '${values.peers}'`);
  }
  if (peers > 5000) {
    throw new UsageError(`--peers ${peers} is more than this benchmark opens (at most 5000)`);
  }
  const cs = values.c === undefined ? [1, 16, 64] : intList("c", values.c);
  if (cs.some((c) => c > 1024)) throw new UsageError("--c values must be at most 1024");
  const rows = new Set(
    values.rows === undefined ? [1, 2, 3, 4, 5, 6, 7] : intList("rows", values.rows),
  );
  for (const r of rows) if (r > 7) throw new UsageError(`--rows: there is no row ${r} (1-7)`);
  return {
    quick,
    peers,
    cs,
    rows,
    outDir: values.out ?? `${REPO}bench/results`,
    cpuProfDir: values["cpu-prof"] ?? null,
    n: quick ? 5000 : 30_000,
    timeMs: quick ? 3000 : 8000,
    warmup: quick ? 300 : 1000,
    idleMs: quick ? 2000 : 5000,
    dialConcurrency: 64,
    deadlineMs: quick ? 75_000 : 225_000,
  };
}

// ---- machine ---------------------------------------------------------------

interface Machine {
  readonly nproc: number;
  readonly cpu: string;
  readonly deno: string;
  readonly v8: string;
  readonly kernel: string;
  readonly memTotalMiB: number;
  loadAvgStart: string;
  loadAvgEnd: string;
}

function readMachine(): Machine {
  const cpuinfo = Deno.readTextFileSync("/proc/cpuinfo");
  const meminfo = Deno.readTextFileSync("/proc/meminfo");
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.*)$/m)?.[1].trim() ?? "unknown",
    deno: Deno.version.deno,
    v8: Deno.version.v8,
    kernel: Deno.osRelease(),
    memTotalMiB: Math.round(Number(meminfo.match(/^MemTotal:\s+(\d+)/m)?.[1] ?? 0) / 1024),
    loadAvgStart: loadAvg(),
    loadAvgEnd: "",
  };
}

function loadAvg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

// ---- cluster ---------------------------------------------------------------

interface NodeIni {
  readonly name: string;
  /** Federation listener: "0" for a free port, or "off". */
  readonly listen: "0" | "off";
  readonly http: "on" | "off";
  readonly nodeExtra?: string;
  readonly peers?: string;
}

async function writeIni(dir: string, n: NodeIni): Promise<string> {
  const text = `# written by scripts/bench/run.ts
[portal]
log_format = json

[mod_node]
name = ${n.name}
federation_key = ${KEY}
listen_host = 127.0.0.1
listen_port = ${n.listen}
tls = true
tls_cert = ${n.name}.pem
tls_key = ${n.name}.key
tls_ca = ca.pem
${n.nodeExtra ?? ""}
${n.peers ?? ""}
[mod_http]
listen = ${n.http === "on" ? "127.0.0.1:0" : "off"}
`;
  const path = `${dir}/${n.name}.ini`;
  await Deno.writeTextFile(path, text);
  return path;
}

function peerSection(name: string, lines: Record<string, string | number | boolean>): string {
  return `[peer:${name}]\n` + Object.entries(lines).map(([k, v]) => `${k} = ${v}`).join("\n") +
    "\n";
}

/** A started node with the ports it reported in its "node ready" line. */
interface Started {
  readonly node: NodeChild;
  readonly fedPort: number | null;
  readonly apiPort: number | null;
}

/** Owns every child so that any failure or Ctrl-C stops them all. */
class Children {
  readonly all = new Set<Child>();
  readonly #cpuProfDir: string | null;

  constructor(cpuProfDir: string | null) {
    this.#cpuProfDir = cpuProfDir;
  }

  async startNode(dir: string, ini: NodeIni): Promise<Started> {
    const prof = this.#cpuProfDir === null
      ? []
      : ["--cpu-prof", `--cpu-prof-dir=${this.#cpuProfDir}/${ini.name}`];
    const node = new NodeChild(ini.name, await writeIni(dir, ini), prof);
    this.all.add(node);
    const ready = await node.waitForLog("node ready", NODE_START_MS);
    return {
      node,
      fedPort: ini.listen === "off" ? null : portOf(ready.federation, "federation"),
      apiPort: ini.http === "off" ? null : portOf(ready.api, "api"),
    };
  }

  spawn(name: string, args: string[], opts: { stdin?: boolean; onLine?: (l: string) => void }) {
    const child = new Child(name, args, opts);
    this.all.add(child);
    return child;
  }

  async stop(child: Child): Promise<void> {
    this.all.delete(child);
    await child.stop();
  }

  async stopAll(): Promise<void> {
    const all = [...this.all];
    this.all.clear();
    await Promise.allSettled(all.map((c) => c.stop()));
  }
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

// ---- load children -----------------------------------------------------------

interface Measured {
  readonly result: LoadResult;
  readonly procs: RowProc[];
}

/** Runs a load script; CPU and peak RSS of `procs` (and the load itself) cover the measured part. */
async function runLoad(
  kids: Children,
  ticksPerS: number,
  script: string,
  args: string[],
  procs: readonly { name: string; pid: number }[],
  settings: Settings,
): Promise<Measured> {
  let window: UsageWindow | null = null;
  let usage: ReturnType<UsageWindow["end"]> | null = null;
  let result: LoadResult | null = null;
  const child = kids.spawn(script, [
    "run",
    "--allow-net",
    "--allow-read",
    `${HERE}${script}`,
    ...args,
    "--hold",
  ], {
    stdin: true,
    onLine: (line) => {
      const j = jsonLine(line);
      if (j?.event === "measure") {
        window = new UsageWindow([...procs, { name: "load", pid: child.pid }], ticksPerS);
      } else if (j && typeof j.completed === "number") {
        usage = window?.end() ?? null;
        result = j as unknown as LoadResult;
      }
    },
  });
  const guardMs = settings.timeMs + 3000 + 5000 + 15_000;
  try {
    await child.waitFor(
      "the result line",
      (l) => typeof jsonLine(l)?.completed === "number",
      guardMs,
    );
  } finally {
    await child.closeStdin();
    await kids.stop(child);
  }
  if (result === null || usage === null) {
    throw new Error(`${script} gave no result\n${child.tail()}`);
  }
  const r: LoadResult = result;
  const procsOut = (usage as ReturnType<UsageWindow["end"]>).map((u) => ({
    ...u,
    cpuUsPerReq: r.completed > 0 ? (u.cpuS * 1e6) / r.completed : null,
  }));
  return { result: r, procs: procsOut };
}

function loadRow(
  row: number,
  name: string,
  c: number,
  m: Measured,
  notes = "",
): Row {
  const r = m.result;
  const first = r.extra.firstError;
  return {
    row,
    case: name,
    c,
    rate: r.rate,
    unit: "req/s",
    stalls: r.stalls,
    p50Ms: r.p50Ms,
    p99Ms: r.p99Ms,
    maxMs: r.maxMs,
    ratio: null,
    completed: r.completed,
    errors: r.errors,
    durationS: r.durationS,
    timeBound: r.timeBound,
    procs: m.procs,
    notes: [
      r.stalls > 0 ? `${r.stalls} ≥ ${STALL_MS} ms` : "",
      notes,
      typeof first === "string" ? `first error: ${first}` : "",
    ].filter((s) => s).join("; "),
    extra: r.extra,
  };
}

function skippedRow(row: number, name: string, c: number | null, why: string): Row {
  return {
    row,
    case: name,
    c,
    rate: null,
    unit: "-",
    p50Ms: null,
    p99Ms: null,
    maxMs: null,
    ratio: null,
    completed: null,
    errors: 0,
    durationS: null,
    timeBound: false,
    procs: [],
    notes: `skipped: ${why}`,
    extra: { skipped: why },
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---- the run -------------------------------------------------------------------

async function bench(
  settings: Settings,
  machine: Machine,
  log: (s: string) => void,
): Promise<Row[]> {
  const rows: Row[] = [];
  const started = performance.now();
  const late = () => performance.now() - started > settings.deadlineMs - LATE_ROWS_RESERVE_MS;
  const ticksPerS = await clockTicksPerSecond();
  const kids = new Children(settings.cpuProfDir);
  /** One load row per C in `settings.cs` (skipped when out of time); adds the C/count/time flags. */
  const loadAtEachC = async (
    row: number,
    name: string,
    script: string,
    args: string[],
    procs: readonly { name: string; pid: number }[],
    note: string,
    measured: (m: Measured) => void = () => {},
  ) => {
    for (const c of settings.cs) {
      if (late()) {
        rows.push(skippedRow(row, name, c, "out of time"));
        continue;
      }
      log(`row ${row} ${name} C=${c}`);
      const m = await runLoad(
        kids,
        ticksPerS,
        script,
        [
          ...args,
          "--c",
          String(c),
          "--n",
          String(settings.n),
          "--time-ms",
          String(settings.timeMs),
          "--warmup",
          String(settings.warmup),
        ],
        procs,
        settings,
      );
      measured(m);
      rows.push(loadRow(row, name, c, m, note));
    }
  };
  /** Gives rows `of` a ratio to row `base` at the same C. */
  const ratioTo = (of: readonly number[], base: number) => {
    for (const r of rows) {
      if (!of.includes(r.row)) continue;
      const ref = rows.find((x) => x.row === base && x.c === r.c);
      if (ref?.rate && r.rate !== null) {
        Object.assign(r, { ratio: { of: `row ${base}`, value: r.rate / ref.rate } });
      }
    }
  };
  const dir = await Deno.makeTempDir({ prefix: "portal-bench-" });
  const onSignal = () => {
    log("interrupted: stopping every child");
    kids.stopAll().finally(() => {
      Deno.removeSync(dir, { recursive: true });
      Deno.exit(130);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  try {
    for (const name of ["hub", "factory", "office", "office-direct", "echo"]) {
      await genCerts({ dir, node: name, hosts: ["localhost", "127.0.0.1"] });
    }
    const caPath = `${dir}/ca.pem`;
    const wantsCluster = [1, 2, 3, 4, 5].some((r) => settings.rows.has(r));
    if (wantsCluster) {
      log(`starting hub, factory, office (routes via hub) and office-direct (dials factory)`);
      const hub = await kids.startNode(dir, { name: "hub", listen: "0", http: "off" });
      const hubAuthFactory = hub.node.waitForLog("authenticated", LINK_UP_MS, "factory");
      const factory = await kids.startNode(dir, {
        name: "factory",
        listen: "0",
        http: "off",
        peers: peerSection("hub", { host: "127.0.0.1", port: hub.fedPort!, auto_connect: true }),
      });
      await hubAuthFactory;
      const hubAuthOffice = hub.node.waitForLog("authenticated", LINK_UP_MS, "office");
      const office = await kids.startNode(dir, {
        name: "office",
        listen: "off",
        http: "on",
        peers: peerSection("hub", { host: "127.0.0.1", port: hub.fedPort!, auto_connect: true }) +
          peerSection("factory", { hub: "hub" }),
      });
      await hubAuthOffice;
      const directUp = factory.node.waitForLog("authenticated", LINK_UP_MS, "office-direct");
      const direct = await kids.startNode(dir, {
        name: "office-direct",
        listen: "off",
        http: "on",
        peers: peerSection("factory", {
          host: "127.0.0.1",
          port: factory.fedPort!,
          auto_connect: true,
        }),
      });
      await directUp;
      await checkRoute(office.apiPort!, "via-hub");
      await checkRoute(direct.apiPort!, "connected");
      const p = (s: Started) => ({ name: s.node.name, pid: s.node.pid });

      const httpCases = [
        {
          row: 1,
          name: "HTTP via hub",
          api: office.apiPort!,
          path: "/api/node/factory/health",
          procs: [p(office), p(hub), p(factory)],
        },
        {
          row: 2,
          name: "HTTP direct",
          api: direct.apiPort!,
          path: "/api/node/factory/health",
          procs: [p(direct), p(factory)],
        },
        {
          row: 3,
          name: "HTTP local",
          api: office.apiPort!,
          path: "/api/health",
          procs: [p(office)],
        },
      ];
      for (const hc of httpCases) {
        if (!settings.rows.has(hc.row)) continue;
        await loadAtEachC(
          hc.row,
          hc.name,
          "http_load.ts",
          ["--port", String(hc.api), "--path", hc.path],
          hc.procs,
          `GET ${hc.path}`,
        );
      }
      ratioTo([1, 2], 3);

      let sizes = { req: 0, resp: 0 };
      if (settings.rows.has(4)) {
        await loadAtEachC(
          4,
          "PORTAL02 via hub",
          "tls_load.ts",
          [
            "--mode",
            "fed",
            "--port",
            String(hub.fedPort),
            "--ca",
            caPath,
            "--key",
            KEY,
            "--name",
            "bench",
            "--dst",
            "factory",
            "--path",
            "/health",
          ],
          [p(hub), p(factory)],
          "bench→hub→factory→hub→bench",
          (m) => {
            sizes = {
              req: Number(m.result.extra.reqFrameBytes),
              resp: Number(m.result.extra.respFrameBytes),
            };
          },
        );
      }
      if (settings.rows.has(5)) {
        // Without row 4, use the sizes a /health request and its answer have on the wire.
        if (sizes.req === 0) sizes = { req: 150, resp: 190 };
        const echoCerts = `${dir}/echo`;
        const echo = kids.spawn("echo", [
          "run",
          "--allow-net",
          "--allow-read",
          `${HERE}echo_server.ts`,
          "--cert",
          `${echoCerts}.pem`,
          "--key",
          `${echoCerts}.key`,
        ], {});
        const portLine = await echo.waitFor(
          "the echo port",
          (l) => typeof jsonLine(l)?.port === "number",
          NODE_START_MS,
        );
        const echoPort = jsonLine(portLine)!.port as number;
        await loadAtEachC(
          5,
          "raw TLS echo",
          "tls_load.ts",
          [
            "--mode",
            "echo",
            "--port",
            String(echoPort),
            "--ca",
            caPath,
            "--req-bytes",
            String(sizes.req),
            "--resp-bytes",
            String(sizes.resp),
          ],
          [{ name: "echo", pid: echo.pid }],
          `${sizes.req} B out, ${sizes.resp} B back`,
        );
        await kids.stop(echo);
        ratioTo([4], 5);
      }
      log("stopping the cluster");
      await kids.stopAll();
    }

    if (settings.rows.has(6)) {
      rows.push(...await hubCapacity(kids, dir, caPath, ticksPerS, settings, log));
    }
    if (settings.rows.has(7)) rows.push(...await codec(kids, log));
    return rows;
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await kids.stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
    machine.loadAvgEnd = loadAvg();
  }
}

/** Row 6: N idle peers on one hub that pings every second. */
async function hubCapacity(
  kids: Children,
  dir: string,
  caPath: string,
  ticksPerS: number,
  settings: Settings,
  log: (s: string) => void,
): Promise<Row[]> {
  const n = settings.peers;
  log(`row 6 hub capacity: ${n} peers, ping_interval = 1s`);
  const hub = await kids.startNode(dir, {
    name: "hub",
    listen: "0",
    http: "off",
    nodeExtra: "ping_interval = 1s",
  });
  const pid = hub.node.pid;
  // Let start-up garbage settle before the baseline.
  await sleep(1000);
  const rssBefore = statusKiB(pid, "VmRSS");
  const authWindow = new UsageWindow([{ name: "hub", pid }], ticksPerS);
  let ready: Record<string, unknown> | null = null;
  const peers = kids.spawn("peers", [
    "run",
    "--allow-net",
    "--allow-read",
    `${HERE}peers.ts`,
    "--port",
    String(hub.fedPort),
    "--ca",
    caPath,
    "--key",
    KEY,
    "--n",
    String(n),
    "--concurrency",
    String(settings.dialConcurrency),
  ], {
    stdin: true,
    onLine: (l) => {
      const j = jsonLine(l);
      if (j?.event === "authenticated") ready = j;
    },
  });
  const rows: Row[] = [];
  try {
    await peers.waitFor("all peers dialed", (l) => jsonLine(l)?.event === "authenticated", 60_000);
    const authUsage = authWindow.end();
    const r = ready as unknown as PeersReady;
    const hubSaw = hub.node.msgCounts.get("authenticated") ?? 0;
    const seconds = r.ms / 1000;
    rows.push({
      row: 6,
      case: `hub: ${n} peers dial + authenticate`,
      c: settings.dialConcurrency,
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
    await sleep(settings.idleMs);
    const cpuS = (cpuTicks(pid) - t0) / ticksPerS;
    const wallS = (performance.now() - w0) / 1000;
    const rssAfter = statusKiB(pid, "VmRSS");
    const hwm = statusKiB(pid, "VmHWM");
    const perPeer = (rssAfter - rssBefore) / Math.max(1, r.peers);
    rows.push({
      row: 6,
      case: `hub: RSS per idle peer`,
      c: null,
      rate: perPeer,
      unit: "KiB/peer",
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
      ratio: null,
      completed: null,
      errors: 0,
      durationS: null,
      timeBound: false,
      procs: [],
      notes: `VmRSS ${(rssBefore / 1024).toFixed(1)} → ${(rssAfter / 1024).toFixed(1)} MiB, ` +
        `peak ${(hwm / 1024).toFixed(1)} MiB`,
      extra: { kind: "memory", rssBeforeKiB: rssBefore, rssAfterKiB: rssAfter, vmHwmKiB: hwm },
    });
    const closed = peers.waitFor(
      "the peers' close report",
      (l) => jsonLine(l)?.event === "closed",
      20_000,
    );
    await peers.closeStdin();
    const report = jsonLine(await closed) as { pings: number; lost: number };
    rows.push({
      row: 6,
      case: `hub: CPU idle, ${r.peers} peers, 1 s pings`,
      c: null,
      rate: (cpuS / wallS) * 1000,
      unit: "CPU ms/s",
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
      ratio: null,
      completed: null,
      errors: report.lost,
      durationS: wallS,
      timeBound: false,
      procs: [],
      notes: `${(100 * cpuS / wallS).toFixed(1)}% of a core over ${wallS.toFixed(1)} s; ` +
        `peers answered ${report.pings} pings; ${report.lost} peers lost`,
      extra: { kind: "idle_cpu", cpuS, wallS, pings: report.pings, lost: report.lost },
    });
    await kids.stop(peers);

    // One dial at a time: the latency of a single join, which concurrency hides above.
    const serial = kids.spawn("peers-serial", [
      "run",
      "--allow-net",
      "--allow-read",
      `${HERE}peers.ts`,
      "--port",
      String(hub.fedPort),
      "--ca",
      caPath,
      "--key",
      KEY,
      "--n",
      String(SERIAL_JOINS),
      "--concurrency",
      "1",
      "--prefix",
      "bench-serial",
    ], { stdin: true });
    const line = await serial.waitFor(
      "serial joins",
      (l) => jsonLine(l)?.event === "authenticated",
      60_000,
    );
    const s = jsonLine(line) as unknown as PeersReady;
    await kids.stop(serial);
    rows.push({
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
    });
  } finally {
    await kids.stop(peers);
    await kids.stop(hub.node);
  }
  return rows;
}

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

/** Row 7: `deno bench --json` on codec_bench.ts. */
async function codec(kids: Children, log: (s: string) => void): Promise<Row[]> {
  log("row 7 codec (deno bench)");
  let out = "";
  const child = kids.spawn(
    "deno bench",
    ["bench", "--no-check", "--json", `${HERE}codec_bench.ts`],
    {
      onLine: (l) => (out += l + "\n"),
    },
  );
  const status = await child.status;
  await kids.stop(child);
  if (!status.success) throw new Error(`deno bench failed (code ${status.code})\n${child.tail()}`);
  const json = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1)) as {
    benches: { name: string; results: { ok?: { avg: number; p75: number; n: number } }[] }[];
  };
  const rows: Row[] = [];
  for (const b of json.benches) {
    const ok = b.results[0]?.ok;
    const bytes = CODEC_CASES[b.name as keyof typeof CODEC_CASES];
    if (!ok || bytes === undefined) continue;
    const perS = 1e9 / ok.avg;
    rows.push({
      row: 7,
      case: `codec: ${b.name}`,
      c: null,
      rate: perS,
      unit: "frames/s",
      p50Ms: null,
      p99Ms: null,
      maxMs: null,
      ratio: null,
      completed: null,
      errors: 0,
      durationS: null,
      timeBound: false,
      procs: [],
      notes: `${((perS * bytes) / 1e6).toFixed(1)} MB/s; ${bytes} B/frame; mean ${
        (ok.avg / 1000).toFixed(2)
      } µs`,
      extra: { meanNs: ok.avg, p75Ns: ok.p75, frameBytes: bytes, mbPerS: (perS * bytes) / 1e6 },
    });
  }
  return rows;
}

async function main(): Promise<number> {
  let settings: Settings | null;
  try {
    settings = parseSettings(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\n${USAGE}`);
      return 2;
    }
    throw e;
  }
  if (settings === null) {
    console.log(USAGE);
    return 0;
  }
  if (Deno.build.os !== "linux") {
    console.error("bench: reads CPU and memory from /proc, so it runs on Linux only");
    return 2;
  }
  const machine = readMachine();
  const t0 = performance.now();
  const log = (s: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}`);
  log(
    `${machine.nproc} CPUs (${machine.cpu}), Deno ${machine.deno}, load average ${machine.loadAvgStart}` +
      (settings.quick ? ", quick run" : ""),
  );
  const rows = await bench(settings, machine, log);
  const targets: TargetCheck[] = checkTargets(rows, settings.peers);
  const elapsedS = (performance.now() - t0) / 1000;
  const startedAt = new Date(Date.now() - elapsedS * 1000);
  console.log(
    `\nPortal benchmark ${startedAt.toISOString()} — ${machine.nproc} CPUs, ${machine.cpu}, ` +
      `Deno ${machine.deno}; load average ${machine.loadAvgStart} at start, ${machine.loadAvgEnd} at end` +
      `; ${settings.quick ? "quick" : "full"} run, ${elapsedS.toFixed(0)} s\n`,
  );
  console.log(formatTable(rows));
  console.log(`\n${formatTargets(targets)}`);
  await Deno.mkdir(settings.outDir, { recursive: true });
  const file = `${settings.outDir}/${startedAt.toISOString().replace(/[:.]/g, "-")}.json`;
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        elapsedS,
        machine,
        settings: { ...settings, rows: [...settings.rows] },
        rows,
        targets,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`\nwritten: ${file}`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
