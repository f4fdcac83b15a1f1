/**
 * TLS dialing, listening and a write-coalescing writer shared by the benchmark's TLS clients and
 * bare servers.
 */

/**
 * Dials like Portal's own dialer (src/transport/tcp.ts): Deno.connect, setNoDelay, then
 * startTls, because connectTls leaves Nagle on and small writes would stall.
 */
export async function dialTls(port: number, caPem: string): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  try {
    const tls = await Deno.startTls(tcp, { hostname: "127.0.0.1", caCerts: [caPem] });
    await tls.handshake();
    return tls;
  } catch (e) {
    try {
      tcp.close();
    } catch {
      // startTls may already own and have closed the socket.
    }
    throw e;
  }
}

/**
 * A bare server's listener: Deno.listenTls on 127.0.0.1, a free port, the PEM files named by
 * `--cert` and `--key`. The caller prints `{"port":N}` (what bare.ts waits for) once ready.
 */
export async function listenBare(
  args: { readonly cert: string; readonly key: string },
): Promise<{ listener: Deno.TlsListener; port: number }> {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(args.cert),
    key: await Deno.readTextFile(args.key),
  });
  const port = (listener.addr as Deno.NetAddr).port;
  return { listener, port };
}

/** Closes `conn`, which may already be closed. */
export function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}

/**
 * Queues byte chunks and writes everything queued in the same tick (or while the previous
 * write was in flight) as one write: one TLS record and one segment instead of one per frame.
 */
export class CoalescingWriter {
  readonly #conn: { write(p: Uint8Array): Promise<number> };
  #parts: Uint8Array[] = [];
  #bytes = 0;
  #writing = false;
  #failed: unknown = null;
  #idle: Promise<void> = Promise.resolve();
  /** Number of write calls made, to report how well writes coalesced. */
  writes = 0;

  constructor(conn: { write(p: Uint8Array): Promise<number> }) {
    this.#conn = conn;
  }

  /** The first write error, or null. */
  get error(): unknown {
    return this.#failed;
  }

  push(part: Uint8Array): void {
    if (this.#failed !== null) return;
    this.#parts.push(part);
    this.#bytes += part.byteLength;
    if (!this.#writing) {
      this.#writing = true;
      this.#idle = Promise.resolve().then(() => this.#flush());
    }
  }

  /** Resolves when everything queued so far has been written (or a write failed). */
  drained(): Promise<void> {
    return this.#idle;
  }

  async #flush(): Promise<void> {
    try {
      while (this.#parts.length > 0) {
        const parts = this.#parts;
        const chunk = parts.length === 1 ? parts[0] : new Uint8Array(this.#bytes);
        if (parts.length > 1) {
          let off = 0;
          for (const p of parts) {
            chunk.set(p, off);
            off += p.byteLength;
          }
        }
        this.#parts = [];
        this.#bytes = 0;
        this.writes++;
        let off = 0;
        while (off < chunk.byteLength) off += await this.#conn.write(chunk.subarray(off));
      }
    } catch (e) {
      this.#failed = e;
      this.#parts = [];
      this.#bytes = 0;
    } finally {
      this.#writing = false;
    }
  }
}
