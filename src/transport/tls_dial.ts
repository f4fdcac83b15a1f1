/**
 * Dialing TLS with a client certificate (PORTAL02.md §11): a listener with
 * `tls_client_auth = require` asks the dialer for its certificate, and
 * Deno.startTls cannot present one. node:tls can, verifies the listener as
 * strictly, and lets Nagle be turned off (a small frame otherwise waits ~40 ms
 * for the peer's delayed ACK).
 */
import { isIP } from "node:net";
import tls from "node:tls";
import { NodeSocketStream } from "./node_tls.ts";
import { type RawConn, TransportError } from "./types.ts";

/** This node's certificate and key, presented to listeners that ask for them. */
export interface ClientCertificate {
  /** PEM of `tls_cert` (leaf first). */
  readonly cert: string;
  /** PEM of `tls_key`. */
  readonly key: string;
}

/** Options of {@link dialTlsWithClientCert}. */
export interface ClientCertDialOptions {
  readonly host: string;
  readonly port: number;
  /** The name the listener's certificate must carry (the peer's tls_server_name, else host). */
  readonly serverName: string;
  /** PEM bundles of trusted CAs (`tls_ca`); null: the built-in roots. */
  readonly caCerts: readonly string[] | null;
  readonly clientCert: ClientCertificate;
  /** false only for a peer with `tls_verify = false`: its certificate is not checked. */
  readonly verify: boolean;
  readonly signal: AbortSignal;
}

/**
 * Connects, verifies the listener's chain and name (unless `verify` is false),
 * presents `clientCert` when asked, and turns Nagle off. Rejects with a
 * "dial_failed" {@link TransportError}.
 */
export function dialTlsWithClientCert(options: ClientCertDialOptions): Promise<RawConn> {
  const target = `${options.host}:${options.port}`;
  const name = options.serverName;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new TransportError("dial_failed", `cannot connect to ${target}: dial cancelled`));
      return;
    }
    let settled = false;
    const socket = tls.connect({
      host: options.host,
      port: options.port,
      // SNI carries DNS names only; an address is still checked below.
      servername: isIP(name) === 0 ? name : undefined,
      ca: options.caCerts === null ? undefined : [...options.caCerts],
      cert: options.clientCert.cert,
      key: options.clientCert.key,
      rejectUnauthorized: options.verify,
      checkServerIdentity: options.verify
        ? (_host, cert) => tls.checkServerIdentity(name, cert)
        : () => undefined,
    });
    let tcpUp = false;
    socket.once("connect", () => (tcpUp = true));
    const fail = (reason: string) => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new TransportError("dial_failed", reason));
    };
    const onAbort = () => fail(`cannot connect to ${target}: dial cancelled`);
    options.signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      socket.setNoDelay(true);
      resolve({ conn: new NodeSocketStream(socket), remote: target });
    });
    socket.once("error", (e: Error) => {
      fail(
        tcpUp
          ? `TLS handshake with ${target} failed: ${e.message}`
          : `cannot connect to ${target}: ${e.message}`,
      );
    });
  });
}
