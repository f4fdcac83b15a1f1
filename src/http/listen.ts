/**
 * The API's HTTP/1.1 server: its listener, its connections, and their bounds.
 * Deno.serve has no header-read or idle timeout and no view of connections
 * (measured on Deno 2.9.6: idle and half-sent connections stayed open for
 * good), so the server runs its own accept loop and connections (conn.ts):
 * at most `maxConnections` at once, of which those that have not sent a whole
 * request yet are bounded per source address like unauthenticated federation
 * links (transport/gate.ts), idle kept-alive ones giving way first.
 */
import { acceptLoop } from "../transport/accept.ts";
import { FairGate, sourceOf } from "../transport/gate.ts";
import type { Clock } from "../util/clock.ts";
import { hostPortText } from "../util/host.ts";
import { HttpConnection, type HttpHandler } from "./conn.ts";

/** Options of {@link serveHttp}. */
export interface HttpServerOptions {
  readonly hostname: string;
  readonly port: number;
  readonly handler: HttpHandler;
  readonly clock: Clock;
  /** Time for a request head to arrive whole (from the accept, or its first byte). Default 10 s. */
  readonly headerTimeoutMs?: number;
  /** Time a kept-alive connection may stay idle between requests. Default 5 s. */
  readonly idleTimeoutMs?: number;
  /** Time one write may take. Default 30 s. */
  readonly sendTimeoutMs?: number;
  /** Connections held at once. Default 256. */
  readonly maxConnections?: number;
  /** Connections one source address may hold before sending a whole request. Default 64 (a program may open dozens at once). */
  readonly maxPendingPerSource?: number;
  /** A connection closed at once (or idle one closed to make room), and why. */
  readonly onRefused?: (remote: string, reason: string) => void;
  /** Accept failed for want of file descriptors; accepting pauses `pauseMs`. */
  readonly onExhausted?: (reason: string, pauseMs: number) => void;
  /** Accepting works again, after `failures` failed tries. */
  readonly onResumed?: (failures: number) => void;
  /** A handler threw (the request was answered 500). */
  readonly onHandlerError?: (message: string) => void;
}

/** A running server. */
export interface HttpServer {
  readonly addr: { readonly hostname: string; readonly port: number };
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting, closes idle connections, lets answers in flight finish
   * (their requests' signals abort at once, unless `finish`: then they run to
   * their answer), and closes whatever is left after `graceMs`.
   */
  shutdown(graceMs?: number, options?: { readonly finish?: boolean }): Promise<void>;
}

interface Held {
  readonly conn: HttpConnection;
  readonly source: string;
  /** Resolves when the connection has ended. */
  done: Promise<void>;
}

/** Binds `hostname:port` and serves `handler`; throws what Deno.listen throws. */
export function serveHttp(options: HttpServerOptions): HttpServer {
  const { clock } = options;
  const maxConnections = Math.max(1, options.maxConnections ?? 256);
  const pending = new FairGate<Held>({
    perSource: Math.min(options.maxPendingPerSource ?? 64, maxConnections),
    total: maxConnections,
    what: "connections that have not sent a request",
  });
  const live = new Set<Held>();
  /** Idle kept-alive connections, oldest first: the first to go when the server is full. */
  const idle = new Set<Held>();
  const listener = Deno.listen({ hostname: options.hostname, port: options.port });
  let closing = false;

  /** Closes a held connection and frees its place at once (its run ends later). */
  const drop = (h: Held) => {
    live.delete(h);
    idle.delete(h);
    pending.release(h.source, h);
    h.conn.close();
  };

  const refuse = (conn: Deno.Conn, remote: string, reason: string) => {
    options.onRefused?.(remote, reason);
    try {
      conn.close();
    } catch {
      // Gone already.
    }
  };

  /** Frees one place for a newcomer from `source`; false when nothing may give way. */
  const makeRoom = (source: string): boolean => {
    const oldestIdle = idle.values().next();
    if (!oldestIdle.done) {
      options.onRefused?.(oldestIdle.value.conn.remote, "idle connection closed to make room");
      drop(oldestIdle.value);
      return true;
    }
    const victim = pending.victimFor(source);
    if (victim === null) return false;
    options.onRefused?.(
      victim.item.conn.remote,
      `closed to make room: ${victim.source} holds the most connections without a request`,
    );
    drop(victim.item);
    return true;
  };

  const onConn = (conn: Deno.TcpConn) => {
    const addr = conn.remoteAddr;
    const remote = hostPortText(addr.hostname, addr.port);
    const source = sourceOf(addr.hostname);
    if (closing) return refuse(conn, remote, "the server is stopping");
    if (live.size >= maxConnections && !makeRoom(source)) {
      return refuse(conn, remote, `${live.size} connections are open (the API's bound)`);
    }
    try {
      conn.setNoDelay(true);
    } catch {
      return refuse(conn, remote, "the connection failed at once");
    }
    let held: Held | null = null;
    const connection = new HttpConnection(conn, remote, {
      handler: options.handler,
      clock,
      headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 5_000,
      sendTimeoutMs: options.sendTimeoutMs ?? 30_000,
      onFirstHead: () => pending.release(source, held!),
      onIdle: (isIdle) => {
        if (isIdle) idle.add(held!);
        else idle.delete(held!);
      },
      onHandlerError: (m) => options.onHandlerError?.(m),
    });
    const entry: Held = { conn: connection, source, done: Promise.resolve() };
    held = entry;
    const verdict = pending.admit(source, entry);
    if (verdict.kind === "refused") return refuse(conn, remote, verdict.reason);
    if (verdict.shed !== null) {
      options.onRefused?.(verdict.shed.conn.remote, "closed to make room for another address");
      drop(verdict.shed);
    }
    live.add(entry);
    entry.done = connection.run().finally(() => {
      loop.wake();
      live.delete(entry);
      idle.delete(entry);
      pending.release(source, entry);
    });
  };

  const loop = acceptLoop(listener, onConn, {
    clock,
    onExhausted: options.onExhausted,
    onResumed: options.onResumed,
  });
  let stopped: Promise<void> | null = null;
  return {
    addr: { hostname: listener.addr.hostname, port: listener.addr.port },
    get connections() {
      return live.size;
    },
    shutdown(graceMs = 2000, how = {}) {
      stopped ??= (async () => {
        closing = true;
        loop.stop();
        try {
          listener.close();
        } catch {
          // Closed already.
        }
        await loop.done;
        const all = [...live];
        for (const h of all) h.conn.stop("the HTTP API is shutting down", how.finish ?? false);
        let timer: unknown = null;
        const late = new Promise<void>((resolve) => {
          timer = clock.setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.all(all.map((h) => h.done)), late]);
        clock.clear(timer);
        for (const h of [...live]) h.conn.close();
        await Promise.all(all.map((h) => h.done));
      })();
      return stopped;
    },
  };
}
