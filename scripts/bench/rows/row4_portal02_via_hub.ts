/** Row 4: PORTAL02 requests from a bench node through the hub to factory, no HTTP. */
import { KEY, proc } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

export const row4: BenchRow = {
  row: 4,
  name: "PORTAL02 via hub",
  usesCluster: true,
  ratioTo: 5,
  async run(ctx) {
    const { hub, factory } = await ctx.cluster();
    return await loadAtEachC(ctx, {
      row: 4,
      name: this.name,
      script: "tls_load.ts",
      // deno-fmt-ignore
      args: [
        "--mode", "fed", "--port", String(hub.fedPort), "--ca", ctx.caPath, "--key", KEY,
        "--name", "bench", "--dst", "factory", "--path", "/health",
      ],
      procs: [proc(hub), proc(factory)],
      note: "bench→hub→factory→hub→bench",
      measured: (r) => {
        ctx.frameSizes = {
          req: Number(r.extra.reqFrameBytes),
          resp: Number(r.extra.respFrameBytes),
        };
      },
    });
  },
};
