/** Row 1: HTTP GETs on office routed to factory through the hub. */
import { proc } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const PATH = "/api/node/factory/health";

export const row1: BenchRow = {
  row: 1,
  name: "HTTP via hub",
  usesCluster: true,
  ratioTo: 3,
  async run(ctx) {
    const { office, hub, factory } = await ctx.cluster();
    return await loadAtEachC(ctx, {
      row: 1,
      name: this.name,
      script: "http_load.ts",
      args: ["--port", String(office.apiPort), "--path", PATH],
      procs: [proc(office), proc(hub), proc(factory)],
      note: `GET ${PATH}`,
    });
  },
};
