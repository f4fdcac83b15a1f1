/**
 * The floor of row 6's idle figure (a child of run.ts): a bare TLS server, bound like a Portal
 * listener (Deno.listenTls, same kind of certificate), that does for each of peers.ts's peers
 * only the I/O a hub must do for it under PORTAL02.md §6, and nothing else: it admits every
 * AUTH_RESPONSE without checking it, answers each PING with a PONG and sends its own PING in the
 * same write (as Portal's ride-along does). Per peer and interval that is two reads (the peer's
 * PING, the PONG for ours) and one write: what remains of the hub's idle CPU once Portal's own
 * work (timers, routing, bookkeeping, logs) is taken away.
 *
 * With `--ping-ms N` it also sends each connection a PING of its own every N ms, in 100 ms slots
 * (as the hub's heartbeat does for peers that do not ping it), instead of riding along.
 *
 *   deno run --allow-net --allow-read scripts/bench/idle_floor_server.ts --cert F --key F \
 *     [--ping-ms 10000]
 *
 * Prints `{"port":N}` once listening; runs until killed.
 */
import { encodeFrame, encodeJson, FrameDecoder, MsgType } from "../../src/wire/mod.ts";
import { requireArgs } from "./stats.ts";
import { closeQuietly, listenBare } from "./tls.ts";

/** Read buffer per connection: the frames here are under 100 bytes. */
const READ_BUFFER = 2048;
const CHALLENGE = encodeFrame(MsgType.AuthChallenge, new Uint8Array(32));
const VERDICT = encodeFrame(
  MsgType.Response,
  encodeJson({ id: 0, status: 200, message: "OK", node: "floor" }),
);
const PING = encodeFrame(MsgType.Ping, new Uint8Array(8));

/** PING slots: one timer wakes every SLOT_MS and pings the connections due in that slot. */
const SLOT_MS = 100;

type Send = (bytes: Uint8Array) => void;

/** Own PINGs every `pingMs` per connection, bucketed by slot. */
class PingWheel {
  readonly #due = new Map<number, Set<Send>>();
  readonly #slotOfSend = new Map<Send, number>();
  readonly #pingMs: number;

  constructor(pingMs: number) {
    if (!(pingMs > 0)) throw new Error(`--ping-ms must be a positive number of ms, got ${pingMs}`);
    this.#pingMs = pingMs;
    setInterval(() => this.#tick(), SLOT_MS);
  }

  /** Pings through `send` from one interval on; returns the function that stops it. */
  add(send: Send): () => void {
    this.#put(send);
    return () => {
      this.#due.get(this.#slotOfSend.get(send)!)?.delete(send);
      this.#slotOfSend.delete(send);
    };
  }

  #put(send: Send): void {
    const slot = Math.ceil((Date.now() + this.#pingMs) / SLOT_MS);
    let set = this.#due.get(slot);
    if (set === undefined) this.#due.set(slot, set = new Set());
    set.add(send);
    this.#slotOfSend.set(send, slot);
  }

  #tick(): void {
    const now = Math.ceil(Date.now() / SLOT_MS);
    for (const [slot, sends] of this.#due) {
      if (slot > now) continue;
      this.#due.delete(slot);
      for (const send of sends) {
        send(PING);
        this.#put(send);
      }
    }
  }
}

async function serve(conn: Deno.TlsConn, wheel: PingWheel | null): Promise<void> {
  const buf = new Uint8Array(READ_BUFFER);
  const decoder = new FrameDecoder();
  // A failed write ends the connection through its read, as in Portal.
  const send = (bytes: Uint8Array) => void conn.write(bytes).catch(() => {});
  let unwheel = () => {};
  try {
    send(CHALLENGE);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      decoder.push(buf.subarray(0, n), true);
      for (let f = decoder.next(); f !== null; f = decoder.next()) {
        if (f.type === MsgType.AuthResponse) {
          send(VERDICT);
          if (wheel !== null) unwheel = wheel.add(send);
        } else if (f.type === MsgType.Ping) {
          const pong = encodeFrame(MsgType.Pong, f.body);
          const out = new Uint8Array(pong.byteLength + PING.byteLength);
          out.set(pong);
          out.set(PING, pong.byteLength);
          send(out);
        }
      }
    }
  } catch {
    // A reset ends this connection only.
  } finally {
    unwheel();
    closeQuietly(conn);
  }
}

async function main(): Promise<void> {
  const a = requireArgs(Deno.args, ["cert", "key"]);
  const { listener, port } = await listenBare(a);
  console.log(JSON.stringify({ port }));
  const pingAt = Deno.args.indexOf("--ping-ms");
  const wheel = pingAt >= 0 ? new PingWheel(Number(Deno.args[pingAt + 1])) : null;
  for await (const conn of listener) serve(conn, wheel);
}

if (import.meta.main) await main();
