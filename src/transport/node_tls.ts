/**
 * A TLS listener on `node:tls`. Deno.listenTls hands out connections without
 * setNoDelay, so every small frame a node writes on a link dialed *to* it
 * can wait ~40 ms for the peer's delayed ACK (measured: p50 44 ms for a reply
 * in two writes, against 0.1 ms here). node:tls exposes the socket option.
 */
import tls from "node:tls";
import { type ByteStream, type Listener, type RawConn, TransportError } from "./types.ts";

/** Bytes buffered from a socket before it is paused until the reader catches up. */
const HIGH_WATER = 256 * 1024;

/** A node:tls socket seen as the ByteStream a FrameConnection reads and writes. */
export class NodeSocketStream implements ByteStream {
  readonly #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  constructor(socket: tls.TLSSocket) {
    this.#socket = socket;
    socket.on("data", (d: Uint8Array) => {
      this.#chunks.push(d);
      this.#buffered += d.byteLength;
      if (this.#buffered > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    let n = 0;
    while (n < p.byteLength && this.#chunks.length > 0) {
      const head = this.#chunks[0];
      const take = Math.min(head.byteLength, p.byteLength - n);
      p.set(head.subarray(0, take), n);
      n += take;
      if (take === head.byteLength) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#buffered -= n;
    if (this.#buffered <= HIGH_WATER / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) {
        reject(new Error("connection closed"));
        return;
      }
      this.#socket.write(p, (err?: Error | null) => err ? reject(err) : resolve(p.byteLength));
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
  }
}

/** Options of {@link openNodeTlsListener}. */
export interface NodeTlsListenOptions {
  readonly hostname: string;
  readonly port: number;
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
  /** A client that has not finished TLS by then is dropped. Default 5000 ms (auth_timeout). */
  readonly handshakeTimeoutMs?: number;
  /** Open connections beyond which new ones are closed at once. Default 4096. */
  readonly maxConnections?: number;
  /** Called when a client fails the TLS handshake (wrong CA, not TLS, too slow, …). */
  readonly onTlsError?: (remote: string, message: string) => void;
  /** Called for a connection refused because `maxConnections` are open. */
  readonly onRefused?: (remote: string, open: number) => void;
  /** Called for an error of the listening socket itself (e.g. out of file descriptors). */
  readonly onError?: (message: string) => void;
}

interface Peername {
  remoteAddress?: string;
  remotePort?: number;
  /** The TCP socket under a TLS socket that failed its handshake (Deno's node:tls). */
  _parent?: Peername;
}

function remoteOf(socket: Peername): string {
  const s = socket.remoteAddress === undefined && socket._parent ? socket._parent : socket;
  const host = s.remoteAddress ?? "unknown address";
  if (s.remotePort === undefined) return host;
  return host.includes(":") ? `[${host}]:${s.remotePort}` : `${host}:${s.remotePort}`;
}

/** Binds a TLS listener whose accepted links have Nagle off. */
export async function openNodeTlsListener(options: NodeTlsListenOptions): Promise<Listener> {
  const queue: RawConn[] = [];
  let waiting: { resolve: (c: RawConn) => void; reject: (e: Error) => void } | null = null;
  let closed = false;
  const maxConnections = options.maxConnections ?? 4096;
  let open = 0;
  const server = tls.createServer({
    cert: options.cert,
    key: options.key,
    handshakeTimeout: options.handshakeTimeoutMs ?? 5000,
  }, (socket) => {
    socket.setNoDelay(true);
    const raw: RawConn = {
      conn: new NodeSocketStream(socket),
      remote: remoteOf(socket),
    };
    if (closed) {
      socket.destroy();
    } else if (waiting) {
      const w = waiting;
      waiting = null;
      w.resolve(raw);
    } else {
      queue.push(raw);
    }
  });
  server.on(
    "tlsClientError",
    (e: Error, socket: Peername & { destroy(): void }) => {
      options.onTlsError?.(remoteOf(socket), e.message);
      socket.destroy();
    },
  );
  // Counted from the TCP accept, before TLS: a flood of silent connections must
  // not exhaust file descriptors (the handshake timeout drops each in time).
  server.on(
    "connection",
    (socket: Peername & { destroy(): void; once(e: string, f: () => void): void }) => {
      if (open >= maxConnections) {
        options.onRefused?.(remoteOf(socket), open);
        socket.destroy();
        return;
      }
      open++;
      socket.once("close", () => open--);
    },
  );
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(options.port, options.hostname, () => {
        server.off("error", reject);
        resolve();
      });
    });
    server.on("error", (e: Error) => options.onError?.(e.message));
  } catch (e) {
    server.close();
    throw new TransportError(
      "listen_failed",
      `cannot listen on ${options.hostname}:${options.port}: ${(e as Error).message}`,
    );
  }
  const addr = server.address() as { address: string; port: number };
  return {
    addr: { hostname: addr.address, port: addr.port },
    accept() {
      const next = queue.shift();
      if (next) return Promise.resolve(next);
      if (closed) return Promise.reject(new Error("listener closed"));
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    close() {
      if (closed) return;
      closed = true;
      server.close();
      for (const r of queue.splice(0)) r.conn.close();
      waiting?.reject(new Error("listener closed"));
      waiting = null;
    },
  };
}

/** Options of {@link dialNodeTls}. */
export interface NodeTlsDialOptions {
  readonly host: string;
  readonly port: number;
  /** Name sent as SNI (the peer's tls_server_name or host). */
  readonly servername: string;
  readonly signal: AbortSignal;
}

/**
 * Dials TLS without verifying the listener's certificate: only for a peer
 * configured with `tls_verify = false` (logged as a warning at start-up).
 * Deno.startTls cannot skip verification; node:tls can.
 */
export function dialNodeTlsUnverified(options: NodeTlsDialOptions): Promise<RawConn> {
  const target = `${options.host}:${options.port}`;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new TransportError("dial_failed", `cannot connect to ${target}: dial cancelled`));
      return;
    }
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      servername: /^[\d.]+$|:/.test(options.servername) ? undefined : options.servername,
      rejectUnauthorized: false,
    });
    const onAbort = () => {
      socket.destroy();
      reject(new TransportError("dial_failed", `cannot connect to ${target}: dial cancelled`));
    };
    options.signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      options.signal.removeEventListener("abort", onAbort);
      socket.setNoDelay(true);
      resolve({ conn: new NodeSocketStream(socket), remote: target });
    });
    socket.once("error", (e: Error) => {
      options.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new TransportError("dial_failed", `cannot connect to ${target}: ${e.message}`));
    });
  });
}
