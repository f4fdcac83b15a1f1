/** Row 4: PORTAL02 requests from a bench node through the hub to factory, no HTTP. */
import { KEY, proc } from "../cluster.ts";
import type { BenchRow, RowContext } from "../context.ts";
import { loadAtEachC } from "../load.ts";

/** Row 4's load: node `bench` joins the node at `port` and asks factory for /health. */
export function row4LoadArgs(ctx: RowContext, port: number): string[] {
  // deno-fmt-ignore
  return [
    "--mode", "fed", "--port", String(port), "--ca", ctx.caPath, "--key", KEY,
    "--name", "bench", "--dst", "factory", "--path", "/health",
  ];
}

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
      args: row4LoadArgs(ctx, hub.fedPort!),
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
