/**
 * The transport's shared vocabulary: what a listener hands out and a dialer
 * returns. Both transports (Deno sockets in tcp.ts, node:tls in node_tls.ts)
 * implement these, and nothing above the transport needs more.
 */
import type { PeerConfig } from "../config/types.ts";

/** The byte stream under a connection; Deno.Conn and Deno.TlsConn satisfy it. */
export interface ByteStream {
  read(p: Uint8Array): Promise<number | null>;
  /**
   * The next chunk as the stream received it, handed over (the stream keeps
   * no reference), or null at the end. Streams that receive chunks anyway
   * offer it, so a reader needs no buffer of its own to copy them into.
   */
  readChunk?(): Promise<Uint8Array | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** An accepted or dialed connection with the address it goes to. */
export interface RawConn {
  readonly conn: ByteStream;
  readonly remote: string;
  /**
   * The names (CN, then DNS SANs) of the client certificate the remote
   * presented and the listener verified against its CA; absent when the
   * listener does not ask for client certificates (PORTAL02.md §11).
   */
  readonly certNames?: readonly string[];
  /**
   * Tells the listener that the connection authenticated, so it no longer
   * counts against its source's bound of unauthenticated connections; absent
   * for dialed connections and listeners that keep no such bound.
   */
  readonly authenticated?: () => void;
}

/** Accepts connections until closed. */
export interface Listener {
  readonly addr: { readonly hostname: string; readonly port: number };
  accept(): Promise<RawConn>;
  close(): void;
}

/** A TLS listener whose certificate can be replaced while it runs (a reload). */
export interface NodeTlsListener extends Listener {
  /**
   * New connections use `cert`, `key` (and `clientCa`, when the listener asks
   * for client certificates); open ones keep what they were made with. Throws
   * a "listen_failed" {@link TransportError}, changing nothing, when node:tls
   * cannot use the pair.
   */
  setCredentials(credentials: { cert: string; key: string; clientCa: string | null }): void;
}

/** Dials one peer. Injected so tests can use plain TCP or fail on purpose. */
export type Dialer = (peer: PeerConfig, signal: AbortSignal) => Promise<RawConn>;

/**
 * Why a dial or listen failed, as a typed code plus a sentence.
 * "native_unavailable": the native TLS listener cannot work here (its socket
 * calls failed); node:tls can take its place.
 */
export class TransportError extends Error {
  override readonly name = "TransportError";
  constructor(
    readonly code: "listen_failed" | "dial_failed" | "native_unavailable",
    message: string,
  ) {
    super(message);
  }
}

/** What to do about a TLS failure whose likely cause is a setting: ` (…)`, or "". */
export function tlsHint(message: string, caCerts: readonly string[] | null | undefined): string {
  if (/InvalidContentType|wrong version number|corrupt message/i.test(message)) {
    return " (the peer does not speak TLS there: set the same tls on both nodes)";
  }
  if (/UnknownIssuer/.test(message)) {
    return caCerts == null
      ? " (set tls_ca in [mod_node] to the CA that signed the peer's certificate)"
      : " (tls_ca does not hold the CA that signed the peer's certificate)";
  }
  return "";
}
