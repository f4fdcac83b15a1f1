/**
 * Hub capacity clients (a child of run.ts): N lightweight PORTAL02 nodes that dial one hub,
 * authenticate, then stay idle answering PINGs. Prints JSON lines on stdout:
 *   {"event":"authenticated","peers":N,"failed":F,"ms":T,"join":{p50Ms,p99Ms,maxMs},...}
 *                                                                once every dial was tried
 *   {"event":"closed","pings":P,"lost":L}                                  after stdin closes
 *
 *   deno run --allow-net --allow-read scripts/bench/peers.ts --port P --ca FILE --key K \
 *     --n 500 --concurrency 64 [--prefix bench-peer]
 *
 * `join` is the time from dial to the 200 verdict, per peer: TCP, TLS and the §3 handshake.
 */
import { MsgType } from "../../src/wire/mod.ts";
import { FedClient } from "./fed_client.ts";
import { holdUntilStdinCloses, Latencies, positiveInt, requireArgs } from "./stats.ts";

/** Read buffer of each idle peer: PINGs are 19 bytes, so 64 KiB each would only cost memory. */
const PEER_READ_BUFFER = 2048;

async function main(): Promise<void> {
  const a = requireArgs(Deno.args, ["port", "ca", "key", "n", "concurrency"]);
  const port = positiveInt("port", a.port);
  const n = positiveInt("n", a.n);
  const concurrency = positiveInt("concurrency", a.concurrency);
  const ca = await Deno.readTextFile(a.ca);
  const prefixAt = Deno.args.indexOf("--prefix");
  const prefix = prefixAt >= 0 ? Deno.args[prefixAt + 1] : "bench-peer";
  const joins = new Latencies();
  const clients: FedClient[] = [];
  const pumps: Promise<unknown>[] = [];
  let failed = 0;
  let firstError: string | null = null;
  let pings = 0;
  let lost = 0;
  let stopping = false;
  let next = 0;
  const width = String(n).length;
  const t0 = performance.now();
  const dialer = async () => {
    while (next < n) {
      const i = next++;
      const name = `${prefix}-${String(i).padStart(width, "0")}`;
      try {
        const t = performance.now();
        const client = await FedClient.join(port, ca, name, a.key, PEER_READ_BUFFER);
        joins.add(performance.now() - t);
        clients.push(client);
        pumps.push(
          client.pump((f) => {
            if (f.type === MsgType.Ping) pings++;
          }).then(() => {
            if (!stopping) lost++;
          }),
        );
      } catch (e) {
        failed++;
        firstError ??= `${name}: ${(e as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, dialer));
  const ms = performance.now() - t0;
  console.log(JSON.stringify({
    event: "authenticated",
    peers: clients.length,
    failed,
    ms,
    join: joins.summary(),
    firstError,
  }));

  // Idle until the orchestrator closes our stdin; PINGs are answered by each pump meanwhile.
  const pingsAtReady = pings;
  await holdUntilStdinCloses();
  stopping = true;
  for (const c of clients) c.close();
  await Promise.allSettled(pumps);
  console.log(JSON.stringify({ event: "closed", pings: pings - pingsAtReady, lost }));
}

if (import.meta.main) await main();
