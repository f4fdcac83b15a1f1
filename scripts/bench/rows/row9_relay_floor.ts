/**
 * Row 9: the floor of row 4's hub. The same load client and requests go through a bare TLS relay
 * (relay_floor.ts: the hub's kind of sockets, bytes forwarded unparsed) to a bare responder
 * answering with row 4's response size. The relay's CPU per request is what two TLS reads and
 * two TLS writes per relayed request cost here; the hub's, beside it, adds Portal's relay work.
 */
import { startBare } from "../bare.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";
import { row4LoadArgs } from "./row4_portal02_via_hub.ts";

/** A /health answer's size on the wire, when row 4 did not run. */
const HEALTH_RESPONSE_BYTES = 190;
/** relay_floor.ts sets TCP_NODELAY on its listening socket through glibc, as Portal does. */
const FFI = ["--allow-ffi"];

export const row9: BenchRow = {
  row: 9,
  name: "bare TLS relay (floor of row 4's hub)",
  usesCluster: false,
  async run(ctx) {
    const resp = ctx.frameSizes?.resp ?? HEALTH_RESPONSE_BYTES;
    const responder = await startBare(
      ctx,
      "responder",
      "relay_floor.ts",
      ["--mode", "responder", "--resp-bytes", String(resp)],
      FFI,
    );
    try {
      const relay = await startBare(
        ctx,
        "relay",
        "relay_floor.ts",
        ["--mode", "relay", "--ca", ctx.caPath, "--upstream", String(responder.port)],
        FFI,
      );
      try {
        return await loadAtEachC(ctx, {
          row: 9,
          name: this.name,
          script: "tls_load.ts",
          args: row4LoadArgs(ctx, relay.port),
          procs: [
            { name: "relay", pid: relay.child.pid },
            { name: "responder", pid: responder.child.pid },
          ],
          note: `bench→relay→responder→relay→bench, ${resp} B answers`,
        });
      } finally {
        await ctx.kids.stop(relay.child);
      }
    } finally {
      await ctx.kids.stop(responder.child);
    }
  },
};
