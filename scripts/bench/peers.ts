/**
 * Hub capacity clients (a child of run.ts): N lightweight PORTAL02 nodes that dial one hub,
 * authenticate, then stay idle: they answer the hub's PINGs and, with --ping-ms, send their own
 * as a Portal node does (PORTAL02.md §6: each side pings), each from a random phase. Prints JSON
 * lines on stdout:
 *   {"event":"authenticated","peers":N,"failed":F,"ms":T,"join":{p50Ms,p99Ms,maxMs},...}
 *                                                                once every dial was tried
 *   {"event":"closed","pings":P,"sent":S,"pongs":Q,"lost":L}               after stdin closes
 *
 *   deno run --allow-net --allow-read scripts/bench/peers.ts --port P --ca FILE --key K \
 *     --n 500 --concurrency 64 [--prefix bench-peer] [--ping-ms 10000]
 *
 * `join` is the time from dial to the 200 verdict, per peer: TCP, TLS and the §3 handshake.
 * `pings` are the hub's PINGs the peers answered, `sent` their own, `pongs` the hub's answers.
 */
import { encodeFrame, MsgType } from "../../src/wire/mod.ts";
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
  const pingAt = Deno.args.indexOf("--ping-ms");
  const pingMs = pingAt >= 0 ? Number(Deno.args[pingAt + 1]) : 0;
  if (!Number.isInteger(pingMs) || pingMs < 0) {
    throw new Error(
      `--ping-ms must be a whole number of ms (0: never), got '${Deno.args[pingAt + 1]}'`,
    );
  }
  // Every peer's PING is the same frame: its body only has to come back.
  const ping = encodeFrame(MsgType.Ping, new Uint8Array(8));
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let sent = 0;
  let pongs = 0;
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
            else if (f.type === MsgType.Pong) pongs++;
          }).then(() => {
            if (!stopping) lost++;
          }),
        );
        if (pingMs > 0) {
          const tick = () => {
            timers.delete(timer);
            if (stopping) return;
            client.writer.push(ping);
            sent++;
            timer = setTimeout(tick, pingMs);
            timers.add(timer);
          };
          let timer = setTimeout(tick, Math.random() * pingMs);
          timers.add(timer);
        }
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
  const [pingsAtReady, sentAtReady, pongsAtReady] = [pings, sent, pongs];
  await holdUntilStdinCloses();
  stopping = true;
  for (const t of timers) clearTimeout(t);
  for (const c of clients) c.close();
  await Promise.allSettled(pumps);
  console.log(JSON.stringify({
    event: "closed",
    pings: pings - pingsAtReady,
    sent: sent - sentAtReady,
    pongs: pongs - pongsAtReady,
    lost,
  }));
}

if (import.meta.main) await main();
