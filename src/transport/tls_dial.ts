/**
 * Dialing TLS with a client certificate (PORTAL02.md §11): a listener with
 * `tls_client_auth = require` asks the dialer for its certificate, and
 * Deno.startTls cannot present one. node:tls can, verifies the listener as
 * strictly, and lets Nagle be turned off (a small frame otherwise waits ~40 ms
 * for the peer's delayed ACK).
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import tls from "node:tls";
import { NodeSocketStream } from "./node_socket.ts";
import { type RawConn, tlsHint, TransportError } from "./types.ts";

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

/** A failed connection attempt: before TCP was up, or in the TLS handshake. */
class DialFailure extends Error {
  constructor(readonly stage: "tcp" | "tls", readonly error: Error & { code?: string }) {
    super(error.message);
  }
}

/**
 * Connects, verifies the listener's chain and name (unless `verify` is false),
 * presents `clientCert` when asked, and turns Nagle off. Rejects with a
 * "dial_failed" {@link TransportError}.
 */
export async function dialTlsWithClientCert(options: ClientCertDialOptions): Promise<RawConn> {
  const target = `${options.host}:${options.port}`;
  let socket: tls.TLSSocket;
  try {
    socket = await connect(options, options.verify);
  } catch (e) {
    if (!(e instanceof DialFailure)) throw e;
    if (e.stage === "tcp") {
      throw new TransportError("dial_failed", `cannot connect to ${target}: ${e.message}`);
    }
    // node:tls reports every untrusted chain as "unable to verify the first certificate":
    // look at the certificate once more, without trusting it, to say what is wrong with it.
    const why = e.error.code === "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
      ? await explainUntrusted(options).catch(() => null)
      : null;
    throw new TransportError(
      "dial_failed",
      `TLS handshake with ${target} failed: ${
        why ?? e.message + tlsHint(e.message, options.caCerts)
      }`,
    );
  }
  socket.setNoDelay(true);
  return { conn: new NodeSocketStream(socket), remote: target };
}

/** One TLS connection, verified by rustls unless `verify` is false; aborted by the signal. */
function connect(options: ClientCertDialOptions, verify: boolean): Promise<tls.TLSSocket> {
  const name = options.serverName;
  return new Promise((resolve, reject) => {
    if (options.signal.aborted) {
      reject(new DialFailure("tcp", new Error("dial cancelled")));
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
      rejectUnauthorized: verify,
      checkServerIdentity: verify ? (_host, cert) => checkName(name, cert) : () => undefined,
    });
    let tcpUp = false;
    socket.once("connect", () => (tcpUp = true));
    const fail = (stage: "tcp" | "tls", e: Error) => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      socket.destroy();
      reject(new DialFailure(stage, e));
    };
    const onAbort = () => fail("tcp", new Error("dial cancelled"));
    options.signal.addEventListener("abort", onAbort, { once: true });
    socket.once("secureConnect", () => {
      if (settled) return;
      settled = true;
      options.signal.removeEventListener("abort", onAbort);
      resolve(socket);
    });
    socket.once("error", (e: Error) => fail(tcpUp ? "tls" : "tcp", e));
  });
}

/** node:tls's name check, worded as the rest of Portal's TLS errors (rustls) are. */
function checkName(name: string, cert: tls.PeerCertificate): Error | undefined {
  if (tls.checkServerIdentity(name, cert) === undefined) return undefined;
  return new Error(
    `invalid peer certificate: certificate not valid for name "${name}"; certificate is only ` +
      `valid for ${cert.subjectaltname ?? `CN=${cert.subject?.CN ?? "?"}`}`,
  );
}

/**
 * Why the listener's certificate is not trusted: expired, not yet valid, or from a CA that
 * `tls_ca` does not hold. Fetches it over a second, unverified connection that carries nothing.
 */
async function explainUntrusted(options: ClientCertDialOptions): Promise<string | null> {
  const socket = await connect(options, false);
  let der: Uint8Array | undefined;
  try {
    der = socket.getPeerCertificate(true)?.raw;
  } finally {
    socket.destroy();
  }
  if (der === undefined) return null;
  const cert = new X509Certificate(der);
  const subject = cert.subject.replace(/\n/g, ", ");
  const now = Date.now();
  if (now > Date.parse(cert.validTo)) {
    return `invalid peer certificate: certificate expired on ${
      new Date(cert.validTo).toISOString()
    } (${subject}; renew it with portal gen-certs --force)`;
  }
  if (now < Date.parse(cert.validFrom)) {
    return `invalid peer certificate: certificate not valid before ${
      new Date(cert.validFrom).toISOString()
    } (${subject}; check the clocks)`;
  }
  const issuer = cert.issuer.replace(/\n/g, ", ");
  if (options.caCerts === null) {
    return `invalid peer certificate: UnknownIssuer (${subject} is issued by ${issuer}, ` +
      "which the system's root certificates do not vouch for; set tls_ca to your CA)";
  }
  const anchors = options.caCerts.flatMap((pem) =>
    pem.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? []
  );
  const known = anchors.some((pem) => {
    try {
      const ca = new X509Certificate(pem);
      return cert.checkIssued(ca) && cert.verify(ca.publicKey);
    } catch {
      return false;
    }
  });
  if (!known) {
    return `invalid peer certificate: UnknownIssuer (${subject} is issued by ${issuer}, ` +
      "which tls_ca does not hold)";
  }
  return null;
}
