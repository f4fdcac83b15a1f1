/**
 * Sending on links, with the counters /node/status shows: every frame that
 * leaves is counted as sent or dropped, and no frame over `max_frame_bytes`
 * ever leaves (the receiver would close the link for everyone on it).
 */
import type { Logger } from "../log/logger.ts";
import type { PathResponse } from "../paths/types.ts";
import type { Link } from "../peer/peer.ts";
import { encodeJson, MsgType, type ResponseMessage, Status } from "../wire/mod.ts";
import type { RouteTable } from "./route_table.ts";
import type { Counters } from "./views.ts";

/** Options of {@link Sender}. */
export interface SenderOptions {
  /** This node's name: the `src` of its answers. */
  readonly name: string;
  readonly maxFrameBytes: number;
  readonly routes: RouteTable;
  readonly logger: Logger;
}

/**
 * The node's message counters. A relay is counted (`relayed++`) right after
 * the write that carried it, so the increment is also credited to the peer
 * of the latest write: per-peer figures without a second counting call.
 */
class TrafficCounters implements Counters {
  sent = 0;
  received = 0;
  dropped = 0;
  #relayed = 0;
  /** The link of the latest successful write; null once an answer found no route. */
  last: Link | null = null;

  get relayed(): number {
    return this.#relayed;
  }

  set relayed(value: number) {
    if (this.last !== null && value > this.#relayed) {
      this.last.traffic.relayed += value - this.#relayed;
    }
    this.#relayed = value;
  }
}

/** Writes frames, answers requests by the routing rules, and counts what it drops. */
export class Sender {
  readonly counters: TrafficCounters = new TrafficCounters();
  readonly #o: SenderOptions;

  constructor(options: SenderOptions) {
    this.#o = options;
  }

  /** True when a body fits the frame limit (ours; PORTAL02 gives every node the same default). */
  fits(body: Uint8Array): boolean {
    return body.byteLength <= this.#o.maxFrameBytes;
  }

  /** The sentence for a body over the limit. */
  tooLarge(what: string, bytes: number): string {
    return `${what} is ${bytes} bytes, over max_frame_bytes (${this.#o.maxFrameBytes})`;
  }

  /** Queues one frame on `link`; false (and counted as dropped) when the link refused it. */
  write(link: Link, type: MsgType, body: Uint8Array): boolean {
    const ok = link.conn.send(type, body);
    if (ok) {
      this.counters.sent++;
      link.traffic.sent++;
    } else {
      this.counters.dropped++;
      link.traffic.dropped++;
    }
    this.counters.last = ok ? link : null;
    return ok;
  }

  /**
   * Sends a RESPONSE to `dst` by the routing rules; returns false when it was
   * dropped (counted; logged unless `quiet`, where the caller logs a summary).
   */
  respond(dst: string, id: number, res: PathResponse, opts: { quiet?: boolean } = {}): boolean {
    const src = this.#o.name;
    const msg: ResponseMessage = res.status >= 200 && res.status < 300
      ? { id, src, dst, status: res.status, body: res.body ?? null }
      : { id, src, dst, status: res.status, error: res.error ?? `status ${res.status}` };
    const link = this.#o.routes.route(dst, null);
    if (link === null) {
      this.counters.last = null;
      if (opts.quiet) this.counters.dropped++;
      else this.drop(`no route to ${dst} for the response to request ${id}`);
      return false;
    }
    let body = encodeJson(msg);
    if (!this.fits(body)) {
      const error = this.tooLarge(`the answer from ${src}`, body.byteLength);
      body = encodeJson({ id, src, dst, status: Status.TooLarge, error });
    }
    return this.write(link, MsgType.Response, body);
  }

  /** Counts a message that goes no further, and says why. */
  drop(why: string, fields: Record<string, string | number> = {}): void {
    this.counters.dropped++;
    this.#o.logger.warn("dropped message", { reason: why, ...fields });
  }
}
