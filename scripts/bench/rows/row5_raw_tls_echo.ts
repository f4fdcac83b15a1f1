/** Row 5: a bare TLS echo server with row 4's frame sizes: the reference for row 4. */
import { jsonLine, NODE_START_MS } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const HERE = new URL("..", import.meta.url).pathname;
/** The sizes a /health request and its answer have on the wire, when row 4 did not run. */
const HEALTH_FRAMES = { req: 150, resp: 190 };

export const row5: BenchRow = {
  row: 5,
  name: "raw TLS echo",
  usesCluster: true,
  async run(ctx) {
    const sizes = ctx.frameSizes ?? HEALTH_FRAMES;
    const echo = ctx.kids.spawn("echo", [
      "run",
      "--allow-net",
      "--allow-read",
      `${HERE}echo_server.ts`,
      "--cert",
      `${ctx.dir}/echo.pem`,
      "--key",
      `${ctx.dir}/echo.key`,
    ]);
    try {
      const portLine = await echo.waitFor(
        (l) => typeof jsonLine(l)?.port === "number",
        "the echo port",
        NODE_START_MS,
      );
      return await loadAtEachC(ctx, {
        row: 5,
        name: this.name,
        script: "tls_load.ts",
        // deno-fmt-ignore
        args: [
          "--mode", "echo", "--port", String(jsonLine(portLine)!.port), "--ca", ctx.caPath,
          "--req-bytes", String(sizes.req), "--resp-bytes", String(sizes.resp),
        ],
        procs: [{ name: "echo", pid: echo.pid }],
        note: `${sizes.req} B out, ${sizes.resp} B back`,
      });
    } finally {
      await ctx.kids.stop(echo);
    }
  },
};
