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
  noDelayListener,
  noDelayUnavailable,
  shutdownConnections,
  steerToNewest,
} from "./libc_sockets.ts";
import { type NodeTlsListener, TransportError } from "./types.ts";

/**
 * Why the native listener cannot serve these options here, or null when it
 * can: it cannot ask for client certificates, and it needs libc_sockets.ts.
 */
export function nativeListenerUnavailable(options: { clientCa?: string | null }): string | null {
  if ((options.clientCa ?? null) !== null) {
    return "tls_client_auth = require needs client certificates, which only node:tls asks for";
  }
  return noDelayUnavailable();
}

/**
 * Binds the native TLS listener. Bounds, fairness and deadlines are those of
 * admission.ts; `clientCa` must be unset (see {@link nativeListenerUnavailable}).
 */
export function openNativeTlsListener(options: TlsListenOptions): Promise<NodeTlsListener> {
  const where = hostPortText(options.hostname, options.port);
  const unavailable = nativeListenerUnavailable(options);
  if (unavailable !== null) {
    return Promise.reject(
      new TransportError("listen_failed", `cannot listen on ${where}: ${unavailable}`),
    );
  }
  let inner: Deno.TlsListener;
  try {
    // Nobody may hold the port already: the listener itself shares its port (below).
    if (options.port !== 0) Deno.listen({ hostname: options.hostname, port: options.port }).close();
    inner = bind(options.hostname, options.port, options.cert, options.key);
  } catch (e) {
    return Promise.reject(
      new TransportError("listen_failed", `cannot listen on ${where}: ${errorText(e)}`),
    );
  }
  const reaper = new Reaper(options.port === 0 ? inner.addr.port : options.port, options.clock);
  // Handshakes that ended (either way): closing those frees their socket at once.
  const settled = new WeakSet<Deno.TlsConn>();
  const admission = admit(inner, options, (a, admission) => {
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
  }, () => reaper.releasing);
  const port = admission.addr.port;
  return Promise.resolve({
    addr: admission.addr,
    setCredentials(c) {
      // Deno's listener keeps its certificate for life: a second one on the same
      // port takes every new connection, and the first drains and closes (its
      // open connections stay).
      let next: Deno.TlsListener | null = null;
      try {
        next = bind(options.hostname, port, c.cert, c.key);
        const why = steerToNewest(port);
        if (why !== null) throw new Error(why);
      } catch (e) {
        next?.close();
        throw new TransportError(
          "listen_failed",
          `cannot use the new certificate: ${errorText(e)}`,
        );
      }
      admission.replaceListener(next, DRAIN_MS);
    },
    accept: () => admission.accept(),
    close: () => {
      admission.close();
      reaper.stop();
    },
  });
}

/** How long a replaced listener goes on accepting what reached it before the switch. */
const DRAIN_MS = 1000;

/** How long the runtime gets to release the sockets of one scan before accepting goes on. */
const RELEASE_MS = 2;

/** Shortest wait before a scan: closes of one burst go into one batch. */
const MIN_REAP_MS = 5;
/**
 * The wait before the next scan is this many times the last scan's duration:
 * a flood against a hub with thousands of links (a scan of 16 000
 * descriptors takes 10–20 ms) costs it at most a fifth of a core.
 */
const REAP_BACKOFF = 4;
/**
 * Closed connections waiting for a scan, at most: each holds a descriptor
 * beyond `max_connections`, so a flood's batch is shut down at once when it
 * reaches this, and the process never runs out of descriptors for them.
 */
const REAP_BATCH = 16;

/**
 * Shuts down the sockets of connections closed in their handshake
 * (libc_sockets.ts shutdownConnections), in batches: one scan of the
 * descriptors per batch, however many a flood closed.
 */
class Reaper {
  readonly #port: number;
  readonly #clock: Clock;
  #due = new Set<string>();
  #timer: TimerHandle | null = null;
  #waitMs = MIN_REAP_MS;
  #releasing: { promise: Promise<void>; timer: TimerHandle } | null = null;

  constructor(port: number, clock: Clock = systemClock) {
    this.#port = port;
    this.#clock = clock;
  }

  add(remote: Deno.NetAddr): void {
    this.#due.add(connectionKey(remote.hostname, remote.port));
    if (this.#due.size >= REAP_BATCH) return this.#flush();
    this.#timer ??= this.#clock.setTimeout(() => this.#reap(), this.#waitMs);
  }

  /**
   * While the sockets just shut down are being released by the runtime (it
   * closes them a little later, on its own tasks), a promise: the accept
   * loop waits for it rather than take descriptors faster than they are
   * given back.
   */
  get releasing(): Promise<void> | null {
    return this.#releasing?.promise ?? null;
  }

  /** Shuts down what is due now, and waits for nothing more (the listener closed). */
  stop(): void {
    this.#flush();
    if (this.#releasing !== null) {
      this.#clock.clear(this.#releasing.timer);
      this.#releasing = null;
    }
  }

  #flush(): void {
    if (this.#timer !== null) this.#clock.clear(this.#timer);
    this.#reap();
  }

  #reap(): void {
    this.#timer = null;
    const due = this.#due;
    this.#due = new Set();
    const t0 = performance.now();
    const shut = shutdownConnections(this.#port, due);
    this.#waitMs = Math.max(MIN_REAP_MS, REAP_BACKOFF * (performance.now() - t0));
    if (shut > 0 && this.#releasing === null) {
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = this.#clock.setTimeout(() => {
        this.#releasing = null;
        resolve();
      }, RELEASE_MS);
      this.#releasing = { promise, timer };
    }
  }
}

/** A Deno TLS listener sharing its port (for a certificate change), Nagle off. */
function bind(hostname: string, port: number, cert: string, key: string): Deno.TlsListener {
  // rustls takes a key that is not the certificate's; every handshake would fail.
  const mismatch = keyMismatch(cert, key);
  if (mismatch !== null) throw new Error(mismatch);
  const listener = Deno.listenTls({ hostname, port, cert, key, reusePort: true });
  const why = noDelayListener(listener.addr.port);
  if (why !== null) {
    listener.close();
    throw new Error(why);
  }
  return listener;
}
