/** Plain TCP listening and TCP + TLS dialing with Deno's own sockets (PORTAL02.md §1). */
import { dialNodeTlsUnverified } from "./node_tls.ts";
import { type ClientCertificate, dialTlsWithClientCert } from "./tls_dial.ts";
import { type Dialer, type Listener, tlsHint, TransportError } from "./types.ts";
import { hostPortText } from "../util/host.ts";

function addrText(a: Deno.Addr): string {
  if (a.transport === "tcp" || a.transport === "udp") {
    return hostPortText(a.hostname, a.port);
  }
  return a.transport;
}

/** Options of {@link openListener}, read from [mod_node]. */
export interface ListenOptions {
  readonly hostname: string;
  readonly port: number;
}

/**
 * Binds a plain-TCP federation listener (`tls = false`). TLS listeners are
 * opened by `openNodeTlsListener`, because Deno.listenTls cannot turn Nagle off.
 */
export function openListener(options: ListenOptions): Listener {
  let inner: Deno.TcpListener;
  try {
    inner = Deno.listen({ hostname: options.hostname, port: options.port });
  } catch (e) {
    throw new TransportError(
      "listen_failed",
      `cannot listen on ${options.hostname}:${options.port}: ${(e as Error).message}`,
    );
  }
  const addr = inner.addr;
  return {
    addr: { hostname: addr.hostname, port: addr.port },
    async accept() {
      const conn = await inner.accept();
      // Small frames both ways: Nagle would hold each one for the peer's delayed ACK.
      conn.setNoDelay(true);
      return { conn, remote: addrText(conn.remoteAddr) };
    },
    close() {
      try {
        inner.close();
      } catch {
        // Closing twice is harmless here.
      }
    },
  };
}

/** Options of {@link tcpTlsDialer}. */
export interface DialerOptions {
  readonly tls: boolean;
  /** PEM bundle of trusted CAs; system roots when null. */
  readonly caCerts: string[] | null;
  /**
   * This node's `tls_cert` and `tls_key`, presented to listeners that ask for a
   * client certificate (`tls_client_auth = require`, PORTAL02.md §11). Default none.
   */
  readonly clientCert?: ClientCertificate | null;
}

/**
 * Dials with Deno.connect + setNoDelay + startTls: connectTls leaves Nagle on,
 * which stalls small frames by ~40 ms. A node with a certificate dials through
 * node:tls instead, the one TLS client here that can present it.
 */
export function tcpTlsDialer(options: DialerOptions): Dialer {
  return async (peer, signal) => {
    if (peer.host === null) {
      throw new TransportError("dial_failed", `peer ${peer.name} has no host to dial`);
    }
    const target = `${peer.host}:${peer.port}`;
    const clientCert = options.clientCert ?? null;
    if (options.tls && clientCert !== null) {
      return dialTlsWithClientCert({
        host: peer.host,
        port: peer.port,
        serverName: peer.tlsServerName ?? peer.host,
        caCerts: options.caCerts,
        clientCert,
        verify: peer.tlsVerify,
        signal,
      });
    }
    if (options.tls && !peer.tlsVerify) {
      return dialNodeTlsUnverified({
        host: peer.host,
        port: peer.port,
        servername: peer.tlsServerName ?? peer.host,
        signal,
      });
    }
    let tcp: Deno.TcpConn;
    try {
      tcp = await Deno.connect({ hostname: peer.host, port: peer.port, signal });
    } catch (e) {
      throw new TransportError(
        "dial_failed",
        `cannot connect to ${target}: ${(e as Error).message}`,
      );
    }
    tcp.setNoDelay(true);
    if (!options.tls) return { conn: tcp, remote: target };

    let tls: Deno.TlsConn | null = null;
    // startTls takes no signal: closing the socket is how an abort ends a stuck handshake.
    const onAbort = () => {
      try {
        (tls ?? tcp).close();
      } catch {
        // already consumed or closed
      }
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      tls = await Deno.startTls(tcp, {
        hostname: peer.tlsServerName ?? peer.host,
        caCerts: options.caCerts ?? undefined,
      });
      await tls.handshake();
      return { conn: tls, remote: target };
    } catch (e) {
      // Once startTls returns, the TLS connection owns the socket: close that one.
      try {
        (tls ?? tcp).close();
      } catch {
        // already closed
      }
      const message = (e as Error).message;
      throw new TransportError(
        "dial_failed",
        `TLS handshake with ${target} failed: ${message}${tlsHint(message, options.caCerts)}`,
      );
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  };
}
