/**
 * The federation's TLS listener on Deno's own TLS (rustls, in the runtime):
 * no stream bridge per connection, which makes it the cheaper of the two
 * listeners (about 30 % less hub CPU per relayed message and half the memory
 * per idle link, docs/performance.md). Deno gives its TLS connections no
 * setNoDelay; libc_sockets.ts turns Nagle off on the listening socket instead,
 * which accepted connections inherit. Where that cannot be done, or where
 * client certificates must be asked for, node_tls.ts is used instead
 * ({@link nativeListenerUnavailable}).
 */
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { hostPortText } from "../util/host.ts";
import { admit, keyMismatch, type TlsListenOptions } from "./admission.ts";
import {
  connectionKey,
  listeningSockets,
  noDelayAccepted,
  noDelayListener,
  noDelayUnavailable,
  shutdownConnections,
  steerTo,
} from "./libc_sockets.ts";
import { type NodeTlsListener, TransportError } from "./types.ts";

const CLIENT_CERTS =
  "tls_client_auth = require needs client certificates, which only node:tls asks for";

/**
 * Why the native listener cannot serve these options here, or null when it
 * can: it cannot ask for client certificates, and it needs libc_sockets.ts.
 */
export function nativeListenerUnavailable(options: { clientCa?: string | null }): string | null {
  if ((options.clientCa ?? null) !== null) return CLIENT_CERTS;
  return noDelayUnavailable();
}

/**
 * Binds the native TLS listener. Bounds, fairness and deadlines are those of
 * admission.ts; `clientCa` must be unset (see {@link nativeListenerUnavailable}).
 */
export function openNativeTlsListener(options: TlsListenOptions): Promise<NodeTlsListener> {
  const where = hostPortText(options.hostname, options.port);
  // Without libc's socket calls, binding says so below (as "native_unavailable" too).
  if ((options.clientCa ?? null) !== null) {
    return Promise.reject(
      new TransportError("native_unavailable", `cannot listen on ${where}: ${CLIENT_CERTS}`),
    );
  }
  const clock = options.clock ?? systemClock;
  let inner: Deno.TlsListener;
  try {
    // Nobody may hold the port already: the listener itself shares its port (below).
    if (options.port !== 0) Deno.listen({ hostname: options.hostname, port: options.port }).close();
    // rustls takes a key that is not the certificate's; every handshake would fail.
    const mismatch = keyMismatch(options.cert, options.key);
    if (mismatch !== null) throw new Error(mismatch);
    inner = bind(options.hostname, options.port, options.cert, options.key);
  } catch (e) {
    const code = e instanceof TransportError ? e.code : "listen_failed";
    return Promise.reject(
      new TransportError(code, `cannot listen on ${where}: ${errorText(e)}`),
    );
  }
  const port = inner.addr.port;
  // Connections the kernel completed before Nagle was off on the listening socket keep it on.
  noDelayAccepted(port);
  // Connections still held here, by remote: a closed one's key is never shut down while a
  // newer connection from the same address and port is open.
  const held = new Map<string, number>();
  const reaper = new Reaper(port, clock, (key) => held.has(key));
  // Handshakes that ended (either way): closing those frees their socket at once.
  const settled = new WeakSet<Deno.TlsConn>();
  const admission = admit(inner, options, (a, admission) => {
    const key = connectionKey(a.conn.remoteAddr.hostname, a.conn.remoteAddr.port);
    held.set(key, (held.get(key) ?? 0) + 1);
    a.onClose = () => {
      const n = (held.get(key) ?? 1) - 1;
      if (n > 0) held.set(key, n);
      else held.delete(key);
    };
    a.conn.handshake().then(
      () =>
        admission.handOver(a, {
          // The connection itself is the byte stream; closing it frees its admission too.
          conn: {
            read: (p) => a.conn.read(p),
            write: (p) => a.conn.write(p),
            close: () => a.close(),
          },
          remote: a.remote,
        }),
      (e) => {
        settled.add(a.conn);
        // A client that leaves without a byte (a port probe, a flood) is not worth a line.
        const quiet = e instanceof Deno.errors.UnexpectedEof ||
          e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BadResource;
        admission.fail(a, quiet ? null : errorText(e));
      },
    );
  }, (conn) => {
    if (!settled.has(conn)) reaper.add(conn.remoteAddr);
  }, () => reaper.backlog);

  // A certificate change: a second listening socket on the port, Nagle off before it takes
  // anything, then every new connection goes to it (steerTo) while the first one drains.
  // The kernel numbers a port group's sockets in join order, so this needs the port to hold
  // exactly the current socket; while an earlier change drains, the newest credentials
  // wait until it is gone.
  /** Credentials waiting for an earlier change to drain. */
  let pending: { cert: string; key: string } | null = null;
  /** The pair new connections get now. */
  let serving = { cert: options.cert, key: options.key };
  let retry: TimerHandle | null = null;
  let retries = 0;
  const apply = (c: { cert: string; key: string }) => {
    let next: Deno.TlsListener | null = null;
    try {
      const keep = steerTo(port, 0);
      if (keep !== null) throw new Error(keep);
      next = bind(options.hostname, port, c.cert, c.key);
      const why = steerTo(port, 1);
      if (why !== null) throw new Error(why);
    } catch (e) {
      next?.close();
      throw new TransportError("listen_failed", `cannot use the new certificate: ${errorText(e)}`);
    }
    admission.replaceListener(next, DRAIN_MS);
  };
  const applyWhenAlone = () => {
    retry = null;
    if (pending === null) return;
    if (listeningSockets(port) !== 1 && ++retries < SETTLE_TRIES) {
      retry = clock.setTimeout(applyWhenAlone, SETTLE_MS);
      return;
    }
    const c = pending;
    pending = null;
    retries = 0;
    try {
      apply(c);
      serving = c;
    } catch (e) {
      options.onCertificateError?.(errorText(e));
    }
  };
  return Promise.resolve({
    addr: admission.addr,
    setCredentials(c) {
      // Checked here, once, so that a change that has to wait is refused at once too.
      const mismatch = keyMismatch(c.cert, c.key);
      if (mismatch !== null) {
        throw new TransportError("listen_failed", `cannot use the new certificate: ${mismatch}`);
      }
      // This listener asks for no client certificate: a new CA alone changes nothing here.
      const wanted = pending ?? serving;
      if (c.cert === wanted.cert && c.key === wanted.key) return;
      if (!admission.draining && pending === null && listeningSockets(port) === 1) {
        apply(c);
        serving = { cert: c.cert, key: c.key };
        return;
      }
      // An earlier change is still draining: end it, and apply these once its socket is gone.
      pending = { cert: c.cert, key: c.key };
      admission.endDrains();
      retry ??= clock.setTimeout(applyWhenAlone, SETTLE_MS);
    },
    accept: () => admission.accept(),
    close: () => {
      if (retry !== null) clock.clear(retry);
      retry = null;
      pending = null;
      admission.close();
      reaper.stop();
    },
  });
}

/** How long a replaced listener goes on accepting what reached it before the switch. */
const DRAIN_MS = 1000;
/** How often, and how many times, a waiting certificate change looks for the port to hold one socket. */
const SETTLE_MS = 20;
const SETTLE_TRIES = 50;

/** How long the runtime gets to release the sockets of one scan before accepting goes on. */
const RELEASE_MS = 2;
/** Shortest wait between two scans: closes of one burst go into one scan. */
const MIN_REAP_MS = 5;
/**
 * The wait after a scan is at least this many times the scan's duration
 * (about 1 µs per descriptor held): a flood costs a hub with thousands of
 * links at most a fifth of a core in scans.
 */
const REAP_BACKOFF = 4;
/**
 * Closed connections waiting for a scan beyond which accepting waits for it:
 * each holds a descriptor beyond `max_connections`, so they stay few.
 */
const REAP_BATCH = 16;

/**
 * Shuts down the sockets of connections closed in their handshake
 * (libc_sockets.ts shutdownConnections), in batches: one scan of the
 * descriptors per batch, however many a flood closed, and never more often
 * than {@link REAP_BACKOFF} allows.
 */
class Reaper {
  readonly #port: number;
  readonly #clock: Clock;
  readonly #inUse: (key: string) => boolean;
  #due = new Set<string>();
  #timer: TimerHandle | null = null;
  #nextAt = 0;
  /** Resolved after the next scan (and the runtime's release of what it shut down). */
  #scanned: PromiseWithResolvers<void> | null = null;
  #release: TimerHandle | null = null;
  #stopped = false;

  constructor(port: number, clock: Clock, inUse: (key: string) => boolean) {
    this.#port = port;
    this.#clock = clock;
    this.#inUse = inUse;
  }

  add(remote: Deno.NetAddr): void {
    this.#due.add(connectionKey(remote.hostname, remote.port));
    // After the listener closed (a connection its accept loop took as it stopped): at once.
    if (this.#stopped) {
      this.#scan();
      return;
    }
    this.#timer ??= this.#clock.setTimeout(
      () => this.#reap(),
      Math.max(0, this.#nextAt - this.#clock.now()),
    );
  }

  /**
   * While {@link REAP_BATCH} or more wait for a scan, a promise that resolves
   * after it: the accept loop waits rather than take more descriptors.
   */
  get backlog(): Promise<void> | null {
    if (this.#due.size < REAP_BATCH && this.#release === null) return null;
    this.#scanned ??= Promise.withResolvers<void>();
    return this.#scanned.promise;
  }

  /** Shuts down what is due now and waits for nothing more (the listener closed). */
  stop(): void {
    this.#stopped = true;
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#timer = null;
    if (this.#release !== null) this.#clock.clear(this.#release);
    this.#release = null;
    this.#scan();
    this.#scanned?.resolve();
    this.#scanned = null;
  }

  #reap(): void {
    this.#timer = null;
    const shut = this.#scan();
    if (shut === 0) return this.#wake();
    // The runtime closes what was shut down a little later, on its own tasks.
    this.#release = this.#clock.setTimeout(() => {
      this.#release = null;
      this.#wake();
    }, RELEASE_MS);
  }

  #scan(): number {
    const due = [...this.#due].filter((k) => !this.#inUse(k));
    this.#due = new Set();
    const t0 = performance.now();
    const shut = shutdownConnections(this.#port, new Set(due));
    this.#nextAt = this.#clock.now() +
      Math.max(MIN_REAP_MS, REAP_BACKOFF * (performance.now() - t0));
    return shut;
  }

  #wake(): void {
    const s = this.#scanned;
    this.#scanned = null;
    s?.resolve();
  }
}

/** A Deno TLS listener sharing its port (for a certificate change), Nagle off. */
function bind(hostname: string, port: number, cert: string, key: string): Deno.TlsListener {
  const listener = Deno.listenTls({ hostname, port, cert, key, reusePort: true });
  const why = noDelayListener(listener.addr.port);
  if (why !== null) {
    listener.close();
    throw new TransportError("native_unavailable", why);
  }
  return listener;
}
