/**
 * Requests this node sends (PORTAL02.md §8): registered as pending with
 * their deadline, signed when this node signs (§11), never sent over the
 * frame limit, and given up (504) the moment their caller stops waiting.
 */
import type { PathResponse } from "../paths/types.ts";
import type { Link } from "../peer/peer.ts";
import {
  encodeJson,
  type JsonObject,
  type Method,
  MsgType,
  type RequestMessage,
  Status,
} from "../wire/mod.ts";
import type { PendingRequests } from "./pending.ts";
import type { Sender } from "./sender.ts";

/** Options of {@link Outbound}. */
export interface OutboundOptions {
  /** This node's name: the `src` of its requests. */
  readonly name: string;
  readonly pending: PendingRequests;
  readonly out: Sender;
  /** `request_timeout`: each request's deadline, also sent as its `timeout_ms`. */
  readonly requestTimeoutMs: () => number;
  /** Signs a request (§11); null leaves it unsigned. */
  readonly sign?: (req: RequestMessage) => JsonObject | null;
}

/** What one request carries besides its route. */
export interface OutboundRequest {
  readonly dst: string;
  readonly method: Method;
  readonly path: string;
  readonly args: JsonObject;
  readonly ttl: number;
  readonly signal?: AbortSignal;
}

/** Sends this node's own requests and waits for their answers. */
export class Outbound {
  readonly #o: OutboundOptions;

  constructor(options: OutboundOptions) {
    this.#o = options;
  }

  /** Sends `r` on `link`; the promise settles with its answer, 502 (link lost) or 504. */
  send(link: Link, r: OutboundRequest): Promise<PathResponse> {
    const { pending, out } = this.#o;
    const timeoutMs = this.#o.requestTimeoutMs();
    const { id, response } = pending.open(r.dst, link.id, timeoutMs);
    const signal = r.signal;
    if (signal) {
      // The caller left (HTTP client gone, API stopping): stop waiting, never re-send.
      const onAbort = () =>
        pending.resolve(id, {
          status: Status.Timeout,
          error: `the caller stopped waiting for ${r.dst}`,
        });
      signal.addEventListener("abort", onAbort, { once: true });
      response.finally(() => signal.removeEventListener("abort", onAbort));
    }
    let msg: RequestMessage = {
      id,
      src: this.#o.name,
      dst: r.dst,
      method: r.method,
      path: r.path,
      args: r.args,
      ttl: r.ttl,
      timeout_ms: timeoutMs,
    };
    const sig = this.#o.sign?.(msg) ?? null;
    if (sig !== null) msg = { ...msg, sig };
    const body = encodeJson(msg);
    if (!out.fits(body)) {
      // A frame over the limit would make the receiver close the link for everyone.
      pending.resolve(id, {
        status: Status.TooLarge,
        error: out.tooLarge(`the request for ${r.dst}${r.path}`, body.byteLength),
      });
      return response;
    }
    out.write(link, MsgType.Request, body);
    return response;
  }
}
