/**
 * Subscriptions across the federation (issue "See the federation live"):
 * the paths other nodes use to subscribe here, the publisher that serves
 * them, and the hub where this node's own listeners (SSE, `watch`) wait.
 *
 *   GET /events/subscribe   {prefix, lease_ms?} → {prefix, lease_ms}   (from another node)
 *   GET /events/unsubscribe {prefix}            → {prefix, removed}
 *   GET /events/subscriptions                   → who holds what, here and elsewhere
 */
import type { Logger } from "../log/logger.ts";
import { fail, ok, type PathResponse, type PathRouter } from "../paths/mod.ts";
import type { Clock } from "../util/clock.ts";
import { type JsonObject, Status } from "../wire/mod.ts";
import { EventHub, type EventHubOptions } from "./hub.ts";
import { Publisher, SubscribeError } from "./publisher.ts";

export { EventHub, type HubEvent, ListenError } from "./hub.ts";
export { Publisher, type PublisherCounters } from "./publisher.ts";
export { isUnder, splitRemote } from "./topics.ts";
export { publishPeerChanges } from "./peers.ts";

/** What the events need from the node around them. */
export interface EventsOptions {
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Sends a request to another node (for this node's own subscriptions). */
  readonly request: EventHubOptions["request"];
  /** Sends an EVENT to another node; false when it could not leave. */
  readonly send: (dst: string, topic: string, data: unknown) => boolean;
  /** Whether `origin` may read `topic` here ([acl]); default: everyone may. */
  readonly mayRead?: (origin: string, topic: string) => boolean;
  /** Lease this node asks for its own subscriptions elsewhere. Default 60 s. */
  readonly leaseMs?: number;
}

/** The events of one node. */
export interface Events {
  readonly publisher: Publisher;
  readonly hub: EventHub;
  /** A change of one of this node's paths: to its own listeners and to subscribed nodes. */
  publish(topic: string, data: unknown): void;
  /** Adds the /events paths. */
  register(router: PathRouter): void;
  stop(): void;
}

/** Builds the events of one node. */
export function createEvents(o: EventsOptions): Events {
  const publisher = new Publisher({ clock: o.clock, send: o.send, mayRead: o.mayRead });
  const hub = new EventHub({
    name: o.name,
    clock: o.clock,
    logger: o.logger,
    request: o.request,
    leaseMs: o.leaseMs,
  });
  const prefixOf = (args: JsonObject): string | PathResponse => {
    const p = args.prefix;
    if (typeof p !== "string" || !p.startsWith("/")) {
      return fail(Status.BadRequest, 'give the path prefix to subscribe to as {"prefix": "/iot"}');
    }
    return p;
  };
  return {
    publisher,
    hub,
    publish(topic, data) {
      hub.local(topic, data);
      publisher.publish(topic, data);
    },
    register(router) {
      router.on("GET", "/events/subscribe", (req) => {
        if (req.origin === null) {
          return fail(
            Status.BadRequest,
            "subscriptions are for other nodes; on this node, stream events from /api/events?path=…",
          );
        }
        const prefix = prefixOf(req.args);
        if (typeof prefix !== "string") return prefix;
        const asked = typeof req.args.lease_ms === "number" ? req.args.lease_ms : 60_000;
        try {
          return ok({ prefix, lease_ms: publisher.subscribe(req.origin, prefix, asked) });
        } catch (e) {
          if (e instanceof SubscribeError) return fail(Status.Overloaded, e.message);
          throw e;
        }
      });
      router.on("GET", "/events/unsubscribe", (req) => {
        const prefix = prefixOf(req.args);
        if (typeof prefix !== "string") return prefix;
        const removed = req.origin !== null && publisher.unsubscribe(req.origin, prefix);
        return ok({ prefix, removed });
      });
      router.on(
        "GET",
        "/events/subscriptions",
        () => ok({ held_here: publisher.list(), held_elsewhere: hub.remotes() }),
      );
    },
    stop() {
      publisher.stop();
      hub.stop();
    },
  };
}
