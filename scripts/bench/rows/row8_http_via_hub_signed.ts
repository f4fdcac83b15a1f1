/**
 * Row 8: row 1 with every request signed (PORTAL02.md §11): office has `sign = all`, factory
 * `require_signed = all`, so each GET carries a signature made at office and checked at factory.
 * Its own three nodes, stopped at the end of the row; the ratio is to row 1 at the same C.
 * Run only when asked (`--rows 1,8`): it adds about half a minute.
 */
import { proc, startSignedCluster } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const PATH = "/api/node/factory/health";

export const row8: BenchRow = {
  row: 8,
  name: "HTTP via hub, signed",
  usesCluster: false,
  optIn: true,
  ratioTo: 1,
  async run(ctx) {
    const { office, hub, factory } = await startSignedCluster(ctx.kids, ctx.log);
    try {
      return await loadAtEachC(ctx, {
        row: 8,
        name: this.name,
        script: "http_load.ts",
        args: ["--port", String(office.apiPort), "--path", PATH],
        procs: [proc(office), proc(hub), proc(factory)],
        note: `GET ${PATH}, require_signed = all`,
      });
    } finally {
      for (const n of [office, factory, hub]) await ctx.kids.stop(n.child);
    }
  },
};
