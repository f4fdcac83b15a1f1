/** Liveness and latency of one link (PORTAL02.md §6). */
import type { Clock, TimerHandle } from "../util/clock.ts";

/**
 * Riding along: when the peer's PING arrives and ours went out at least
 * interval / RIDE_AFTER_FRACTION ago, ours goes at once with the PONG (one
 * write). The next is then due an interval later plus a grace of
 * interval / GRACE_FRACTION (at most GRACE_MAX_MS), so that the peer's next
 * PING, which its own slot may delay a little, comes first and carries ours
 * again. A hub whose sites all ping it writes once per site per interval
 * instead of twice, and never more often than every half interval.
 */
const RIDE_AFTER_FRACTION = 2;
const GRACE_FRACTION = 10;
const GRACE_MAX_MS = 1000;

/** Options of {@link Heartbeat}. */
export interface HeartbeatOptions {
  readonly clock: Clock;
  /** Time between PINGs. Default 10 s. */
  readonly intervalMs?: number;
  /** PINGs without a PONG before the link is dead. Default 3. */
  readonly maxMissed?: number;
  /** Sends one PING with this body (reused for the next PING: copy it to keep it). */
  readonly sendPing: (body: Uint8Array) => void;
  /** Called once when `maxMissed` PINGs went unanswered. */
  readonly onDead: (missed: number) => void;
  /** Called with each new round trip (a PONG arrived). */
  readonly onLatency?: (ms: number) => void;
  /**
   * PINGs go out at the next multiple of this on the clock (0: exactly
   * `intervalMs` apart). A hub with thousands of links then wakes once per
   * slot for a batch of PINGs instead of once per link. Default 0.
   */
  readonly slotMs?: number;
}

/** Sends PINGs on a timer, matches PONGs, and declares the link dead. */
export class Heartbeat {
  readonly #o: Required<HeartbeatOptions>;
  #timer: TimerHandle | null = null;
  /** When the last PING of the schedule (not a probe) went out, on the clock. */
  #lastSent = -Infinity;
  #seq = 0;
  #missed = 0;
  #sent = new Map<number, number>();
  readonly #body = new Uint8Array(8);
  /** The timer's callback, made once: a hub re-arms thousands of heartbeats a second. */
  readonly #onTimer = () => this.#tick(0);
  #latency: number | null = null;
  /** Probes waiting for a sign of life. */
  readonly #probes = new Set<
    { readonly resolve: (alive: boolean) => void; readonly timer: TimerHandle }
  >();

  constructor(options: HeartbeatOptions) {
    this.#o = { intervalMs: 10_000, maxMissed: 3, onLatency: () => {}, slotMs: 0, ...options };
  }

  /** Round-trip time of the latest PONG, or null before the first. */
  get latencyMs(): number | null {
    return this.#latency;
  }

  /** PINGs sent since the last PONG. */
  get missed(): number {
    return this.#missed;
  }

  /** A first latency estimate (the handshake's round trip), used until the first PONG. */
  seed(ms: number): void {
    this.#latency ??= ms;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#schedule();
  }

  stop(): void {
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    this.#sent.clear();
    this.#settleProbes(false);
  }

  /**
   * Sends a PING now; resolves true as soon as a PONG arrives on this link,
   * false after `timeoutMs` or when the heartbeat stops (§3: is an older
   * connection for a name still alive?).
   */
  probe(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const probe = {
        resolve,
        timer: this.#o.clock.setTimeout(() => {
          this.#probes.delete(probe);
          resolve(false);
        }, timeoutMs),
      };
      this.#probes.add(probe);
      this.#o.sendPing(this.#ping());
    });
  }

  /**
   * The peer's PING arrived: ours rides along with the PONG when it went out
   * at least half an interval ago (see RIDE_AFTER_FRACTION).
   */
  peerPinged(): void {
    if (this.#timer === null) return;
    const { clock, intervalMs } = this.#o;
    if (clock.now() - this.#lastSent < intervalMs / RIDE_AFTER_FRACTION) return;
    clock.clear(this.#timer);
    this.#tick(Math.min(intervalMs / GRACE_FRACTION, GRACE_MAX_MS));
  }

  /** Feeds a PONG body; unknown bodies are ignored. */
  pong(body: Uint8Array): void {
    if (body.byteLength !== 8) return;
    // Big-endian, as #ping wrote it; sequence numbers stay far below 2^53.
    const hi = ((body[0] << 24) | (body[1] << 16) | (body[2] << 8) | body[3]) >>> 0;
    const lo = ((body[4] << 24) | (body[5] << 16) | (body[6] << 8) | body[7]) >>> 0;
    const seq = hi * 2 ** 32 + lo;
    const at = this.#sent.get(seq);
    if (at === undefined) return;
    this.#latency = this.#o.clock.now() - at;
    this.#missed = 0;
    this.#sent.clear();
    this.#settleProbes(true);
    this.#o.onLatency(this.#latency);
  }

  #settleProbes(alive: boolean): void {
    for (const p of this.#probes) {
      this.#o.clock.clear(p.timer);
      p.resolve(alive);
    }
    this.#probes.clear();
  }

  /**
   * A PING body with the next sequence number, recorded as sent now. The
   * buffer is reused: `sendPing` copies it (FrameConnection.send does).
   */
  #ping(): Uint8Array {
    const seq = ++this.#seq;
    const body = this.#body;
    const hi = Math.floor(seq / 2 ** 32);
    const lo = seq >>> 0;
    body[0] = hi >>> 24;
    body[1] = hi >>> 16;
    body[2] = hi >>> 8;
    body[3] = hi;
    body[4] = lo >>> 24;
    body[5] = lo >>> 16;
    body[6] = lo >>> 8;
    body[7] = lo;
    this.#sent.set(seq, this.#o.clock.now());
    return body;
  }

  /** Arms the timer for the next PING, `graceMs` after the interval. */
  #schedule(graceMs = 0): void {
    const { clock, intervalMs, slotMs } = this.#o;
    let ms = intervalMs + graceMs;
    if (slotMs > 0) {
      const due = clock.now() + ms;
      ms += (slotMs - (due % slotMs)) % slotMs;
    }
    this.#timer = clock.setTimeout(this.#onTimer, ms);
  }

  /** Sends the next PING of the schedule (or gives up), then arms the one after. */
  #tick(graceMs: number): void {
    this.#timer = null;
    if (this.#missed >= this.#o.maxMissed) {
      this.stop();
      this.#o.onDead(this.#missed);
      return;
    }
    const body = this.#ping();
    this.#missed++;
    this.#lastSent = this.#o.clock.now();
    this.#o.sendPing(body);
    this.#schedule(graceMs);
  }
}
