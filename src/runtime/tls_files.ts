/**
 * This node's certificate, key and CA as the running parts use them: read at
 * start, read again on a reload, and handed to what makes new connections
 * (the dialer, the listener) without touching the links already open.
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import tls from "node:tls";
import type { AccessPems } from "../access/mod.ts";
import { MAX_PEM_BYTES } from "../config/files.ts";
import type { NodeConfig } from "../config/types.ts";
import type { WatchedCertificate } from "../metrics/mod.ts";
import { type Dialer, tcpTlsDialer } from "../transport/mod.ts";
import type { NodeTlsListener } from "../transport/types.ts";
import { errorText } from "../util/errors.ts";
import { ReadFileError, readRegularTextFile } from "../util/read.ts";

/** Why the TLS files cannot be used; the message names the file and the fix. */
export class TlsFilesError extends Error {
  override readonly name = "TlsFilesError";
  readonly code = "tls_files";
}

/** The PEM texts of `tls_cert`, `tls_key` and `tls_ca`, as far as the node uses them. */
export interface TlsMaterial {
  /** `tls_ca`, or null (system roots). */
  readonly ca: string | null;
  /** `tls_cert` and `tls_key`, or null when the node has none (or tls = false). */
  readonly pair: { readonly cert: string; readonly key: string } | null;
}

/**
 * Reads a PEM file as the config check did: a regular file under the size
 * bound, so a FIFO or a device swapped in since then is refused at once.
 */
async function readPem(path: string, what: string): Promise<string> {
  try {
    return await readRegularTextFile(path, MAX_PEM_BYTES);
  } catch (e) {
    const why = e instanceof ReadFileError ? e.message : errorText(e);
    throw new TlsFilesError(`${path}: cannot read ${what}: ${why}`);
  }
}

/** Reads the files `node` names; a {@link TlsFilesError} when one cannot be read. */
export async function readTlsMaterial(node: NodeConfig): Promise<TlsMaterial> {
  const ca = node.tls && node.tlsCa ? await readPem(node.tlsCa, "tls_ca") : null;
  // A listener needs them; a dialer presents them when asked (§11) and signs with them.
  if (!node.tls || (node.listenPort === null && !(node.tlsCert && node.tlsKey))) {
    return { ca, pair: null };
  }
  const cert = await readPem(node.tlsCert ?? "", "tls_cert");
  const key = await readPem(node.tlsKey ?? "", "tls_key");
  return { ca, pair: cert !== "" && key !== "" ? { cert, key } : null };
}

/** Throws a {@link TlsFilesError} when TLS cannot use the pair (a key that is not the cert's). */
export function checkTlsMaterial(node: NodeConfig, m: TlsMaterial): void {
  if (m.pair === null) return;
  let matches: boolean;
  try {
    tls.createSecureContext({ cert: m.pair.cert, key: m.pair.key, ca: m.ca ?? undefined });
    matches = new X509Certificate(m.pair.cert).checkPrivateKey(createPrivateKey(m.pair.key));
  } catch (e) {
    throw new TlsFilesError(
      `${node.tlsCert}, ${node.tlsKey}: TLS cannot use them: ${errorText(e)}`,
    );
  }
  if (!matches) {
    throw new TlsFilesError(
      `tls_key ${node.tlsKey} does not belong to tls_cert ${node.tlsCert} (copy both files of ` +
        "one portal gen-certs run); the node keeps the pair it has",
    );
  }
}

/** The PEMs in the form the access layer (signer, verifier) takes them. */
export function accessPems(m: TlsMaterial): AccessPems {
  return { cert: m.pair?.cert ?? null, key: m.pair?.key ?? null, ca: m.ca };
}

/** The certificates whose expiry the metrics show. */
export function watchedCertificates(m: TlsMaterial): WatchedCertificate[] {
  return [
    ...(m.pair !== null ? [{ key: "tls_cert" as const, pem: m.pair.cert }] : []),
    ...(m.ca !== null ? [{ key: "tls_ca" as const, pem: m.ca }] : []),
  ];
}

/**
 * The credentials new connections are made with. The federation dials
 * through {@link dialer}, which asks for the current ones on every dial; the
 * listener gets them once it is open.
 */
export class NodeCredentials {
  #material: TlsMaterial;
  #dial: Dialer;
  #listener: NodeTlsListener | null = null;
  readonly #node: NodeConfig;
  readonly #fixedDialer: Dialer | null;

  /** `fixedDialer`: a dialer given from outside (tests), used as it is. */
  constructor(node: NodeConfig, material: TlsMaterial, fixedDialer: Dialer | null = null) {
    this.#node = node;
    this.#material = material;
    this.#fixedDialer = fixedDialer;
    this.#dial = this.#dialerFor(material);
  }

  get material(): TlsMaterial {
    return this.#material;
  }

  /** What the federation dials with: always the credentials installed last. */
  readonly dialer: Dialer = (peer, signal) => this.#dial(peer, signal);

  /** The listener that takes new credentials on {@link install}. */
  set listener(l: NodeTlsListener | null) {
    this.#listener = l;
  }

  /**
   * New dials and new inbound connections use `m` from now on. True when it
   * differs from what was in use. Run {@link checkTlsMaterial} first: the
   * listener refuses a pair node:tls cannot use.
   */
  install(m: TlsMaterial, requireClientCert: boolean): boolean {
    const before = this.#material;
    const changed = before.ca !== m.ca || before.pair?.cert !== m.pair?.cert ||
      before.pair?.key !== m.pair?.key;
    if (!changed) return false;
    if (this.#listener !== null && m.pair !== null) {
      this.#listener.setCredentials({
        cert: m.pair.cert,
        key: m.pair.key,
        clientCa: requireClientCert ? m.ca : null,
      });
    }
    this.#material = m;
    this.#dial = this.#dialerFor(m);
    return true;
  }

  #dialerFor(m: TlsMaterial): Dialer {
    return this.#fixedDialer ??
      tcpTlsDialer({
        tls: this.#node.tls,
        caCerts: m.ca === null ? null : [m.ca],
        clientCert: m.pair,
      });
  }
}
