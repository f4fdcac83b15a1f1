/**
 * Relaying (PORTAL02.md §5): a message for another node goes on by the same
 * routing rules, a REQUEST with its ttl reduced by one; what cannot go on is
 * answered 502/508 in this node's name. Requests relayed and not yet answered
 * are remembered (bounded), so a link lost under them fails them at their
 * origins at once instead of at their deadlines.
 */
import type { Logger } from "../log/logger.ts";
import type { Link } from "../peer/peer.ts";
import type { Clock } from "../util/clock.ts";
import {
  DEFAULT_TTL,
  encodeJson,
  type Frame,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
  Status,
} from "../wire/mod.ts";
import type { Message } from "./admit.ts";
import { RelayedRequests } from "./relayed.ts";
import type { RouteTable } from "./route_table.ts";
import type { Sender } from "./sender.ts";

/** Options of {@link Relay}. */
export interface RelayOptions {
  /** This node's name: the `src` of its 502/508 answers. */
  readonly name: string;
  readonly clock: Clock;
  readonly logger: Logger;
  readonly routes: RouteTable;
  readonly out: Sender;
  /** Deadline of a relayed request that names no `timeout_ms` (read per request). */
  readonly defaultBudgetMs: () => number;
}

/** Forwards messages for other nodes and fails relayed requests whose link is lost. */
export class Relay {
  readonly #o: RelayOptions;
  readonly #relayed = new RelayedRequests();

  constructor(options: RelayOptions) {
    this.#o = options;
  }

  /** Relayed requests not answered yet (bounded). */
  get inFlight(): number {
    return this.#relayed.size;
  }

  /** Forwards `msg` (for `dst`, arrived on `from`); never back out the link it came in on. */
  forward(from: Link, frame: Frame, msg: Message, dst: string): void {
    const { out, routes } = this.#o;
    if (frame.type === MsgType.Request) {
      this.#request(from, msg as RequestMessage);
      return;
    }
    if (frame.type === MsgType.Response && this.#passOn(from, msg as ResponseMessage, dst)) return;
    const link = routes.route(dst, from);
    if (link === null) {
      out.drop(`no route to ${dst} to relay a message from ${msg.src}`);
      return;
    }
    // Responses and events carry no ttl: forward the exact bytes.
    if (out.write(link, frame.type, frame.body.slice())) out.counters.relayed++;
  }

  /** Fails, at their origins, the relayed requests that left on a link now lost. */
  linkLost(peer: string, link: Link, reason: string): void {
    const { out, logger: log, name } = this.#o;
    const relayed = this.#relayed.takeLink(link.id, this.#o.clock.now());
    if (relayed.length === 0) return;
    let undeliverable = 0;
    for (const r of relayed) {
      const sent = out.respond(r.src, r.id, {
        status: Status.Unreachable,
        error: `${name} lost its connection to ${peer} before ${r.dst} answered (${reason})`,
      }, { quiet: true });
      if (!sent) undeliverable++;
    }
    if (undeliverable > 0) {
      // One line for all: their origins are gone too (often the same outage).
      log.warn("dropped message", {
        reason: `no route back for ${undeliverable} failed relayed requests`,
        peer,
      });
    }
    log.warn("relayed requests failed on a lost connection", { peer, count: relayed.length });
  }

  /**
   * A RESPONSE to a request relayed here that does not come from the request's
   * destination may only be the next relay's own failure (§10); it is passed
   * on in this node's name, which the origin accepts from its neighbour.
   * Returns true when handled here (passed on in our name, or dropped).
   */
  #passOn(from: Link, res: ResponseMessage, dst: string): boolean {
    const entry = this.#relayed.answered(from.id, dst, res.id);
    if (entry === undefined || res.src === entry.dst) return false;
    const { out } = this.#o;
    if (res.src !== from.peer || res.status < 400) {
      out.drop(`response ${res.id} for ${dst} claims to come from ${res.src}, not ${entry.dst}`, {
        peer: from.peer,
      });
      return true;
    }
    // The sentence names the node that decided; once is enough.
    const why = res.error ?? `status ${res.status}`;
    out.respond(entry.src, entry.id, {
      status: res.status,
      error: why.startsWith(`${res.src}: `) ? why : `${res.src}: ${why}`,
    });
    out.counters.relayed++;
    return true;
  }

  #request(from: Link, req: RequestMessage): void {
    const { out, routes, name } = this.#o;
    const ttl = req.ttl ?? DEFAULT_TTL;
    if (ttl <= 0) {
      out.respond(req.src, req.id, {
        status: Status.Loop,
        error: `request ${req.id} for ${req.dst} ran out of hops (ttl spent) at ${name}`,
      });
      return;
    }
    const link = routes.route(req.dst, from, "request");
    if (link === null) {
      out.respond(req.src, req.id, {
        status: Status.Unreachable,
        error: routes.noRouteSentence(req.dst),
      });
      return;
    }
    const body = encodeJson({ ...req, ttl: ttl - 1 });
    if (!out.fits(body)) {
      out.respond(req.src, req.id, {
        status: Status.TooLarge,
        error: `request ${req.id} for ${req.dst} is too large to relay (${body.byteLength} bytes)`,
      });
      return;
    }
    if (!out.write(link, MsgType.Request, body)) return;
    out.counters.relayed++;
    const now = this.#o.clock.now();
    const expiresAt = now + (req.timeout_ms ?? this.#o.defaultBudgetMs());
    this.#relayed.add(link.id, { src: req.src, id: req.id, dst: req.dst, expiresAt }, now);
  }
}
