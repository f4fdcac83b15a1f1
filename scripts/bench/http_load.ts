/**
 * HTTP load generator (a child of run.ts): C keep-alive HTTP/1.1 connections over plain
 * Deno.connect with Nagle off, each with one request in flight (closed loop), until a fixed
 * number of requests is answered or the time bound passes. Prints one JSON LoadResult line.
 *
 *   deno run --allow-net scripts/bench/http_load.ts --port P --path /api/health \
 *     --c 16 --n 20000 --time-ms 8000 --warmup 500
 *
 * Raw HTTP rather than fetch: fetch's pool decides itself how many sockets it opens and
 * when it reuses them, so C would not be the number of connections the server sees.
 */
import {
  Budget,
  holdUntilStdinCloses,
  Latencies,
  loadResult,
  positiveInt,
  requireArgs,
} from "./stats.ts";

const CR = 13;
const LF = 10;
const latin1 = new TextDecoder("latin1");

/** Why a response could not be read; the connection is then reopened. */
class HttpReadError extends Error {
  override readonly name = "HttpReadError";
}

/** One keep-alive connection that sends GETs and reads whole responses. */
class HttpConn {
  readonly #conn: Deno.TcpConn;
  #buf = new Uint8Array(16 * 1024);
  #start = 0;
  #end = 0;

  private constructor(conn: Deno.TcpConn) {
    this.#conn = conn;
  }

  static async open(port: number): Promise<HttpConn> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new HttpConn(conn);
  }

  close(): void {
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  /** Sends `request` and reads the whole response; returns its status and whether to reconnect. */
  async get(request: Uint8Array): Promise<{ status: number; close: boolean; body: string }> {
    let off = 0;
    while (off < request.byteLength) off += await this.#conn.write(request.subarray(off));
    const headEnd = await this.#findHeaderEnd();
    const head = latin1.decode(this.#buf.subarray(this.#start, headEnd));
    this.#start = headEnd + 4;
    const status = Number(head.slice(9, 12));
    if (!head.startsWith("HTTP/1.") || !Number.isInteger(status)) {
      throw new HttpReadError(`not an HTTP/1.x status line: ${head.slice(0, 40)}`);
    }
    const headers = head.toLowerCase();
    const close = /\r\nconnection:\s*close/.test(headers);
    let body: Uint8Array;
    const length = headers.match(/\r\ncontent-length:\s*(\d+)/);
    if (length) {
      body = await this.#take(Number(length[1]));
    } else if (/\r\ntransfer-encoding:\s*chunked/.test(headers)) {
      body = await this.#chunked();
    } else {
      throw new HttpReadError("response has neither content-length nor chunked encoding");
    }
    // Only error bodies are kept, for the report; decoding every body would load the client.
    return { status, close, body: status === 200 ? "" : latin1.decode(body) };
  }

  /** Reads until "\r\n\r\n" is buffered; returns its offset. */
  async #findHeaderEnd(): Promise<number> {
    let from = this.#start;
    for (;;) {
      const b = this.#buf;
      for (let i = from; i + 3 < this.#end; i++) {
        if (b[i] === CR && b[i + 1] === LF && b[i + 2] === CR && b[i + 3] === LF) return i;
      }
      // Offsets relative to #start survive the compaction #fill may do.
      const scanned = Math.max(0, this.#end - this.#start - 3);
      await this.#fill();
      from = this.#start + scanned;
    }
  }

  /** Reads one CRLF-terminated line (for chunk sizes and trailers). */
  async #line(): Promise<string> {
    let from = this.#start;
    for (;;) {
      for (let i = from; i + 1 < this.#end; i++) {
        if (this.#buf[i] === CR && this.#buf[i + 1] === LF) {
          const text = latin1.decode(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return text;
        }
      }
      const scanned = Math.max(0, this.#end - this.#start - 1);
      await this.#fill();
      from = this.#start + scanned;
    }
  }

  async #chunked(): Promise<Uint8Array> {
    const parts: Uint8Array[] = [];
    for (;;) {
      const size = parseInt((await this.#line()).split(";")[0], 16);
      if (!Number.isInteger(size) || size < 0) throw new HttpReadError("bad chunk size");
      if (size === 0) {
        while ((await this.#line()) !== "") {
          // trailers: skipped
        }
        break;
      }
      parts.push(await this.#take(size));
      await this.#take(2);
    }
    const out = new Uint8Array(parts.reduce((s, p) => s + p.byteLength, 0));
    let off = 0;
    for (const p of parts) {
      out.set(p, off);
      off += p.byteLength;
    }
    return out;
  }

  async #take(n: number): Promise<Uint8Array> {
    while (this.#end - this.#start < n) await this.#fill();
    const out = this.#buf.subarray(this.#start, this.#start + n);
    this.#start += n;
    return out;
  }

  /** Reads more bytes, compacting or growing the buffer first. */
  async #fill(): Promise<void> {
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.byteLength) {
      const live = this.#end - this.#start;
      if (live * 2 > this.#buf.byteLength) {
        const next = new Uint8Array(this.#buf.byteLength * 2);
        next.set(this.#buf.subarray(this.#start, this.#end));
        this.#buf = next;
      } else {
        this.#buf.copyWithin(0, this.#start, this.#end);
      }
      this.#start = 0;
      this.#end = live;
    }
    const n = await this.#conn.read(this.#buf.subarray(this.#end));
    if (n === null) throw new HttpReadError("connection closed by the server");
    this.#end += n;
  }
}

interface RunStats {
  lat: Latencies | null;
  errors: number;
  statuses: Record<string, number>;
  firstError: string | null;
}

async function worker(
  port: number,
  request: Uint8Array,
  budget: Budget,
  stats: RunStats,
  conns: HttpConn[],
  slot: number,
): Promise<void> {
  while (budget.take()) {
    const t0 = performance.now();
    try {
      conns[slot] ??= await HttpConn.open(port);
      const res = await conns[slot].get(request);
      const ms = performance.now() - t0;
      stats.statuses[res.status] = (stats.statuses[res.status] ?? 0) + 1;
      if (res.status === 200) stats.lat?.add(ms);
      else {
        stats.errors++;
        stats.firstError ??= `HTTP ${res.status}: ${res.body.slice(0, 200)}`;
      }
      if (res.close) {
        conns[slot].close();
        delete conns[slot];
      }
    } catch (e) {
      stats.errors++;
      stats.firstError ??= (e as Error).message;
      conns[slot]?.close();
      delete conns[slot];
    }
  }
}

async function main(): Promise<void> {
  const a = requireArgs(Deno.args, ["port", "path", "c", "n", "time-ms", "warmup"]);
  const port = positiveInt("port", a.port);
  const c = positiveInt("c", a.c);
  const n = positiveInt("n", a.n);
  const timeMs = positiveInt("time-ms", a["time-ms"]);
  const warmup = Number(a.warmup);
  const request = new TextEncoder().encode(
    `GET ${a.path} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nAccept: application/json\r\n\r\n`,
  );
  const conns: HttpConn[] = [];
  const run = async (count: number, ms: number, stats: RunStats) => {
    const budget = new Budget(count, ms);
    await Promise.all(
      Array.from({ length: c }, (_, i) => worker(port, request, budget, stats, conns, i)),
    );
    return budget;
  };
  // Warm-up opens the C connections and lets both sides' JIT settle; not recorded.
  if (warmup > 0) {
    await run(Math.max(warmup, c), Math.min(timeMs, 3000), {
      lat: null,
      errors: 0,
      statuses: {},
      firstError: null,
    });
  }
  const stats: RunStats = { lat: new Latencies(), errors: 0, statuses: {}, firstError: null };
  // Tells run.ts to start its CPU and memory window now, after the warm-up.
  console.log(JSON.stringify({ event: "measure" }));
  const t0 = performance.now();
  const budget = await run(n, timeMs, stats);
  const durationS = (performance.now() - t0) / 1000;
  for (const conn of conns) conn?.close();
  const opened = conns.filter((x) => x !== undefined).length;
  console.log(JSON.stringify(loadResult(stats.lat!, stats.errors, durationS, budget.expired, {
    statuses: stats.statuses,
    firstError: stats.firstError,
    connections: opened,
  })));
}

if (import.meta.main) {
  await main();
  // run.ts reads this process's /proc entry after the result line, so it stays until released.
  if (Deno.args.includes("--hold")) await holdUntilStdinCloses();
}
