/**
 * The floor of the federation rows (a child of run.ts): a minimal TLS server, bound like a
 * Portal listener (Deno.listenTls, same kind of certificate), that answers every request of
 * R bytes with S bytes. A client opens with an 8-byte preamble: R and S as uint32 BE.
 * Replies queued while a write is in flight go out in one write, as Portal's connections do.
 *
 *   deno run --allow-net --allow-read scripts/bench/echo_server.ts --cert F --key F
 *
 * Prints `{"port":N}` once listening; runs until killed.
 */
import { requireArgs } from "./stats.ts";
import { closeQuietly, listenBare } from "./tls.ts";

async function serve(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(64 * 1024);
  let reply = new Uint8Array(0);
  let req = 0;
  let resp = 0;
  let header = new Uint8Array(0);
  let pendingBytes = 0;
  let owed = 0;
  let writing = false;
  const flush = async () => {
    writing = true;
    try {
      while (owed > 0) {
        const bytes = owed * resp;
        owed = 0;
        if (reply.byteLength < bytes) reply = new Uint8Array(bytes).fill(0x62);
        const chunk = reply.subarray(0, bytes);
        let off = 0;
        while (off < chunk.byteLength) off += await conn.write(chunk.subarray(off));
      }
    } catch {
      conn.close();
    } finally {
      writing = false;
    }
  };
  try {
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      let data = buf.subarray(0, n);
      if (req === 0) {
        const joined = new Uint8Array(header.byteLength + data.byteLength);
        joined.set(header);
        joined.set(data, header.byteLength);
        if (joined.byteLength < 8) {
          header = joined;
          continue;
        }
        const view = new DataView(joined.buffer);
        req = view.getUint32(0);
        resp = view.getUint32(4);
        if (req === 0 || resp === 0) throw new Error("request and response sizes must be > 0");
        data = joined.subarray(8);
      }
      pendingBytes += data.byteLength;
      const whole = Math.floor(pendingBytes / req);
      if (whole > 0) {
        pendingBytes -= whole * req;
        owed += whole;
        // Not awaited: reading goes on while the reply is written, as in FrameConnection.
        if (!writing) flush();
      }
    }
  } catch {
    // A reset or a bad preamble ends this connection only.
  } finally {
    closeQuietly(conn);
  }
}

async function main(): Promise<void> {
  const a = requireArgs(Deno.args, ["cert", "key"]);
  const { listener, port } = await listenBare(a);
  console.log(JSON.stringify({ port }));
  for await (const conn of listener) serve(conn);
}

if (import.meta.main) await main();
