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
  decodeResponse,
  DEFAULT_TTL,
  encodeJson,
  type Frame,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
  Status,
} from "../wire/mod.ts";
import { appendMember, patchNumber } from "../wire/scan.ts";
import type { Message, ScannedMessage } from "./admit.ts";
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
    if (frame.type === MsgType.Response) {
      const res = msg as ResponseMessage;
      if (this.#passOn(from, res.src ?? "", res.id, res.status, dst, () => res.error)) return;
    }
    const link = routes.route(dst, from);
    if (link === null) {
      out.drop(`no route to ${dst} to relay a message from ${msg.src}`);
      return;
    }
    // Responses and events carry no ttl: forward the exact bytes (send() copies them).
    if (out.write(link, frame.type, frame.body)) out.counters.relayed++;
  }

  /**
   * Forwards a message the scanner read (the fast path: no JSON parse, no
   * re-encode). The bytes go on as they came, a REQUEST's ttl rewritten in
   * place; the decisions are those of {@link forward}.
   */
  forwardScanned(from: Link, frame: Frame, m: ScannedMessage): void {
    const { out, routes } = this.#o;
    if (frame.type === MsgType.Request) {
      const ttl = m.ttl ?? DEFAULT_TTL;
      const link = this.#requestRoute(from, m.src, m.id, m.dst, ttl);
      if (link === null) return;
      // In place: the body is ours until the next read, and send() copies it.
      const ttlAt = m.fields.ttl;
      const body = ttlAt === undefined
        ? appendMember(frame.body, "ttl", String(ttl - 1))
        : patchNumber(frame.body, ttlAt, ttl - 1);
      this.#sendRequest(link, m.src, m.id, m.dst, m.timeoutMs, body);
      return;
    }
    if (frame.type === MsgType.Response) {
      const error = () => decodeResponse(frame.body).error;
      if (this.#passOn(from, m.src, m.id, m.status, m.dst, error)) return;
    }
    const link = routes.route(m.dst, from);
    if (link === null) {
      out.drop(`no route to ${m.dst} to relay a message from ${m.src}`);
      return;
    }
    if (out.write(link, frame.type, frame.body)) out.counters.relayed++;
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
  #passOn(
    from: Link,
    src: string,
    id: number,
    status: number,
    dst: string,
    error: () => string | undefined,
  ): boolean {
    const entry = this.#relayed.answered(from.id, dst, id);
    if (entry === undefined || src === entry.dst) return false;
    const { out } = this.#o;
    if (src !== from.peer || status < 400) {
      out.drop(`response ${id} for ${dst} claims to come from ${src}, not ${entry.dst}`, {
        peer: from.peer,
      });
      return true;
    }
    // The sentence names the node that decided; once is enough.
    const why = error() ?? `status ${status}`;
    out.respond(entry.src, entry.id, {
      status,
      error: why.startsWith(`${src}: `) ? why : `${src}: ${why}`,
    });
    out.counters.relayed++;
    return true;
  }

  #request(from: Link, req: RequestMessage): void {
    const ttl = req.ttl ?? DEFAULT_TTL;
    const link = this.#requestRoute(from, req.src, req.id, req.dst, ttl);
    if (link === null) return;
    const body = encodeJson({ ...req, ttl: ttl - 1 });
    this.#sendRequest(link, req.src, req.id, req.dst, req.timeout_ms, body);
  }

  /** The link a request goes on; null when it was answered 508 or 502 here instead. */
  #requestRoute(from: Link, src: string, id: number, dst: string, ttl: number): Link | null {
    const { out, routes, name } = this.#o;
    if (ttl <= 0) {
      out.respond(src, id, {
        status: Status.Loop,
        error: `request ${id} for ${dst} ran out of hops (ttl spent) at ${name}`,
      });
      return null;
    }
    const link = routes.route(dst, from, "request");
    if (link === null) {
      out.respond(src, id, {
        status: Status.Unreachable,
        error: routes.noRouteSentence(dst),
      });
    }
    return link;
  }

  #sendRequest(
    link: Link,
    src: string,
    id: number,
    dst: string,
    timeoutMs: number | undefined,
    body: Uint8Array,
  ): void {
    const { out } = this.#o;
    if (!out.fits(body)) {
      out.respond(src, id, {
        status: Status.TooLarge,
        error: `request ${id} for ${dst} is too large to relay (${body.byteLength} bytes)`,
      });
      return;
    }
    if (!out.write(link, MsgType.Request, body)) return;
    out.counters.relayed++;
    const now = this.#o.clock.now();
    const expiresAt = now + (timeoutMs ?? this.#o.defaultBudgetMs());
    this.#relayed.add(link.id, { src, id, dst, expiresAt }, now);
  }
}
