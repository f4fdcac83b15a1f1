/**
 * The floor of row 4's hub (a child of run.ts): a bare TLS relay with the hub's sockets and none
 * of its work, and the bare responder behind it.
 *
 *   relay:     Deno.listenTls with TCP_NODELAY on the listening socket (as Portal's listener),
 *              a fake admission (challenge, then a 200 verdict for any AUTH_RESPONSE), then every
 *              byte from the client goes to the responder on a connection dialed with
 *              Deno.connect + setNoDelay + Deno.startTls (as Portal's dialer), and back. No frame
 *              is parsed; bytes read while a write is in flight leave in one write.
 *   responder: answers each REQUEST frame with a RESPONSE of `--resp-bytes` on the wire with
 *              the same `id`, all answers to one read in one write.
 *
 * Per relayed request the relay does what the hub cannot avoid: two TLS reads and two TLS writes
 * (one of each per direction), fewer when frames batch. The hub's CPU per relayed request against
 * the relay's in the same run is the cost of Portal's own relay work.
 *
 *   deno run --allow-net --allow-read --allow-ffi scripts/bench/relay_floor.ts \
 *     --mode responder --cert F --key F --resp-bytes S
 *   deno run ... relay_floor.ts --mode relay --cert F --key F --ca F --upstream PORT
 *
 * Each prints `{"port":N}` once listening; runs until killed.
 */
import { noDelayListener } from "../../src/transport/libc_sockets.ts";
import {
  decodeRequest,
  encodeFrame,
  encodeJson,
  FrameDecoder,
  HEADER_BYTES,
  MsgType,
} from "../../src/wire/mod.ts";
import { requireArgs } from "./stats.ts";
import { closeQuietly, CoalescingWriter, dialTls, listenBare } from "./tls.ts";

const READ_BUFFER = 64 * 1024;
const CHALLENGE = encodeFrame(MsgType.AuthChallenge, new Uint8Array(32));
const VERDICT = encodeFrame(
  MsgType.Response,
  encodeJson({ id: 0, status: 200, message: "OK", node: "relay-floor" }),
);

/** Copies every byte read from `from` to `to` until either ends. */
async function pipe(from: Deno.Conn, to: CoalescingWriter, buf: Uint8Array): Promise<void> {
  for (;;) {
    const n = await from.read(buf);
    if (n === null) return;
    // A copy: the buffer is read into again before the write.
    to.push(buf.slice(0, n));
  }
}

async function relay(client: Deno.TlsConn, upstreamPort: number, ca: string): Promise<void> {
  const buf = new Uint8Array(READ_BUFFER);
  const decoder = new FrameDecoder();
  let upstream: Deno.TlsConn | null = null;
  try {
    await client.write(CHALLENGE);
    // The admission: one AUTH_RESPONSE, whatever it says. The client sends nothing more
    // before the verdict (§3), so every byte after it is the client's traffic.
    for (let admitted = false; !admitted;) {
      const n = await client.read(buf);
      if (n === null) return;
      decoder.push(buf.subarray(0, n));
      const f = decoder.next();
      if (f === null) continue;
      if (f.type !== MsgType.AuthResponse) return;
      admitted = true;
    }
    upstream = await dialTls(upstreamPort, ca);
    await client.write(VERDICT);
    const toUpstream = new CoalescingWriter(upstream);
    const toClient = new CoalescingWriter(client);
    await Promise.race([
      pipe(client, toUpstream, buf),
      pipe(upstream, toClient, new Uint8Array(READ_BUFFER)),
    ]);
  } catch {
    // A reset ends this pair only.
  } finally {
    closeQuietly(client);
    if (upstream !== null) closeQuietly(upstream);
  }
}

async function respond(conn: Deno.TlsConn, respBytes: number): Promise<void> {
  const buf = new Uint8Array(READ_BUFFER);
  const decoder = new FrameDecoder();
  const out = new CoalescingWriter(conn);
  // A RESPONSE whose frame is respBytes long once its id is in (ids stay under 10 digits).
  const base = encodeJson({ id: 0, status: 200, body: "" }).byteLength + HEADER_BYTES;
  const pad = "x".repeat(Math.max(0, respBytes - base - 9));
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) return;
      decoder.push(buf.subarray(0, n), true);
      for (let f = decoder.next(); f !== null; f = decoder.next()) {
        if (f.type !== MsgType.Request) continue;
        const { id, src } = decodeRequest(f.body);
        out.push(encodeFrame(
          MsgType.Response,
          encodeJson({ id, src: "responder", dst: src, status: 200, body: pad }),
        ));
      }
    }
  } catch {
    // A reset ends this connection only.
  } finally {
    closeQuietly(conn);
  }
}

async function main(): Promise<void> {
  const a = requireArgs(Deno.args, ["mode", "cert", "key"]);
  const { listener, port } = await listenBare(a);
  const why = noDelayListener(port);
  if (why !== null) throw new Error(`relay_floor: TCP_NODELAY on the listener: ${why}`);
  if (a.mode === "relay") {
    const r = requireArgs(Deno.args, ["ca", "upstream"]);
    const ca = await Deno.readTextFile(r.ca);
    const upstream = Number(r.upstream);
    console.log(JSON.stringify({ port }));
    for await (const conn of listener) relay(conn, upstream, ca);
  } else if (a.mode === "responder") {
    const respBytes = Number(requireArgs(Deno.args, ["resp-bytes"])["resp-bytes"]);
    console.log(JSON.stringify({ port }));
    for await (const conn of listener) respond(conn, respBytes);
  } else {
    throw new Error(`--mode must be relay or responder, got '${a.mode}'`);
  }
}

if (import.meta.main) await main();
