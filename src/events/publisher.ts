/**
 * The publishing side of subscriptions across the federation: other nodes
 * subscribe to a path prefix here with a lease they renew; every change
 * published under that prefix goes to them as an EVENT (`topic` = path,
 * `data` = the new value). Each subscriber is bounded: at most
 * `ratePerSecond` events a second, `queueLimit` waiting beyond that (the
 * oldest dropped and counted), and nothing at all once its lease runs out.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { isUnder } from "./topics.ts";

/** Options of {@link Publisher}. */
export interface PublisherOptions {
  readonly clock: Clock;
  /** Sends one EVENT to a node; false when it could not leave (no route, link refused it). */
  readonly send: (dst: string, topic: string, data: unknown) => boolean;
  /** Whether `origin` may read `topic` here ([acl] GET); default: everyone may. */
  readonly mayRead?: (origin: string, topic: string) => boolean;
  /** Longest lease granted. Default 5 min. */
  readonly maxLeaseMs?: number;
  /** Prefixes one subscriber may hold. Default 32. */
  readonly perSubscriber?: number;
  /** Subscriptions held in all. Default 4096. */
  readonly maxSubscriptions?: number;
  /** Events a second sent to one subscriber. Default 200. */
  readonly ratePerSecond?: number;
  /** Events waiting for one subscriber beyond its rate; the oldest goes first. Default 256. */
  readonly queueLimit?: number;
}

/** One node's subscription to one prefix. */
interface Subscription {
  readonly subscriber: string;
  readonly prefix: string;
  expiresAt: number;
}

/** What one subscriber is owed. */
interface Outbox {
  readonly queue: { readonly topic: string; readonly data: unknown }[];
  tokens: number;
  refilledAt: number;
  dropped: number;
  timer: TimerHandle | null;
}

/** Why a subscription was refused. */
export class SubscribeError extends Error {
  override readonly name = "SubscribeError";
  constructor(readonly code: "too_many" | "bad_prefix", message: string) {
    super(message);
  }
}

/** Counters of the publisher, for status and metrics. */
export interface PublisherCounters {
  /** Events handed to the federation. */
  sent: number;
  /** Events dropped: queue full (oldest), no route, or a link that refused them. */
  dropped: number;
  /** Leases that ran out without a renewal. */
  expired: number;
}

/** Subscriptions of other nodes to this node's paths. */
export class Publisher {
  readonly counters: PublisherCounters = { sent: 0, dropped: 0, expired: 0 };
  readonly #o: Required<Omit<PublisherOptions, "mayRead">> & Pick<PublisherOptions, "mayRead">;
  readonly #subs = new Map<string, Subscription>();
  readonly #outboxes = new Map<string, Outbox>();
  #sweep: TimerHandle | null = null;
  #stopped = false;

  constructor(options: PublisherOptions) {
    this.#o = {
      maxLeaseMs: 300_000,
      perSubscriber: 32,
      maxSubscriptions: 4096,
      ratePerSecond: 200,
      queueLimit: 256,
      ...options,
    };
  }

  /** Subscriptions held now. */
  get size(): number {
    return this.#subs.size;
  }

  /** Every subscription: who, which prefix, ms of lease left. */
  list(): { subscriber: string; prefix: string; lease_left_ms: number }[] {
    const now = this.#o.clock.now();
    return [...this.#subs.values()].map((s) => ({
      subscriber: s.subscriber,
      prefix: s.prefix,
      lease_left_ms: Math.max(0, Math.round(s.expiresAt - now)),
    }));
  }

  /** Subscribes (or renews) `subscriber` to `prefix` for `leaseMs` (capped); returns the lease granted. */
  subscribe(subscriber: string, prefix: string, leaseMs: number): number {
    if (!prefix.startsWith("/")) {
      throw new SubscribeError("bad_prefix", `prefix '${prefix}' must be an absolute path`);
    }
    const lease = Math.max(1000, Math.min(leaseMs, this.#o.maxLeaseMs));
    const key = `${subscriber}\u0000${prefix}`;
    const now = this.#o.clock.now();
    const held = this.#subs.get(key);
    if (!held) {
      const mine = [...this.#subs.values()].filter((s) => s.subscriber === subscriber).length;
      if (mine >= this.#o.perSubscriber) {
        throw new SubscribeError(
          "too_many",
          `${subscriber} already holds ${mine} subscriptions here (at most ${this.#o.perSubscriber})`,
        );
      }
      if (this.#subs.size >= this.#o.maxSubscriptions) {
        throw new SubscribeError("too_many", `this node holds ${this.#subs.size} subscriptions`);
      }
      this.#subs.set(key, { subscriber, prefix, expiresAt: now + lease });
    } else {
      held.expiresAt = now + lease;
    }
    this.#arm();
    return lease;
  }

  /** Ends `subscriber`'s subscription to `prefix`; true when it had one. */
  unsubscribe(subscriber: string, prefix: string): boolean {
    const gone = this.#subs.delete(`${subscriber}\u0000${prefix}`);
    if (gone) this.#forgetIdle(subscriber);
    return gone;
  }

  /** A change of `topic` (a path on this node): each subscriber under it is told, within bounds. */
  publish(topic: string, data: unknown): void {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    const told = new Set<string>();
    for (const s of this.#subs.values()) {
      if (s.expiresAt <= now || told.has(s.subscriber) || !isUnder(topic, s.prefix)) continue;
      if (this.#o.mayRead && !this.#o.mayRead(s.subscriber, topic)) continue;
      told.add(s.subscriber);
      this.#enqueue(s.subscriber, topic, data);
    }
  }

  /** Ends every subscription and clears every timer. */
  stop(): void {
    this.#stopped = true;
    if (this.#sweep !== null) this.#o.clock.clear(this.#sweep);
    this.#sweep = null;
    for (const box of this.#outboxes.values()) {
      if (box.timer !== null) this.#o.clock.clear(box.timer);
    }
    this.#outboxes.clear();
    this.#subs.clear();
  }

  #enqueue(subscriber: string, topic: string, data: unknown): void {
    let box = this.#outboxes.get(subscriber);
    if (!box) {
      box = {
        queue: [],
        tokens: this.#o.ratePerSecond,
        refilledAt: this.#o.clock.now(),
        dropped: 0,
        timer: null,
      };
      this.#outboxes.set(subscriber, box);
    }
    box.queue.push({ topic, data });
    if (box.queue.length > this.#o.queueLimit) {
      box.queue.shift();
      box.dropped++;
      this.counters.dropped++;
    }
    this.#flush(subscriber, box);
  }

  #flush(subscriber: string, box: Outbox): void {
    const now = this.#o.clock.now();
    box.tokens = Math.min(
      this.#o.ratePerSecond,
      box.tokens + ((now - box.refilledAt) / 1000) * this.#o.ratePerSecond,
    );
    box.refilledAt = now;
    while (box.queue.length > 0 && box.tokens >= 1) {
      const e = box.queue.shift()!;
      box.tokens--;
      if (this.#o.send(subscriber, e.topic, e.data)) this.counters.sent++;
      else this.counters.dropped++;
    }
    if (box.queue.length > 0 && box.timer === null) {
      const wait = Math.ceil(((1 - box.tokens) / this.#o.ratePerSecond) * 1000);
      box.timer = this.#o.clock.setTimeout(() => {
        box.timer = null;
        this.#flush(subscriber, box);
      }, Math.max(1, wait));
    }
  }

  /** One timer, for the lease that runs out first. */
  #arm(): void {
    if (this.#stopped) return;
    if (this.#sweep !== null) this.#o.clock.clear(this.#sweep);
    this.#sweep = null;
    let next = Infinity;
    for (const s of this.#subs.values()) next = Math.min(next, s.expiresAt);
    if (next === Infinity) return;
    this.#sweep = this.#o.clock.setTimeout(() => {
      this.#sweep = null;
      const now = this.#o.clock.now();
      for (const [key, s] of this.#subs) {
        if (s.expiresAt > now) continue;
        this.#subs.delete(key);
        this.counters.expired++;
        this.#forgetIdle(s.subscriber);
      }
      this.#arm();
    }, Math.max(0, next - this.#o.clock.now()));
  }

  /** A subscriber with no subscription left costs nothing: its outbox goes too. */
  #forgetIdle(subscriber: string): void {
    for (const s of this.#subs.values()) if (s.subscriber === subscriber) return;
    const box = this.#outboxes.get(subscriber);
    if (box?.timer != null) this.#o.clock.clear(box.timer);
    this.#outboxes.delete(subscriber);
  }
}
