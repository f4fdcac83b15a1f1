/** Row 5: a bare TLS echo server with row 4's frame sizes: the reference for row 4. */
import { startBare } from "../bare.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

/** The sizes a /health request and its answer have on the wire, when row 4 did not run. */
const HEALTH_FRAMES = { req: 150, resp: 190 };

export const row5: BenchRow = {
  row: 5,
  name: "raw TLS echo",
  usesCluster: true,
  async run(ctx) {
    const sizes = ctx.frameSizes ?? HEALTH_FRAMES;
    const echo = await startBare(ctx, "echo", "echo_server.ts");
    try {
      return await loadAtEachC(ctx, {
        row: 5,
        name: this.name,
        script: "tls_load.ts",
        // deno-fmt-ignore
        args: [
          "--mode", "echo", "--port", String(echo.port), "--ca", ctx.caPath,
          "--req-bytes", String(sizes.req), "--resp-bytes", String(sizes.resp),
        ],
        procs: [{ name: "echo", pid: echo.child.pid }],
        note: `${sizes.req} B out, ${sizes.resp} B back`,
      });
    } finally {
      await ctx.kids.stop(echo.child);
    }
  },
};
