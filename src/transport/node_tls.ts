/**
 * The federation's TLS listener. Connections are accepted on a Deno socket
 * (Nagle off, descriptor exhaustion survived: see accept.ts), admitted fairly
 * by source address before any TLS work (gate.ts), and then handed to
 * `node:tls` for the handshake: Deno.listenTls hands out connections without
 * setNoDelay, so every small frame a node writes on a link dialed *to* it
 * could wait ~40 ms for the peer's delayed ACK (measured: p50 44 ms for a
 * reply in two writes, against 0.1 ms here), and node:tls is also what
 * verifies client certificates against a CA (PORTAL02.md §11).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { certNames } from "../auth/x509.ts";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { formatDuration } from "../util/format.ts";
import { hostPortText } from "../util/host.ts";
import { SharedTimers } from "../util/timers.ts";
import { acceptLoop } from "./accept.ts";
import { NodeSocketStream } from "./node_socket.ts";
import { DEFAULT_PER_SOURCE, DEFAULT_TOTAL, FairGate, sourceOf } from "./gate.ts";
import { type NodeTlsListener, type RawConn, tlsHint, TransportError } from "./types.ts";

/** Options of {@link openNodeTlsListener}. */
export interface NodeTlsListenOptions {
  readonly hostname: string;
  readonly port: number;
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
  /**
   * PEM CA bundle: when set, a dialer must present a certificate signed by it
   * (`tls_client_auth = require`, PORTAL02.md §11), whose names then go on
   * `RawConn.certNames`. Default none: no client certificate is asked for.
   */
  readonly clientCa?: string | null;
  /** From the TCP accept to the end of the TLS handshake. Default 5000 ms (auth_timeout). */
  readonly handshakeTimeoutMs?: number;
  /** Open connections (authenticated or not) beyond which new ones are closed at once. Default 4096. */
  readonly maxConnections?: number;
  /** Connections one source address may hold before they authenticate. Default 64. */
  readonly maxUnauthenticatedPerSource?: number;
  /** Connections all sources may hold before they authenticate. Default 1024. */
  readonly maxUnauthenticated?: number;
  /** Timers of the handshake deadline and of accept pauses. Default the system clock. */
  readonly clock?: Clock;
  /** A client failed the TLS handshake (wrong CA, not TLS, too slow, no client certificate, …). */
  readonly onTlsError?: (remote: string, message: string) => void;
  /** A connection closed at once: its source is at its bound, or everything is full. */
  readonly onRefused?: (remote: string, reason: string) => void;
  /** An unauthenticated connection closed to make room for one from a source holding fewer. */
  readonly onShed?: (remote: string, reason: string) => void;
  /**
   * Accept failed for want of file descriptors: accepting pauses for
   * `pauseMs`, and from now on at most `holding` connections are held (a few
   * fewer than were open), so that the next flood is refused or shed fairly
   * instead of running the process out of descriptors again.
   */
  readonly onExhausted?: (reason: string, pauseMs: number, holding: number) => void;
  /** Accepting works again, after `failures` failed tries. */
  readonly onResumed?: (failures: number) => void;
}

/** Descriptors left spare below the count at which accept ran out, for refusing and housekeeping. */
const EXHAUSTED_SPARE = 16;

/** Largest read from a socket; reads start at 1 KiB and grow while they come back full. */
const MAX_READ = 64 * 1024;

/** One accepted connection, from the TCP accept until it closes. */
class Accepted {
  socket: tls.TLSSocket | null = null;
  timer: TimerHandle | null = null;
  #closed = false;

  constructor(
    readonly conn: Deno.TcpConn,
    readonly remote: string,
    readonly source: string,
    readonly onGone: (a: Accepted) => void,
  ) {}

  get closed(): boolean {
    return this.#closed;
  }

  /** Closes the socket and everything above it; a second call is harmless. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.onGone(this);
    try {
      this.conn.close();
    } catch {
      // Already closed by the other side's path.
    }
    this.socket?.destroy();
  }
}

/**
 * Binds the TLS listener. A source address at its bound of unauthenticated
 * connections, or any newcomer once `maxConnections` are open and nobody
 * holds more unauthenticated ones than its address, is closed at once.
 */
export function openNodeTlsListener(options: NodeTlsListenOptions): Promise<NodeTlsListener> {
  // Handshake deadlines of a join storm (and accept pauses) share one runtime timer.
  const clock = new SharedTimers(options.clock ?? systemClock);
  const handshakeMs = options.handshakeTimeoutMs ?? 5000;
  let maxConnections = options.maxConnections ?? 4096;
  const clientCa = options.clientCa ?? null;
  const gate = new FairGate<Accepted>({
    perSource: options.maxUnauthenticatedPerSource ?? DEFAULT_PER_SOURCE,
    total: options.maxUnauthenticated ?? DEFAULT_TOTAL,
  });
  const tlsOptions = (cert: string, key: string, ca: string | null): tls.TlsOptions => ({
    cert,
    key,
    // A backstop only: the deadline below, from the TCP accept, comes first.
    handshakeTimeout: handshakeMs * 2,
    ...(ca === null ? {} : { ca, requestCert: true, rejectUnauthorized: true }),
  });
  // Each connection gets its own server object made from these: replacing them is a reload.
  let serverOptions = tlsOptions(options.cert, options.key, clientCa);
  const where = hostPortText(options.hostname, options.port);
  try {
    // A certificate or key node:tls cannot use is a start-up error, not one per dialer.
    tls.createSecureContext({ cert: options.cert, key: options.key });
  } catch (e) {
    return Promise.reject(
      new TransportError("listen_failed", `cannot listen on ${where}: ${errorText(e)}`),
    );
  }
  let inner: Deno.TcpListener;
  try {
    inner = Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (e) {
    return Promise.reject(
      new TransportError("listen_failed", `cannot listen on ${where}: ${errorText(e)}`),
    );
  }
  const queue: RawConn[] = [];
  let waiting: { resolve: (c: RawConn) => void; reject: (e: Error) => void } | null = null;
  let closed = false;
  const live = new Set<Accepted>();
  const gone = (a: Accepted) => {
    live.delete(a);
    // A descriptor is free again: an accept paused for want of one may go on now.
    loop.wake();
    gate.release(a.source, a);
    if (a.timer !== null) clock.clear(a.timer);
    a.timer = null;
  };

  const handOver = (a: Accepted, socket: tls.TLSSocket) => {
    if (a.timer !== null) clock.clear(a.timer);
    a.timer = null;
    a.socket = socket;
    if (a.closed || closed) {
      a.close();
      return;
    }
    let names: string[] | undefined;
    if (clientCa !== null) {
      if (!socket.authorized) {
        options.onTlsError?.(
          a.remote,
          `client certificate refused: ${socket.authorizationError ?? "not verified"}`,
        );
        a.close();
        return;
      }
      names = peerNames(socket);
    }
    const raw: RawConn = {
      conn: new NodeSocketStream(socket, () => a.close()),
      remote: a.remote,
      certNames: names,
      authenticated: () => gate.release(a.source, a),
    };
    if (waiting) {
      const w = waiting;
      waiting = null;
      w.resolve(raw);
    } else {
      queue.push(raw);
    }
  };

  const startTls = (a: Accepted) => {
    a.timer = clock.setTimeout(() => {
      a.timer = null;
      options.onTlsError?.(
        a.remote,
        `TLS handshake timeout: not done within ${formatDuration(handshakeMs)}`,
      );
      a.close();
    }, handshakeMs);
    // One server object per connection: its events then belong to this connection alone.
    const server = tls.createServer(serverOptions, (socket) => handOver(a, socket));
    // A client gone before its handshake ended frees its place at once, without a word.
    const wire = socketDuplex(a.conn, () => {
      if (a.socket === null) a.close();
    });
    server.on("tlsClientError", (e: Error) => {
      if (a.closed) return;
      // A client that leaves without a byte (a port probe, a flood) is not worth a line.
      if (wire.received() > 0) options.onTlsError?.(a.remote, errorText(e));
      a.close();
    });
    server.emit("connection", wire.duplex);
  };

  const onConn = (conn: Deno.TcpConn) => {
    const addr = conn.remoteAddr;
    const remote = hostPortText(addr.hostname, addr.port);
    const source = sourceOf(addr.hostname);
    const refuse = (reason: string) => {
      options.onRefused?.(remote, reason);
      try {
        conn.close();
      } catch {
        // Gone already.
      }
    };
    if (closed) return refuse("the listener is closing");
    if (live.size >= maxConnections) {
      const victim = gate.victimFor(source);
      if (victim === null) {
        return refuse(`${live.size} connections are open (max_connections = ${maxConnections})`);
      }
      options.onShed?.(
        victim.item.remote,
        `${live.size} connections are open (max_connections = ${maxConnections}); ` +
          `${victim.source} holds the most that have not authenticated`,
      );
      victim.item.close();
    }
    const a = new Accepted(conn, remote, source, gone);
    const verdict = gate.admit(source, a);
    if (verdict.kind === "refused") return refuse(verdict.reason);
    if (verdict.shed !== null) {
      options.onShed?.(
        verdict.shed.remote,
        `${gate.size} connections have not authenticated; ${verdict.shedSource} holds the most`,
      );
      verdict.shed.close();
    }
    live.add(a);
    try {
      // Small frames both ways: Nagle would hold each one for the peer's delayed ACK.
      conn.setNoDelay(true);
    } catch {
      a.close();
      return;
    }
    startTls(a);
  };

  const loop = acceptLoop(inner, onConn, {
    clock,
    onExhausted: (reason, pauseMs) => {
      maxConnections = Math.min(maxConnections, Math.max(16, live.size - EXHAUSTED_SPARE));
      options.onExhausted?.(reason, pauseMs, maxConnections);
    },
    onResumed: options.onResumed,
  });
  const addr = inner.addr;
  return Promise.resolve({
    addr: { hostname: addr.hostname, port: addr.port },
    setCredentials(c) {
      try {
        tls.createSecureContext({ cert: c.cert, key: c.key, ca: c.clientCa ?? undefined });
        // node:tls takes a key that is not the certificate's; every handshake would fail.
        if (!new X509Certificate(c.cert).checkPrivateKey(createPrivateKey(c.key))) {
          throw new Error("the key is not the certificate's private key");
        }
      } catch (e) {
        throw new TransportError(
          "listen_failed",
          `cannot use the new certificate: ${errorText(e)}`,
        );
      }
      // Asking for client certificates is fixed at start: a new CA replaces the old one, never none.
      serverOptions = tlsOptions(c.cert, c.key, clientCa === null ? null : c.clientCa ?? clientCa);
    },
    accept() {
      const next = queue.shift();
      if (next) return Promise.resolve(next);
      if (closed) return Promise.reject(new Error("listener closed"));
      return new Promise((resolve, reject) => (waiting = { resolve, reject }));
    },
    close() {
      if (closed) return;
      closed = true;
      loop.stop();
      try {
        inner.close();
      } catch {
        // Closed already.
      }
      for (const r of queue.splice(0)) r.conn.close();
      // Connections still in their TLS handshake belong to nobody else.
      for (const a of [...live]) if (a.socket === null) a.close();
      waiting?.reject(new Error("listener closed"));
      waiting = null;
    },
  });
}

/** The names a verified client certificate gives: CN first, then DNS SANs. */
function peerNames(socket: tls.TLSSocket): string[] {
  const raw = socket.getPeerCertificate()?.raw;
  if (!raw) return [];
  try {
    const names = certNames(new X509Certificate(raw));
    return [...new Set([...names.cn, ...names.dns])];
  } catch {
    return [];
  }
}

/** A Deno TCP connection as the Duplex node:tls reads ciphertext from and writes it to. */
function socketDuplex(
  conn: Deno.TcpConn,
  onEnd: () => void,
): { duplex: Duplex; received: () => number } {
  // Small while idle (a PING is one 40-byte record): a pending read holds its buffer.
  let size = 1024;
  let reading = false;
  let received = 0;
  const duplex: Duplex = new Duplex({
    read() {
      if (reading) return;
      reading = true;
      const buf = new Uint8Array(size);
      conn.read(buf).then((n) => {
        reading = false;
        if (n === null) {
          duplex.push(null);
          onEnd();
          return;
        }
        received += n;
        if (n === size && size < MAX_READ) size *= 2;
        duplex.push(n === buf.byteLength ? buf : buf.slice(0, n));
      }, (e) => {
        duplex.destroy(e);
        onEnd();
      });
    },
    write(chunk: Uint8Array, _encoding, done) {
      writeAll(conn, chunk).then(() => done(), (e) => done(e));
    },
    final(done) {
      conn.closeWrite().then(() => done(), () => done());
    },
    destroy(error, done) {
      try {
        conn.close();
      } catch {
        // Closed already.
      }
      done(error);
    },
  });
  return { duplex, received: () => received };
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.byteLength) off += await conn.write(bytes.subarray(off));
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
      reject(
        new TransportError(
          "dial_failed",
          `cannot connect to ${target}: ${e.message}${tlsHint(e.message, [])}`,
        ),
      );
    });
  });
}
