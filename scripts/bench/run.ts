/**
 * `deno task bench`: Portal's performance benchmark. Every node is its own `main.ts` process
 * on 127.0.0.1 with TLS and real certificates; load comes from separate child processes.
 * Prints one table and the target checks, and writes the same rows as JSON to
 * bench/results/<timestamp>.json. Rows are described in docs/performance.md; each is one file
 * in rows/.
 *
 *   deno task bench [--quick] [--peers N] [--c 1,16,64] [--rows 1,2,3,4,5,6,7,9] [--out DIR]
 *
 * Exit status: 0 every target that was run passed, 1 a target failed (or the run broke),
 * 2 bad arguments.
 */
import { parseOptions, UsageError } from "../../src/cli/args.ts";
import { makeCertDir } from "../../tests/kit/certs.ts";
import { Children, type Cluster, startCluster } from "./cluster.ts";
import type { BenchRow, RowContext, Settings } from "./context.ts";
import { clockTicksPerSecond, machineBusyTicks, ownTicksWithChildren } from "./proc.ts";
import { checkTargets, formatTable, formatTargets, type Row } from "./report.ts";
import { row1 } from "./rows/row1_http_via_hub.ts";
import { row2 } from "./rows/row2_http_direct.ts";
import { row3 } from "./rows/row3_http_local.ts";
import { row4 } from "./rows/row4_portal02_via_hub.ts";
import { row5 } from "./rows/row5_raw_tls_echo.ts";
import { row6 } from "./rows/row6_hub_capacity.ts";
import { row7 } from "./rows/row7_codec.ts";
import { row8 } from "./rows/row8_http_via_hub_signed.ts";
import { row9 } from "./rows/row9_relay_floor.ts";

/** Every row, in the order they run. */
export const ROWS: readonly BenchRow[] = [row1, row2, row3, row4, row5, row9, row6, row7, row8];

/** Exit statuses of the benchmark. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

const USAGE = `usage: deno task bench [options]
  --quick          about 30 s instead of 60-90 s: fewer requests, shorter bounds
  --peers N        idle peers for the hub capacity row (default 10000; 500 with --quick)
  --c LIST         concurrencies for rows 1-5, 8 and 9 (default 1,16,64)
  --rows LIST      rows to run (default 1,2,3,4,5,6,7,9; row 8, row 1 with every
                   request signed and checked, runs when named: --rows 1,8)
  --out DIR        where the JSON goes (default bench/results)
  --cpu-prof DIR   run every node with V8's CPU profiler; one .cpuprofile per node
                   lands in DIR/<node>/ when it stops (summarise: profile_top.ts)
  --help
Exits 1 when a target fails.`;

const REPO = new URL("../../", import.meta.url).pathname;
/**
 * Time left for rows 6 and 7 when deciding to skip further load measurements: row 6 joins
 * 10 000 peers twice in a full run, 500 once in a quick one.
 */
const LATE_ROWS_RESERVE_MS = { full: 100_000, quick: 35_000 } as const;
/** Other processes using this much of one CPU on average make the machine "busy". */
const BUSY_OTHER_CPUS = 0.25;
/** Idle peers the capacity row opens at most: each is a descriptor in the hub and in peers.ts. */
const MAX_PEERS = 16_000;

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
  const { values } = parseOptions(argv, {
    quick: { type: "boolean" },
    peers: { type: "string", value: "N" },
    c: { type: "string", value: "N[,N...]" },
    rows: { type: "string", value: "N[,N...]" },
    out: { type: "string", value: "DIR" },
    "cpu-prof": { type: "string", value: "DIR" },
    help: { type: "boolean", short: "h" },
  }, { command: "deno task bench" });
  if (values.help) return null;
  const quick = values.quick ?? false;
  const peers = values.peers === undefined ? (quick ? 500 : 10_000) : Number(values.peers);
  if (!Number.isSafeInteger(peers) || peers <= 0) {
    throw new UsageError(`--peers must be a positive integer, got '${values.peers}'`);
  }
  if (peers > MAX_PEERS) {
    throw new UsageError(
      `--peers ${peers} is more than this benchmark opens (at most ${MAX_PEERS})`,
    );
  }
  const cs = values.c === undefined ? [1, 16, 64] : intList("c", values.c);
  if (cs.some((c) => c > 1024)) throw new UsageError("--c values must be at most 1024");
  const all = ROWS.map((r) => r.row);
  const byDefault = ROWS.filter((r) => !r.optIn).map((r) => r.row);
  const rows = new Set(values.rows === undefined ? byDefault : intList("rows", values.rows));
  for (const r of rows) {
    if (!all.includes(r)) throw new UsageError(`--rows: there is no row ${r} (1-${all.length})`);
  }
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
    deadlineMs: quick ? 75_000 : 300_000,
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
  /** CPUs' worth of time other processes used during the run, on average. */
  otherCpus: number | null;
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
    otherCpus: null,
  };
}

function loadAvg(): string {
  return Deno.readTextFileSync("/proc/loadavg").split(" ").slice(0, 3).join(" ");
}

/**
 * Why the machine counts as busy, or null: other processes used a quarter of a CPU or more
 * during the run. Measured rather than read from the load average, which lags by a minute and
 * so also counts work that ended before the run began.
 */
function busyNote(m: Machine): string | null {
  const others = m.otherCpus ?? 0;
  if (others < BUSY_OTHER_CPUS) return null;
  return `the machine was busy: other processes used ${others.toFixed(2)} of ${m.nproc} CPUs ` +
    `during the run (load average ${m.loadAvgStart} at start, ${m.loadAvgEnd} at end); ` +
    "figures may be low because of that (run it again on a quiet machine)";
}

// ---- the run ---------------------------------------------------------------

/** Runs the selected rows; the cluster lives from the first row that needs it to the last. */
async function bench(settings: Settings, log: (s: string) => void): Promise<Row[]> {
  const started = performance.now();
  const selected = ROWS.filter((r) => settings.rows.has(r.row));
  const lastClusterRow = selected.findLast((r) => r.usesCluster);
  const dir = await Deno.makeTempDir({ prefix: "portal-bench-" });
  const kids = new Children(dir, settings.cpuProfDir);
  let cluster: Promise<Cluster> | null = null;
  const ctx: RowContext = {
    settings,
    log,
    kids,
    dir,
    caPath: `${dir}/ca.pem`,
    ticksPerS: await clockTicksPerSecond(),
    late: () =>
      performance.now() - started >
        settings.deadlineMs - LATE_ROWS_RESERVE_MS[settings.quick ? "quick" : "full"],
    cluster: () => (cluster ??= startCluster(kids, log)),
    frameSizes: null,
  };
  const onSignal = () => {
    log("interrupted: stopping every child");
    kids.stopAll().finally(() => {
      Deno.removeSync(dir, { recursive: true });
      Deno.exit(130);
    });
  };
  Deno.addSignalListener("SIGINT", onSignal);
  const rows: Row[] = [];
  try {
    await makeCertDir(["hub", "factory", "office", "office-direct", "echo"], dir);
    for (const row of selected) {
      rows.push(...await row.run(ctx));
      if (row === lastClusterRow && cluster !== null) {
        log("stopping the cluster");
        await kids.stopAll();
      }
    }
  } finally {
    Deno.removeSignalListener("SIGINT", onSignal);
    await kids.stopAll();
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
  for (const row of selected) if (row.ratioTo !== undefined) ratioTo(rows, row.row, row.ratioTo);
  return rows;
}

/** Gives the rows of `of` a ratio to row `base` at the same C. */
function ratioTo(rows: Row[], of: number, base: number): void {
  for (const [i, r] of rows.entries()) {
    if (r.row !== of) continue;
    const ref = rows.find((x) => x.row === base && x.c === r.c);
    if (ref?.rate && r.rate !== null) {
      rows[i] = { ...r, ratio: { of: `row ${base}`, value: r.rate / ref.rate } };
    }
  }
}

async function main(): Promise<number> {
  let settings: Settings | null;
  try {
    settings = parseSettings(Deno.args);
  } catch (e) {
    if (e instanceof UsageError) {
      console.error(`bench: ${e.message}\n${USAGE}`);
      return EXIT.usage;
    }
    throw e;
  }
  if (settings === null) {
    console.log(USAGE);
    return EXIT.ok;
  }
  if (Deno.build.os !== "linux") {
    console.error("bench: reads CPU and memory from /proc, so it runs on Linux only");
    return EXIT.usage;
  }
  const machine = readMachine();
  const t0 = performance.now();
  const busy0 = machineBusyTicks();
  const own0 = ownTicksWithChildren();
  const log = (s: string) =>
    console.error(`[${((performance.now() - t0) / 1000).toFixed(1).padStart(5)} s] ${s}`);
  log(
    `${machine.nproc} CPUs (${machine.cpu}), Deno ${machine.deno}, load average ${machine.loadAvgStart}` +
      (settings.quick ? ", quick run" : ""),
  );
  const rows = await bench(settings, log);
  const elapsedS = (performance.now() - t0) / 1000;
  machine.loadAvgEnd = loadAvg();
  const others = (machineBusyTicks() - busy0) - (ownTicksWithChildren() - own0);
  machine.otherCpus = Math.max(0, others / (await clockTicksPerSecond()) / elapsedS);
  const targets = checkTargets(rows, settings.peers);
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
  const failed = targets.filter((t) => t.pass === false).length;
  const busy = busyNote(machine);
  if (failed > 0) {
    console.log(
      `\nbench: ${failed} target${failed === 1 ? "" : "s"} failed` + (busy ? `; ${busy}` : ""),
    );
    return EXIT.failed;
  }
  if (busy) console.log(`\nbench: ${busy}`);
  return EXIT.ok;
}

if (import.meta.main) Deno.exit(await main());
