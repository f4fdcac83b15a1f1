/** Row 7: the frame codec alone, with `deno bench --json` on codec_bench.ts. */
import type { BenchRow } from "../context.ts";
import { CODEC_CASES } from "../codec_fixtures.ts";
import type { Row } from "../report.ts";

const HERE = new URL("..", import.meta.url).pathname;

interface BenchJson {
  readonly benches: {
    readonly name: string;
    readonly results: { readonly ok?: { avg: number; p75: number; n: number } }[];
  }[];
}

export const row7: BenchRow = {
  row: 7,
  name: "codec",
  usesCluster: false,
  async run(ctx) {
    ctx.log("row 7 codec (deno bench)");
    let out = "";
    const child = ctx.kids.spawn(
      "deno bench",
      ["bench", "--no-check", "--json", `${HERE}codec_bench.ts`],
      { onLine: (l) => (out += l + "\n") },
    );
    const status = await child.status;
    await ctx.kids.stop(child);
    if (!status.success) {
      throw new Error(`deno bench failed (code ${status.code})\n${child.tail()}`);
    }
    const json = JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1)) as BenchJson;
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
  },
};
