/** Liveness and latency of one link (PORTAL02.md §6). */
import type { Clock, TimerHandle } from "../util/clock.ts";

/** Options of {@link Heartbeat}. */
export interface HeartbeatOptions {
  readonly clock: Clock;
  /** Time between PINGs. Default 10 s. */
  readonly intervalMs?: number;
  /** PINGs without a PONG before the link is dead. Default 3. */
  readonly maxMissed?: number;
  /** Sends one PING with this body. */
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
  #seq = 0;
  #missed = 0;
  #sent = new Map<number, number>();
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

  /** Feeds a PONG body; unknown bodies are ignored. */
  pong(body: Uint8Array): void {
    if (body.byteLength !== 8) return;
    const seq = Number(new DataView(body.buffer, body.byteOffset, 8).getBigUint64(0));
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

  /** A PING body with the next sequence number, recorded as sent now. */
  #ping(): Uint8Array {
    const seq = ++this.#seq;
    const body = new Uint8Array(8);
    new DataView(body.buffer).setBigUint64(0, BigInt(seq));
    this.#sent.set(seq, this.#o.clock.now());
    return body;
  }

  #schedule(): void {
    const { clock, intervalMs, slotMs } = this.#o;
    let ms = intervalMs;
    if (slotMs > 0) {
      const due = clock.now() + intervalMs;
      ms += (slotMs - (due % slotMs)) % slotMs;
    }
    this.#timer = clock.setTimeout(() => this.#tick(), ms);
  }

  #tick(): void {
    this.#timer = null;
    if (this.#missed >= this.#o.maxMissed) {
      this.stop();
      this.#o.onDead(this.#missed);
      return;
    }
    const body = this.#ping();
    this.#missed++;
    this.#o.sendPing(body);
    this.#schedule();
  }
}
