/**
 * What both federation TLS listeners do between the kernel's accept and a
 * finished TLS handshake: bound the open connections (`max_connections`),
 * admit the unauthenticated ones fairly by source address (gate.ts), give
 * each handshake a deadline on one shared timer, survive descriptor
 * exhaustion (accept.ts), and queue the connections that made it for
 * `accept()`. The listeners differ only in how they run the handshake:
 * Deno's own TLS (native_tls.ts) or node:tls (node_tls.ts).
 */
import { createPrivateKey, X509Certificate } from "node:crypto";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";
import { formatDuration } from "../util/format.ts";
import { hostPortText } from "../util/host.ts";
import { SharedTimers } from "../util/timers.ts";
import { type AcceptLoop, acceptLoop } from "./accept.ts";
import { DEFAULT_PER_SOURCE, DEFAULT_TOTAL, FairGate, sourceOf } from "./gate.ts";
import type { RawConn } from "./types.ts";

/** Options of either TLS listener (native_tls.ts, node_tls.ts). */
export interface TlsListenOptions {
  readonly hostname: string;
  readonly port: number;
  /** PEM text. */
  readonly cert: string;
  readonly key: string;
  /**
   * PEM CA bundle: when set, a dialer must present a certificate signed by it
   * (`tls_client_auth = require`, PORTAL02.md §11), whose names then go on
   * `RawConn.certNames`. Default none: no client certificate is asked for.
   * Only the node:tls listener can ask for one.
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
  /**
   * A certificate change that had to wait (an earlier one was still taking
   * effect) failed when it was applied; the certificate in use stays.
   */
  readonly onCertificateError?: (message: string) => void;
}

/** Descriptors left spare below the count at which accept ran out, for refusing and housekeeping. */
const EXHAUSTED_SPARE = 16;

/** One accepted connection, from the TCP accept until it closes. */
export class Accepted<C extends Deno.Conn> {
  timer: TimerHandle | null = null;
  /** Its handshake is done and it was handed over (or is queued for accept()). */
  handedOver = false;
  /** What the handshake built on top of the socket, closed with it. */
  onClose: (() => void) | null = null;
  #closed = false;

  constructor(
    readonly conn: C,
    readonly remote: string,
    readonly source: string,
    readonly onGone: (a: Accepted<C>) => void,
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
    this.onClose?.();
  }
}

/** The listener-side view of admission, for the handshake that runs on top of it. */
export interface Admission<C extends Deno.Conn> {
  readonly addr: { readonly hostname: string; readonly port: number };
  readonly options: TlsListenOptions;
  /** The handshake of `a` finished: queue it for accept() as `raw`. */
  handOver(a: Accepted<C>, raw: Omit<RawConn, "authenticated">): void;
  /** The handshake of `a` failed: log `message` (null: not worth a line) and close it. */
  fail(a: Accepted<C>, message: string | null): void;
  /**
   * Accepts from `next` from now on; the listener used so far goes on
   * accepting for `drainMs` (what reached it before new connections were
   * sent to `next`), then closes.
   */
  replaceListener(next: Deno.Listener<C>, drainMs: number): void;
  /** Whether a replaced listener is still draining. */
  readonly draining: boolean;
  /** Closes replaced listeners now instead of at the end of their drain. */
  endDrains(): void;
  accept(): Promise<RawConn>;
  close(): void;
}

/**
 * Runs the accept loop of `first` with the bounds above and calls
 * `handshake` for each admitted connection, which ends in `handOver` or
 * `fail` (or the deadline, which closes it). `closedEarly` hears of every
 * connection closed before it was handed over (refused, shed, failed, late);
 * `beforeAccept` may hold the next accept back (acceptLoop).
 */
export function admit<C extends Deno.Conn>(
  first: Deno.Listener<C>,
  options: TlsListenOptions,
  handshake: (a: Accepted<C>, admission: Admission<C>) => void,
  closedEarly?: (conn: C) => void,
  beforeAccept?: () => Promise<void> | null,
): Admission<C> {
  // Handshake deadlines of a join storm (and accept pauses) share one runtime timer.
  const clock = new SharedTimers(options.clock ?? systemClock);
  let inner = first;
  const firstAddr = first.addr as Deno.NetAddr;
  const handshakeMs = options.handshakeTimeoutMs ?? 5000;
  let maxConnections = options.maxConnections ?? 4096;
  const gate = new FairGate<Accepted<C>>({
    perSource: options.maxUnauthenticatedPerSource ?? DEFAULT_PER_SOURCE,
    total: options.maxUnauthenticated ?? DEFAULT_TOTAL,
  });
  const queue: RawConn[] = [];
  let waiting: { resolve: (c: RawConn) => void; reject: (e: Error) => void } | null = null;
  let closed = false;
  const live = new Set<Accepted<C>>();
  /** Listeners replaced and still taking what reached them before the switch. */
  const draining = new Set<
    { inner: Deno.Listener<C>; loop: AcceptLoop; timer: TimerHandle | null }
  >();
  const clearTimer = (a: Accepted<C>) => {
    if (a.timer !== null) clock.clear(a.timer);
    a.timer = null;
  };
  const gone = (a: Accepted<C>) => {
    live.delete(a);
    if (!a.handedOver) closedEarly?.(a.conn);
    // A descriptor is free again: an accept paused for want of one may go on now.
    loop.wake();
    gate.release(a.source, a);
    clearTimer(a);
  };

  const admission: Admission<C> = {
    addr: { hostname: firstAddr.hostname, port: firstAddr.port },
    options,
    handOver(a, raw) {
      clearTimer(a);
      a.handedOver = true;
      if (a.closed || closed) {
        a.close();
        return;
      }
      const conn: RawConn = { ...raw, authenticated: () => gate.release(a.source, a) };
      if (waiting) {
        const w = waiting;
        waiting = null;
        w.resolve(conn);
      } else {
        queue.push(conn);
      }
    },
    fail(a, message) {
      if (a.closed) return;
      if (message !== null) options.onTlsError?.(a.remote, message);
      a.close();
    },
    replaceListener(next, drainMs) {
      if (closed) {
        next.close();
        return;
      }
      const old: { inner: Deno.Listener<C>; loop: AcceptLoop; timer: TimerHandle | null } = {
        inner,
        loop,
        timer: null,
      };
      inner = next;
      loop = startLoop(next);
      draining.add(old);
      const retire = () => {
        if (!draining.delete(old)) return;
        old.loop.stop();
        try {
          old.inner.close();
        } catch {
          // Closed already.
        }
      };
      old.timer = clock.setTimeout(retire, drainMs);
    },
    get draining() {
      return draining.size > 0;
    },
    endDrains() {
      for (const d of [...draining]) {
        draining.delete(d);
        if (d.timer !== null) clock.clear(d.timer);
        d.loop.stop();
        try {
          d.inner.close();
        } catch {
          // Closed already.
        }
      }
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
      admission.endDrains();
      loop.stop();
      try {
        inner.close();
      } catch {
        // Closed already.
      }
      for (const r of queue.splice(0)) r.conn.close();
      // Connections still in their TLS handshake belong to nobody else.
      for (const a of [...live]) if (!a.handedOver) a.close();
      waiting?.reject(new Error("listener closed"));
      waiting = null;
    },
  };

  const onConn = (conn: C) => {
    const addr = conn.remoteAddr as Deno.NetAddr;
    const remote = hostPortText(addr.hostname, addr.port);
    const source = sourceOf(addr.hostname);
    const refuse = (reason: string) => {
      options.onRefused?.(remote, reason);
      try {
        conn.close();
      } catch {
        // Gone already.
      }
      closedEarly?.(conn);
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
    a.timer = clock.setTimeout(() => {
      a.timer = null;
      admission.fail(a, `TLS handshake timeout: not done within ${formatDuration(handshakeMs)}`);
    }, handshakeMs);
    handshake(a, admission);
  };

  const startLoop = (l: Deno.Listener<C>) =>
    acceptLoop(l, onConn, {
      clock,
      onExhausted: (reason, pauseMs) => {
        maxConnections = Math.min(maxConnections, Math.max(16, live.size - EXHAUSTED_SPARE));
        options.onExhausted?.(reason, pauseMs, maxConnections);
      },
      onResumed: options.onResumed,
      beforeAccept,
      onDiscarded: closedEarly ? (conn) => closedEarly(conn as C) : undefined,
    });
  let loop = startLoop(inner);
  return admission;
}

/** Why `key` cannot serve `cert` (not its private key), or null; TLS stacks take such a pair. */
export function keyMismatch(cert: string, key: string): string | null {
  return new X509Certificate(cert).checkPrivateKey(createPrivateKey(key))
    ? null
    : "the key is not the certificate's private key";
}
