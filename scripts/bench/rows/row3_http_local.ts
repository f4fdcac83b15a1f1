/** Row 3: HTTP GETs answered by office itself: the reference for rows 1 and 2. */
import { proc } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const PATH = "/api/health";

export const row3: BenchRow = {
  row: 3,
  name: "HTTP local",
  usesCluster: true,
  async run(ctx) {
    const { office } = await ctx.cluster();
    return await loadAtEachC(ctx, {
      row: 3,
      name: this.name,
      script: "http_load.ts",
      args: ["--port", String(office.apiPort), "--path", PATH],
      procs: [proc(office)],
      note: `GET ${PATH}`,
    });
  },
};
