/**
 * `GET /api/events?path=P[&path=Q…]`: this node's event listeners as a
 * Server-Sent Events stream, for people (the dashboard) and programs (curl,
 * the shell's `watch`). Each `path` is a listener on the event hub, local
 * (`/iot/devices`) or on another node (`/node/factory/iot/devices`, through
 * a subscription the hub shares and renews). A stream is bounded: a client
 * that reads too slowly loses the oldest events (counted, and told with an
 * `event: dropped`), and a client that goes away stops its listeners at once.
 *
 * The stream: `retry:` and `event: hello` (`{node, paths, role}`) first, then
 * `event: change` with `id:` and `data: {"topic", "data", "time"}` per event,
 * and a `: keep-alive` comment whenever it was quiet for `keepAliveMs`.
 */
import type { CallerRole } from "../paths/types.ts";
import { type Clock, systemClock, type TimerHandle } from "../util/clock.ts";

/** Where the events come from (the node's EventHub). */
export interface EventSource {
  /** Calls `deliver` for every event at or below `path`; returns the function that stops it. */
  listen(path: string, deliver: (e: { topic: string; data: unknown }) => void): () => void;
}

/** Options of {@link EventStreams}. */
export interface EventStreamsOptions {
  readonly source: EventSource;
  /** This node's name (said in `hello`). */
  readonly node: string;
  /** Whether `name` is a node a listener may name in `/node/<name>/…` (this one or a known peer). */
  readonly knows: (name: string) => boolean;
  /** Default the system clock. */
  readonly clock?: Clock;
  /** Streams open at once; more are answered 503. Default 32. */
  readonly maxStreams?: number;
  /** `path` parameters of one stream. Default 64 (a hub's dashboard follows every site). */
  readonly maxPaths?: number;
  /** Events waiting for one slow client; beyond it the oldest go. Default 256. */
  readonly queueLimit?: number;
  /** Quiet time after which a comment keeps proxies and clients from timing out. Default 15 s. */
  readonly keepAliveMs?: number;
}

/** The answer to a request that opened no stream. */
export interface StreamRefusal {
  readonly status: number;
  readonly error: string;
}

const encoder = new TextEncoder();
const MAX_PATH_CHARS = 1024;

/** The SSE streams of one HTTP API. */
export class EventStreams {
  readonly #o: Required<Omit<EventStreamsOptions, "clock">> & { clock: Clock };
  #active = 0;
  #dropped = 0;
  #seq = 0;

  constructor(options: EventStreamsOptions) {
    this.#o = {
      clock: systemClock,
      maxStreams: 32,
      maxPaths: 64,
      queueLimit: 256,
      keepAliveMs: 15_000,
      ...options,
    };
  }

  /** Streams open now. */
  get active(): number {
    return this.#active;
  }

  /** Events dropped because a client read too slowly, since start. */
  get dropped(): number {
    return this.#dropped;
  }

  /** The paths a request asks for, or why it cannot have them. */
  paths(url: URL): string[] | StreamRefusal {
    for (const key of url.searchParams.keys()) {
      if (key !== "path") {
        return { status: 400, error: `unknown query parameter '${key}' (the stream takes path=)` };
      }
    }
    const raw = url.searchParams.getAll("path");
    if (raw.length === 0) {
      return {
        status: 400,
        error: "say what to stream: /api/events?path=/iot/devices (repeat path= for more)",
      };
    }
    if (raw.length > this.#o.maxPaths) {
      return { status: 400, error: `at most ${this.#o.maxPaths} paths per stream` };
    }
    const paths: string[] = [];
    for (const p of raw) {
      if (!p.startsWith("/") || p.length > MAX_PATH_CHARS || hasControl(p)) {
        return { status: 400, error: `'${p.slice(0, 100)}' is not an absolute path` };
      }
      const path = p.length > 1 ? p.replace(/\/+$/, "") : p;
      const m = /^\/node\/([^/]+)/.exec(path);
      if (m !== null && !["peers", "status", "audit"].includes(m[1])) {
        let name: string;
        try {
          name = decodeURIComponent(m[1]);
        } catch {
          return { status: 400, error: `malformed percent-encoding in '${p.slice(0, 100)}'` };
        }
        if (!this.#o.knows(name)) {
          return {
            status: 404,
            error: `unknown node '${name}': ${this.#o.node} has no [peer:${name}] section ` +
              "and no route to it",
          };
        }
      }
      paths.push(path);
    }
    return paths;
  }

  /**
   * Opens a stream of the events under `paths`; it ends when `signal` aborts (the
   * client left, or the API stops) or the client cancels it.
   */
  open(paths: readonly string[], role: CallerRole, signal: AbortSignal): Response | StreamRefusal {
    if (this.#active >= this.#o.maxStreams) {
      return {
        status: 503,
        error: `this node already serves ${this.#active} event streams (at most ` +
          `${this.#o.maxStreams}); close one, or follow several paths in one stream`,
      };
    }
    const { clock, queueLimit, keepAliveMs } = this.#o;
    let queue: string[] = [];
    let droppedSinceSent = 0;
    let wake: (() => void) | null = null;
    let closed = false;
    let timer: TimerHandle | null = null;
    const stops: (() => void)[] = [];

    const push = (chunk: string) => {
      if (closed) return;
      queue.push(chunk);
      if (queue.length > queueLimit) {
        queue.shift();
        droppedSinceSent++;
        this.#dropped++;
      }
      wake?.();
    };
    const close = () => {
      if (closed) return;
      closed = true;
      this.#active--;
      for (const stop of stops) stop();
      if (timer !== null) clock.clear(timer);
      signal.removeEventListener("abort", close);
      wake?.();
    };
    const keepAlive = () => {
      timer = clock.setTimeout(() => {
        if (queue.length === 0) push(": keep-alive\n\n");
        keepAlive();
      }, keepAliveMs);
    };

    try {
      for (const path of paths) {
        stops.push(this.#o.source.listen(path, (e) => {
          const time = new Date().toISOString();
          push(
            `event: change\nid: ${++this.#seq}\ndata: ${
              JSON.stringify({ topic: e.topic, data: e.data, time })
            }\n\n`,
          );
        }));
      }
    } catch (e) {
      for (const stop of stops) stop();
      return { status: 503, error: `cannot follow more events now: ${(e as Error).message}` };
    }
    this.#active++;
    push(
      `retry: 3000\nevent: hello\ndata: ${JSON.stringify({ node: this.#o.node, paths, role })}\n\n`,
    );
    keepAlive();
    if (signal.aborted) close();
    else signal.addEventListener("abort", close, { once: true });

    const body = new ReadableStream<Uint8Array>({
      pull: async (controller) => {
        while (queue.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
        wake = null;
        if (queue.length === 0) {
          controller.close();
          return;
        }
        let text = queue.join("");
        queue = [];
        if (droppedSinceSent > 0) {
          text = `event: dropped\ndata: {"count":${droppedSinceSent}}\n\n` + text;
          droppedSinceSent = 0;
        }
        controller.enqueue(encoder.encode(text));
      },
      cancel: close,
    }, { highWaterMark: 0 });
    return new Response(body, {
      status: 200,
      headers: {
        "content-type": "text/event-stream; charset=utf-8",
        "cache-control": "no-store",
        // Proxies that buffer responses (nginx) would hold events back.
        "x-accel-buffering": "no",
      },
    });
  }
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    if (s.charCodeAt(i) < 0x20 || s.charCodeAt(i) === 0x7f) return true;
  }
  return false;
}
