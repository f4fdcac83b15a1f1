/**
 * Events for people and programs on this node (an SSE stream, the shell's
 * `watch`): a listener names a path, local (`/iot/devices`) or on another
 * node (`/node/factory/iot/devices`). For a remote path this node holds one
 * subscription per node and prefix, shared by its listeners, renewed well
 * before its lease ends and dropped with the last listener; EVENTs arriving
 * from that node reach the listeners under their full path.
 */
import type { Logger } from "../log/logger.ts";
import type { PathResponse } from "../paths/types.ts";
import type { Clock, TimerHandle } from "../util/clock.ts";
import type { JsonObject, Method } from "../wire/mod.ts";
import { isUnder, splitRemote } from "./topics.ts";

/** One event as a listener sees it: the full path on this node's namespace, and the value. */
export interface HubEvent {
  readonly topic: string;
  readonly data: unknown;
}

/** Options of {@link EventHub}. */
export interface EventHubOptions {
  /** This node's name. */
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Sends a request to another node (the federation's). */
  readonly request: (
    dst: string,
    method: Method,
    path: string,
    args: JsonObject,
  ) => Promise<PathResponse>;
  /** Lease asked for each remote subscription. Default 60 s; renewed at a third of it. */
  readonly leaseMs?: number;
  /** Listeners at once (SSE streams, shells). Default 256. */
  readonly maxListeners?: number;
}

interface Listener {
  readonly path: string;
  readonly deliver: (e: HubEvent) => void;
}

/** A subscription this node holds on another node, for its listeners. */
interface Remote {
  readonly node: string;
  readonly prefix: string;
  users: number;
  timer: TimerHandle | null;
  /** Whether the last subscribe was answered 200. */
  active: boolean;
}

/** Why a listener could not be added. */
export class ListenError extends Error {
  override readonly name = "ListenError";
  constructor(readonly code: "too_many", message: string) {
    super(message);
  }
}

/** Local listeners and the remote subscriptions they need. */
export class EventHub {
  readonly #o: EventHubOptions;
  readonly #leaseMs: number;
  readonly #listeners = new Set<Listener>();
  readonly #remotes = new Map<string, Remote>();
  #stopped = false;

  constructor(options: EventHubOptions) {
    this.#o = options;
    this.#leaseMs = options.leaseMs ?? 60_000;
  }

  /** Listeners now. */
  get listeners(): number {
    return this.#listeners.size;
  }

  /** Remote subscriptions held, and whether each is active. */
  remotes(): { node: string; prefix: string; listeners: number; active: boolean }[] {
    return [...this.#remotes.values()].map((r) => ({
      node: r.node,
      prefix: r.prefix,
      listeners: r.users,
      active: r.active,
    }));
  }

  /** Calls `deliver` for every event at or below `path`; returns the function that stops it. */
  listen(path: string, deliver: (e: HubEvent) => void): () => void {
    if (this.#listeners.size >= (this.#o.maxListeners ?? 256)) {
      throw new ListenError("too_many", `this node already has ${this.#listeners.size} listeners`);
    }
    const listener: Listener = { path, deliver };
    this.#listeners.add(listener);
    const { node, prefix } = splitRemote(path, this.#o.name);
    let remote: Remote | null = null;
    if (node !== null) {
      const key = `${node}\u0000${prefix}`;
      remote = this.#remotes.get(key) ?? null;
      if (remote === null) {
        remote = { node, prefix, users: 0, timer: null, active: false };
        this.#remotes.set(key, remote);
        this.#subscribe(remote);
      }
      remote.users++;
    }
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.#listeners.delete(listener);
      if (remote !== null && --remote.users === 0) this.#drop(remote);
    };
  }

  /** A change on this node (`topic` is one of its paths). */
  local(topic: string, data: unknown): void {
    this.#deliver(topic, data);
    if (!topic.startsWith("/node/")) this.#deliver(`/node/${this.#o.name}${topic}`, data);
  }

  /** An EVENT that another node sent here (a subscription of ours). */
  remote(src: string, topic: string, data: unknown): void {
    if (!topic.startsWith("/")) return;
    this.#deliver(`/node/${encodeURIComponent(src)}${topic}`, data);
  }

  /** Drops every listener and subscription (node stopping); the leases then run out remotely. */
  stop(): void {
    this.#stopped = true;
    for (const r of this.#remotes.values()) if (r.timer !== null) this.#o.clock.clear(r.timer);
    this.#remotes.clear();
    this.#listeners.clear();
  }

  #deliver(topic: string, data: unknown): void {
    for (const l of [...this.#listeners]) {
      if (!isUnder(topic, l.path)) continue;
      try {
        l.deliver({ topic, data });
      } catch (e) {
        this.#o.logger.warn("event listener failed", { topic, error: String(e) });
      }
    }
  }

  #subscribe(r: Remote): void {
    if (this.#stopped) return;
    this.#o.request(r.node, "GET", "/events/subscribe", {
      prefix: r.prefix,
      lease_ms: this.#leaseMs,
    }).then((res) => {
      const wasActive = r.active;
      r.active = res.status === 200;
      if (!r.active && wasActive) {
        this.#o.logger.warn("subscription lost", {
          node: r.node,
          prefix: r.prefix,
          error: res.error,
        });
      }
    }, () => (r.active = false)).finally(() => {
      // Renewed at a third of the lease (a lost one is retried as often), while it has users.
      if (this.#stopped || r.users === 0 || this.#remotes.get(`${r.node}\u0000${r.prefix}`) !== r) {
        return;
      }
      r.timer = this.#o.clock.setTimeout(() => {
        r.timer = null;
        this.#subscribe(r);
      }, Math.max(1000, this.#leaseMs / 3));
    });
  }

  #drop(r: Remote): void {
    this.#remotes.delete(`${r.node}\u0000${r.prefix}`);
    if (r.timer !== null) this.#o.clock.clear(r.timer);
    r.timer = null;
    if (!this.#stopped && r.active) {
      this.#o.request(r.node, "GET", "/events/unsubscribe", { prefix: r.prefix }).catch(() => {});
    }
  }
}
