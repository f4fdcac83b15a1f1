/** What every benchmark row is given, and what it declares about itself to the runner. */
import type { Children, Cluster } from "./cluster.ts";
import type { Row } from "./report.ts";

/** What a run does; fixed by the command line and --quick. */
export interface Settings {
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

/** Sizes of a /health request and its answer on the wire, in bytes. */
export interface FrameSizes {
  readonly req: number;
  readonly resp: number;
}

/** Everything a row runs with. */
export interface RowContext {
  readonly settings: Settings;
  /** Progress on stderr, with the time since the start. */
  readonly log: (s: string) => void;
  readonly kids: Children;
  /** The run's directory: certificates (`ca.pem`, one pair per node) and node.ini files. */
  readonly dir: string;
  readonly caPath: string;
  /** Clock ticks per second of /proc/PID/stat. */
  readonly ticksPerS: number;
  /** True once the run is so far along that further load measurements are skipped. */
  late(): boolean;
  /** The four-node cluster of rows 1–5, started by the first row that asks. */
  cluster(): Promise<Cluster>;
  /** Frame sizes row 4 saw, for row 5 to echo; null until row 4 ran. */
  frameSizes: FrameSizes | null;
}

/** One row of the table: its number, what it measures, and how. */
export interface BenchRow {
  /** 1–8, as in docs/performance.md. */
  readonly row: number;
  readonly name: string;
  /** Runs only when --rows names it. Default false. */
  readonly optIn?: boolean;
  /** Runs on the shared cluster, which is stopped after the last such row. */
  readonly usesCluster: boolean;
  /** Throughput is also given as a fraction of this row's at the same C. */
  readonly ratioTo?: number;
  run(ctx: RowContext): Promise<Row[]>;
}
