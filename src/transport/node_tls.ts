/**
 * The federation's TLS listener on node:tls, and the unverified dialer.
 * Connections are accepted on a Deno socket (Nagle off, descriptor
 * exhaustion survived), admitted by admission.ts before any TLS work, and
 * then handed to `node:tls` for the handshake, through a Duplex over the Deno
 * socket. node:tls is what verifies client certificates against a CA
 * (PORTAL02.md §11), so `tls_client_auth = require` runs this listener; it is
 * also the fallback where the native one (native_tls.ts) cannot turn Nagle
 * off. The bridge costs: about 1.5× the CPU per relayed message and twice the
 * memory per idle link of the native listener (docs/performance.md).
 */
import { X509Certificate } from "node:crypto";
import { Duplex } from "node:stream";
import tls from "node:tls";
import { certNames } from "../auth/x509.ts";
import { errorText } from "../util/errors.ts";
import { hostPortText } from "../util/host.ts";
import {
  type Accepted,
  type Admission,
  admit,
  keyMismatch,
  type TlsListenOptions,
} from "./admission.ts";
import { NodeSocketStream } from "./node_socket.ts";
import { type NodeTlsListener, type RawConn, tlsHint, TransportError } from "./types.ts";

/** Options of {@link openNodeTlsListener}. */
export type NodeTlsListenOptions = TlsListenOptions;

/**
 * Binds the node:tls listener: the one that can ask for client certificates.
 * A source address at its bound of unauthenticated connections, or any
 * newcomer once `maxConnections` are open and nobody holds more
 * unauthenticated ones than its address, is closed at once (admission.ts).
 */
export function openNodeTlsListener(options: NodeTlsListenOptions): Promise<NodeTlsListener> {
  const handshakeMs = options.handshakeTimeoutMs ?? 5000;
  const clientCa = options.clientCa ?? null;
  const tlsOptions = (cert: string, key: string, ca: string | null): tls.TlsOptions => ({
    cert,
    key,
    // A backstop only: the admission's deadline, from the TCP accept, comes first.
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

  const handOver = (
    a: Accepted<Deno.TcpConn>,
    socket: tls.TLSSocket,
    admission: Admission<Deno.TcpConn>,
  ) => {
    let names: string[] | undefined;
    if (clientCa !== null) {
      if (!socket.authorized) {
        admission.fail(
          a,
          `client certificate refused: ${socket.authorizationError ?? "not verified"}`,
        );
        return;
      }
      names = peerNames(socket);
    }
    admission.handOver(a, {
      conn: new NodeSocketStream(socket, () => a.close()),
      remote: a.remote,
      certNames: names,
    });
  };

  const admission = admit(inner, options, (a, admission) => {
    try {
      // Small frames both ways: Nagle would hold each one for the peer's delayed ACK.
      a.conn.setNoDelay(true);
    } catch {
      admission.fail(a, null);
      return;
    }
    // One server object per connection: its events then belong to this connection alone.
    const server = tls.createServer(serverOptions, (socket) => {
      a.onClose = () => socket.destroy();
      if (a.closed) socket.destroy();
      else handOver(a, socket, admission);
    });
    // A client gone before its handshake ended frees its place at once, without a word.
    const wire = socketDuplex(a.conn, () => {
      if (!a.handedOver) a.close();
    });
    server.on("tlsClientError", (e: Error) => {
      // A client that leaves without a byte (a port probe, a flood) is not worth a line.
      admission.fail(a, wire.received() > 0 ? errorText(e) : null);
    });
    server.emit("connection", wire.duplex);
  });
  return Promise.resolve({
    addr: admission.addr,
    setCredentials(c) {
      try {
        tls.createSecureContext({ cert: c.cert, key: c.key, ca: c.clientCa ?? undefined });
        // node:tls takes a key that is not the certificate's; every handshake would fail.
        const mismatch = keyMismatch(c.cert, c.key);
        if (mismatch !== null) throw new Error(mismatch);
      } catch (e) {
        throw new TransportError(
          "listen_failed",
          `cannot use the new certificate: ${errorText(e)}`,
        );
      }
      // Asking for client certificates is fixed at start: a new CA replaces the old one, never none.
      serverOptions = tlsOptions(c.cert, c.key, clientCa === null ? null : c.clientCa ?? clientCa);
    },
    accept: () => admission.accept(),
    close: () => admission.close(),
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

/** Largest read from a socket; reads start at 1 KiB and grow while they come back full. */
const MAX_READ = 64 * 1024;

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
