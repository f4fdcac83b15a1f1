/** Row 2: HTTP GETs on office-direct routed to factory over its own link. */
import { proc } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const PATH = "/api/node/factory/health";

export const row2: BenchRow = {
  row: 2,
  name: "HTTP direct",
  usesCluster: true,
  ratioTo: 3,
  async run(ctx) {
    const { direct, factory } = await ctx.cluster();
    return await loadAtEachC(ctx, {
      row: 2,
      name: this.name,
      script: "http_load.ts",
      args: ["--port", String(direct.apiPort), "--path", PATH],
      procs: [proc(direct), proc(factory)],
      note: `GET ${PATH}`,
    });
  },
};
