/**
 * Row 9: the floor of row 4's hub. The same load client and requests go through a bare TLS relay
 * (relay_floor.ts: the hub's kind of sockets, bytes forwarded unparsed) to a bare responder
 * answering with row 4's response size. The relay's CPU per request is what two TLS reads and
 * two TLS writes per relayed request cost here; the hub's, beside it, adds Portal's relay work.
 */
import { jsonLine, KEY, NODE_START_MS } from "../cluster.ts";
import type { BenchRow } from "../context.ts";
import { loadAtEachC } from "../load.ts";

const HERE = new URL("..", import.meta.url).pathname;
/** A /health answer's size on the wire, when row 4 did not run. */
const HEALTH_RESPONSE_BYTES = 190;

export const row9: BenchRow = {
  row: 9,
  name: "bare TLS relay (floor of row 4's hub)",
  usesCluster: false,
  async run(ctx) {
    const resp = ctx.frameSizes?.resp ?? HEALTH_RESPONSE_BYTES;
    const script = `${HERE}relay_floor.ts`;
    const flags = ["run", "--allow-net", "--allow-read", "--allow-ffi", script];
    const cert = ["--cert", `${ctx.dir}/echo.pem`, "--key", `${ctx.dir}/echo.key`];
    const port = async (kid: ReturnType<typeof ctx.kids.spawn>, what: string) =>
      jsonLine(
        await kid.waitFor((l) => typeof jsonLine(l)?.port === "number", what, NODE_START_MS),
      )!.port as number;
    const responder = ctx.kids.spawn("responder", [
      ...flags,
      "--mode",
      "responder",
      ...cert,
      "--resp-bytes",
      String(resp),
    ]);
    try {
      const upstream = await port(responder, "the responder's port");
      // deno-fmt-ignore
      const relay = ctx.kids.spawn("relay", [
        ...flags, "--mode", "relay", ...cert, "--ca", ctx.caPath, "--upstream", String(upstream),
      ]);
      try {
        const relayPort = await port(relay, "the relay's port");
        return await loadAtEachC(ctx, {
          row: 9,
          name: this.name,
          script: "tls_load.ts",
          // deno-fmt-ignore
          args: [
            "--mode", "fed", "--port", String(relayPort), "--ca", ctx.caPath, "--key", KEY,
            "--name", "bench", "--dst", "factory", "--path", "/health",
          ],
          procs: [{ name: "relay", pid: relay.pid }, { name: "responder", pid: responder.pid }],
          note: `bench→relay→responder→relay→bench, ${resp} B answers`,
        });
      } finally {
        await ctx.kids.stop(relay);
      }
    } finally {
      await ctx.kids.stop(responder);
    }
  },
};
