/** Load rows: a load generator child per concurrency, measured with the processes it loads. */
import type { Child } from "../../tests/kit/child.ts";
import { jsonLine } from "./cluster.ts";
import type { RowContext } from "./context.ts";
import { UsageWindow } from "./proc.ts";
import type { Row, RowProc } from "./report.ts";
import { type LoadResult, STALL_MS } from "./stats.ts";

const HERE = new URL(".", import.meta.url).pathname;

/** A process whose CPU and memory a row reports. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
}

interface Measured {
  readonly result: LoadResult;
  readonly procs: RowProc[];
}

/** Runs a load script; CPU and peak RSS of `procs` (and the load itself) cover the measured part. */
async function runLoad(
  ctx: RowContext,
  script: string,
  args: string[],
  procs: readonly Proc[],
): Promise<Measured> {
  let window: UsageWindow | null = null;
  let usage: ReturnType<UsageWindow["end"]> | null = null;
  let result: LoadResult | null = null;
  const child: Child = ctx.kids.spawn(
    script,
    ["run", "--allow-net", "--allow-read", `${HERE}${script}`, ...args, "--hold"],
    {
      stdin: "piped",
      onLine: (line) => {
        const j = jsonLine(line);
        if (j?.event === "measure") {
          window = new UsageWindow([...procs, { name: "load", pid: child.pid }], ctx.ticksPerS);
        } else if (j && typeof j.completed === "number") {
          usage = window?.end() ?? null;
          result = j as unknown as LoadResult;
        }
      },
    },
  );
  const guardMs = ctx.settings.timeMs + 3000 + 5000 + 15_000;
  try {
    await child.waitFor(
      (l) => typeof jsonLine(l)?.completed === "number",
      "the result line",
      guardMs,
    );
  } finally {
    await child.closeStdin();
    await ctx.kids.stop(child);
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

function loadRow(row: number, name: string, c: number, m: Measured, notes = ""): Row {
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

/** A row that was not measured, and why. */
export function skippedRow(row: number, name: string, c: number | null, why: string): Row {
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

/** What one load row measures: its generator and the processes it loads. */
export interface LoadSpec {
  readonly row: number;
  readonly name: string;
  /** The generator, in scripts/bench/. */
  readonly script: "http_load.ts" | "tls_load.ts";
  readonly args: readonly string[];
  readonly procs: readonly Proc[];
  readonly note: string;
  /** Sees each measurement (row 4 reads its frame sizes). */
  readonly measured?: (result: LoadResult) => void;
}

/** One row per C of the settings (skipped when out of time), adding the C/count/time flags. */
export async function loadAtEachC(ctx: RowContext, spec: LoadSpec): Promise<Row[]> {
  const s = ctx.settings;
  const rows: Row[] = [];
  for (const c of s.cs) {
    if (ctx.late()) {
      rows.push(skippedRow(spec.row, spec.name, c, "out of time"));
      continue;
    }
    ctx.log(`row ${spec.row} ${spec.name} C=${c}`);
    const flags = ["--c", c, "--n", s.n, "--time-ms", s.timeMs, "--warmup", s.warmup];
    const m = await runLoad(ctx, spec.script, [...spec.args, ...flags.map(String)], spec.procs);
    spec.measured?.(m.result);
    rows.push(loadRow(spec.row, spec.name, c, m, spec.note));
  }
  return rows;
}
