/**
 * Pipelined load over one TLS connection (a child of run.ts), C requests outstanding,
 * closed loop, fixed count with a time bound. Prints one JSON LoadResult line.
 *
 *   fed:  joins the hub as a node and sends PORTAL02 REQUESTs for another node
 *         --mode fed --port P --ca FILE --key K --name bench --dst factory --path /health
 *   echo: the floor; speaks to echo_server.ts with fixed request and response sizes
 *         --mode echo --port P --ca FILE --req-bytes R --resp-bytes S
 *   both: --c C --n N --time-ms MS --warmup W
 */
import { decodeResponse, encodeFrame, encodeJson, MsgType } from "../../src/wire/mod.ts";
import { FedClient } from "./fed_client.ts";
import {
  Budget,
  holdUntilStdinCloses,
  Latencies,
  type LoadResult,
  loadResult,
  positiveInt,
  requireArgs,
} from "./stats.ts";
import { CoalescingWriter, dialTls } from "./tls.ts";

/** How long a run waits for answers still outstanding after its time bound, before counting them lost. */
const DRAIN_GRACE_MS = 5000;

/** Keeps C requests in flight: each completion starts the next one until the budget is spent. */
class ClosedLoop {
  readonly #c: number;
  readonly #send: (t0: number) => void;
  #outstanding = 0;
  #phase: {
    budget: Budget;
    lat: Latencies | null;
    errors: number;
    firstError: string | null;
    finish: () => void;
  } | null = null;

  /** `send` starts one request and must later call {@link complete} with the same t0. */
  constructor(c: number, send: (t0: number) => void) {
    this.#c = c;
    this.#send = send;
  }

  /** Runs `count` requests (or until `timeMs`); `record` false for a warm-up. */
  async run(count: number, timeMs: number, record: boolean) {
    const budget = new Budget(count, timeMs);
    const done = Promise.withResolvers<void>();
    const phase = {
      budget,
      lat: record ? new Latencies() : null,
      errors: 0,
      firstError: null as string | null,
      finish: () => done.resolve(),
    };
    this.#phase = phase;
    const t0 = performance.now();
    for (let i = 0; i < this.#c && budget.take(); i++) this.#start();
    if (this.#outstanding === 0) done.resolve();
    const guard = setTimeout(() => done.resolve(), timeMs + DRAIN_GRACE_MS);
    await done.promise;
    clearTimeout(guard);
    const durationS = (performance.now() - t0) / 1000;
    const lost = this.#outstanding;
    if (lost > 0) {
      phase.firstError ??= `${lost} requests unanswered ${DRAIN_GRACE_MS} ms after the time bound`;
    }
    this.#phase = null;
    return { ...phase, errors: phase.errors + lost, durationS, timeBound: budget.expired };
  }

  /** One request finished (ok or not). */
  complete(t0: number, ok: boolean, error?: string): void {
    const phase = this.#phase;
    if (phase === null) return;
    this.#outstanding--;
    if (ok) phase.lat?.add(performance.now() - t0);
    else {
      phase.errors++;
      phase.firstError ??= error ?? "failed";
    }
    if (phase.budget.take()) this.#start();
    else if (this.#outstanding === 0) phase.finish();
  }

  /** The connection is gone: nothing outstanding will complete. */
  abort(why: string): void {
    const phase = this.#phase;
    if (phase === null) return;
    phase.firstError ??= why;
    phase.finish();
  }

  #start(): void {
    this.#outstanding++;
    this.#send(performance.now());
  }
}

interface Common {
  c: number;
  n: number;
  timeMs: number;
  warmup: number;
}

async function measure(
  loop: ClosedLoop,
  o: Common,
  extra: () => Record<string, unknown>,
): Promise<LoadResult> {
  if (o.warmup > 0) await loop.run(Math.max(o.warmup, o.c), Math.min(o.timeMs, 3000), false);
  // Tells run.ts to start its CPU and memory window now, after the warm-up.
  console.log(JSON.stringify({ event: "measure" }));
  const r = await loop.run(o.n, o.timeMs, true);
  return loadResult(r.lat!, r.errors, r.durationS, r.timeBound, {
    firstError: r.firstError,
    ...extra(),
  });
}

async function fed(args: string[], o: Common): Promise<LoadResult> {
  const a = requireArgs(args, ["port", "ca", "key", "name", "dst", "path"]);
  const ca = await Deno.readTextFile(a.ca);
  const client = await FedClient.join(positiveInt("port", a.port), ca, a.name, a.key);
  const sentAt = new Map<number, number>();
  let nextId = 1;
  let reqBytes = 0;
  let respBytes = 0;
  let sent = 0;
  let received = 0;
  const loop = new ClosedLoop(o.c, (t0) => {
    const id = nextId++;
    sentAt.set(id, t0);
    const frame = encodeFrame(
      MsgType.Request,
      encodeJson({
        id,
        src: a.name,
        dst: a.dst,
        method: "GET",
        path: a.path,
        args: {},
        ttl: 8,
        timeout_ms: 10_000,
      }),
    );
    reqBytes += frame.byteLength;
    sent++;
    client.writer.push(frame);
  });
  const reading = client.pump((f) => {
    if (f.type !== MsgType.Response) return;
    const res = decodeResponse(f.body);
    const t0 = sentAt.get(res.id);
    if (t0 === undefined) return;
    sentAt.delete(res.id);
    respBytes += 11 + f.body.byteLength;
    received++;
    loop.complete(t0, res.status === 200, `status ${res.status}: ${res.error ?? ""}`);
  }).then((why) => loop.abort(`connection lost: ${why}`));
  const result = await measure(loop, o, () => ({
    reqFrameBytes: Math.round(reqBytes / Math.max(1, sent)),
    respFrameBytes: Math.round(respBytes / Math.max(1, received)),
    framesPerWrite: sent / Math.max(1, client.writer.writes),
  }));
  client.close();
  await reading;
  return result;
}

async function echo(args: string[], o: Common): Promise<LoadResult> {
  const a = requireArgs(args, ["port", "ca", "req-bytes", "resp-bytes"]);
  const reqBytes = positiveInt("req-bytes", a["req-bytes"]);
  const respBytes = positiveInt("resp-bytes", a["resp-bytes"]);
  const conn = await dialTls(positiveInt("port", a.port), await Deno.readTextFile(a.ca));
  const writer = new CoalescingWriter(conn);
  const preamble = new Uint8Array(8);
  new DataView(preamble.buffer).setUint32(0, reqBytes);
  new DataView(preamble.buffer).setUint32(4, respBytes);
  writer.push(preamble);
  // Responses come back in order, so send times form a FIFO.
  const fifo: number[] = [];
  let sent = 0;
  let head = 0;
  const message = new Uint8Array(reqBytes).fill(0x61);
  const loop = new ClosedLoop(o.c, (t0) => {
    fifo.push(t0);
    sent++;
    writer.push(message);
  });
  const reading = (async () => {
    const buf = new Uint8Array(64 * 1024);
    let pending = 0;
    for (;;) {
      let n: number | null;
      try {
        n = await conn.read(buf);
      } catch (e) {
        return (e as Error).message;
      }
      if (n === null) return "closed by the remote side";
      pending += n;
      while (pending >= respBytes) {
        pending -= respBytes;
        const t0 = fifo[head++];
        if (head > 4096 && head * 2 > fifo.length) {
          fifo.splice(0, head);
          head = 0;
        }
        loop.complete(t0, true);
      }
    }
  })().then((why) => loop.abort(`connection lost: ${why}`));
  const result = await measure(loop, o, () => ({
    reqFrameBytes: reqBytes,
    respFrameBytes: respBytes,
    framesPerWrite: sent / Math.max(1, writer.writes),
  }));
  try {
    conn.close();
  } catch {
    // already closed
  }
  await reading;
  return result;
}

async function main(): Promise<void> {
  const args = Deno.args;
  const a = requireArgs(args, ["mode", "c", "n", "time-ms", "warmup"]);
  const o: Common = {
    c: positiveInt("c", a.c),
    n: positiveInt("n", a.n),
    timeMs: positiveInt("time-ms", a["time-ms"]),
    warmup: Number(a.warmup),
  };
  let result: LoadResult;
  if (a.mode === "fed") result = await fed(args, o);
  else if (a.mode === "echo") result = await echo(args, o);
  else throw new Error(`--mode must be fed or echo, got '${a.mode}'`);
  console.log(JSON.stringify(result));
}

if (import.meta.main) {
  await main();
  // run.ts reads this process's /proc entry after the result line, so it stays until released.
  if (Deno.args.includes("--hold")) await holdUntilStdinCloses();
}
