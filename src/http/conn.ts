/**
 * One HTTP/1.1 connection of the API server, from accept to close: request
 * heads read under a deadline (from the accept for the first request, from
 * its first byte for later ones), keep-alive under an idle deadline, bodies
 * read only when the handler asks and under a deadline, answers written
 * whole or streamed (chunked), each write under a deadline. Memory per
 * connection is bounded by its buffer (at most MAX_BUFFER bytes) plus what
 * the handler holds.
 */
import type { Clock, TimerHandle } from "../util/clock.ts";
import { errorText } from "../util/errors.ts";
import { Inbox } from "./inbox.ts";
import {
  bodyless,
  HttpError,
  MAX_HEAD_BYTES,
  parseHead,
  type RequestHead,
  responseHead,
} from "./http1.ts";

/** A request as a handler sees it. */
export interface HttpRequest {
  readonly method: string;
  /** The path and query, as sent. */
  readonly target: string;
  readonly version: "1.0" | "1.1";
  /** Lowercased names; repeated headers joined with ", ". */
  readonly headers: ReadonlyMap<string, string>;
  /** `host:port` of the client. */
  readonly remote: string;
  /** Aborted when the client goes away or the server shuts down. */
  readonly signal: AbortSignal;
  /** Whether a body follows the head. */
  readonly hasBody: boolean;
  /**
   * Reads the whole body, at most `limit` bytes. Throws an {@link HttpError}:
   * 413 past the limit, 400 when malformed or cut off, 408 when too slow.
   */
  body(limit: number): Promise<Uint8Array>;
}

/** An answer. */
export interface HttpReply {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * A whole body (sent with Content-Length), or a stream (sent chunked, as its
   * chunks come; cancelled when the client leaves or the server stops).
   */
  readonly body?: string | Uint8Array | ReadableStream<Uint8Array> | null;
  /** Close the connection once the answer is sent. */
  readonly close?: boolean;
}

/** Answers one request. */
export type HttpHandler = (req: HttpRequest) => HttpReply | Promise<HttpReply>;

/** Options of {@link HttpConnection}. */
export interface HttpConnectionOptions {
  readonly handler: HttpHandler;
  readonly clock: Clock;
  /** Time for a request head to arrive whole. */
  readonly headerTimeoutMs: number;
  /** Time a kept-alive connection may wait for the next request's first byte. */
  readonly idleTimeoutMs: number;
  /** Time one write may take (a client that stops reading is dropped). */
  readonly sendTimeoutMs: number;
  /** The first request head arrived whole: the connection is a real client. */
  readonly onFirstHead: () => void;
  /** Waiting between requests (true), or busy with one or closed (false). */
  readonly onIdle: (idle: boolean) => void;
  /** The handler threw; it is answered 500. */
  readonly onHandlerError: (message: string) => void;
}

/** Bodies up to this size are written together with the head. */
const COALESCE_BYTES = 16 * 1024;
const encoder = new TextEncoder();
const CONTINUE = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
const JSON_TYPE = "application/json; charset=utf-8";

/** UTF-8 length of `s` without encoding it. */
function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        n += 2;
        i++;
        continue;
      }
      n += 2;
    } else n += 2;
  }
  return n;
}

/** Serves the requests of one accepted connection, one after the other. */
export class HttpConnection {
  readonly remote: string;
  readonly #conn: Deno.Conn;
  readonly #o: HttpConnectionOptions;
  readonly #in: Inbox;
  #closed = false;
  #stopping = false;
  /** When the current deadline passes (Infinity: none), and what happens then. */
  #deadline = Infinity;
  #onDeadline: () => void = () => {};
  /** The one timer of this connection, and when it fires; it is re-armed lazily. */
  #timer: TimerHandle | null = null;
  #timerAt = Infinity;
  #request: AbortController | null = null;
  #stream: ReadableStreamDefaultReader<Uint8Array> | null = null;

  constructor(conn: Deno.Conn, remote: string, options: HttpConnectionOptions) {
    this.#conn = conn;
    this.#in = new Inbox(conn);
    this.remote = remote;
    this.#o = options;
  }

  /** Serves requests until the client or the server ends the connection; never rejects. */
  async run(): Promise<void> {
    let first = true;
    try {
      while (!this.#closed) {
        const head = await this.#readHead(first);
        if (head === null) return;
        if (first) this.#o.onFirstHead();
        first = false;
        if (!(await this.#serve(head)) || this.#stopping) return;
      }
    } catch {
      // A socket error ends this connection and nothing else.
    } finally {
      this.close();
    }
  }

  /** Closes at once, aborting a request in flight. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#in.close();
    this.#disarm();
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timer = null;
    this.#o.onIdle(false);
    this.#request?.abort(new Error("the connection closed"));
    this.#stream?.cancel().catch(() => {});
    try {
      this.#conn.close();
    } catch {
      // Closed already.
    }
  }

  /**
   * Ends the connection after the answer in flight, if any; an idle one closes
   * now. The request in flight is told to give up, unless `finish` (a drain).
   */
  stop(reason: string, finish = false): void {
    this.#stopping = true;
    if (this.#request === null) this.close();
    else if (!finish) this.#request.abort(new Error(reason));
  }

  // ---- reading ---------------------------------------------------------------------

  async #readHead(first: boolean): Promise<RequestHead | null> {
    const inbox = this.#in;
    let waitingForFirstByte = !first && inbox.pending === 0;
    if (waitingForFirstByte) this.#o.onIdle(true);
    this.#arm(waitingForFirstByte ? this.#o.idleTimeoutMs : this.#o.headerTimeoutMs, () => {
      // A half-sent head gets a word before the close; a silent connection just closes.
      if (inbox.pending > 0) this.#closeWith(this.#errorBytes(408, "request head timeout"));
      else this.close();
    });
    let scanned = 0;
    for (;;) {
      const bytes = inbox.takeHead(scanned);
      if (bytes !== null) {
        this.#disarm();
        this.#o.onIdle(false);
        try {
          return parseHead(bytes);
        } catch (e) {
          if (!(e instanceof HttpError)) throw e;
          await this.#refuse(e);
          return null;
        }
      }
      if (inbox.pending >= MAX_HEAD_BYTES) {
        this.#disarm();
        await this.#refuse(new HttpError(431, `the request head is over ${MAX_HEAD_BYTES} bytes`));
        return null;
      }
      if (waitingForFirstByte && inbox.pending > 0) {
        // The idle wait is over: the head now has the header timeout from its first byte.
        waitingForFirstByte = false;
        this.#o.onIdle(false);
        this.#arm(this.#o.headerTimeoutMs, () => {
          this.#closeWith(this.#errorBytes(408, "request head timeout"));
        });
      }
      scanned = inbox.pending;
      if (!(await inbox.fill())) {
        this.#disarm();
        return null;
      }
    }
  }

  async #readBody(head: RequestHead, limit: number): Promise<Uint8Array> {
    if (head.body.kind === "none") return new Uint8Array(0);
    if (head.body.kind === "length" && head.body.length > limit) {
      throw new HttpError(413, `the body is larger than ${limit} bytes`);
    }
    if (head.expectContinue && this.#in.pending === 0) await this.#write(CONTINUE);
    this.#arm(this.#o.headerTimeoutMs, () => this.close());
    try {
      return await this.#in.body(head.body, limit);
    } catch (e) {
      // Closed under us: the body deadline passed (or the server is stopping).
      if (this.#closed) throw new HttpError(408, "the body did not arrive in time");
      throw e;
    } finally {
      this.#disarm();
    }
  }

  // ---- serving ---------------------------------------------------------------------

  /** Serves one request; true when the connection may carry another. */
  async #serve(head: RequestHead): Promise<boolean> {
    const request = new AbortController();
    this.#request = request;
    const body: { state: "none" | "unread" | "read" | "failed" } = {
      state: head.body.kind === "none" ? "none" : "unread",
    };
    const watch = () => {
      // A read in flight notices the client leaving while the handler works.
      this.#in.fill().then((more) => {
        if (!more) request.abort(new Error("the client closed the connection"));
      });
    };
    if (body.state === "none") watch();
    const req: HttpRequest = {
      method: head.method,
      target: head.target,
      version: head.version,
      headers: head.headers,
      remote: this.remote,
      signal: request.signal,
      hasBody: body.state !== "none",
      body: async (limit) => {
        if (body.state === "none") return new Uint8Array(0);
        if (body.state !== "unread") throw new Error("the request body was already read");
        body.state = "failed";
        const bytes = await this.#readBody(head, limit);
        body.state = "read";
        watch();
        return bytes;
      },
    };
    let reply: HttpReply;
    try {
      reply = await this.#o.handler(req);
    } catch (e) {
      this.#o.onHandlerError(errorText(e));
      reply = {
        status: 500,
        headers: { "content-type": JSON_TYPE },
        body: JSON.stringify({ error: "internal error" }) + "\n",
      };
    }
    try {
      if (this.#closed) return false;
      const keep = head.keepAlive && !reply.close && !this.#stopping && !this.#in.eof &&
        (body.state === "none" || body.state === "read");
      return await this.#send(head, reply, keep, request.signal);
    } finally {
      this.#request = null;
    }
  }

  async #send(
    head: RequestHead,
    reply: HttpReply,
    keep: boolean,
    signal: AbortSignal,
  ): Promise<boolean> {
    const headers: Record<string, string> = { ...reply.headers };
    const noBody = head.method === "HEAD" || bodyless(reply.status);
    const body = reply.body ?? null;
    if (body instanceof ReadableStream) {
      if (noBody) {
        await body.cancel().catch(() => {});
        if (!keep) headers.connection = "close";
        await this.#write(encoder.encode(responseHead(reply.status, headers)));
        return keep;
      }
      // HTTP/1.0 has no chunked encoding: the close marks the end.
      const chunked = head.version === "1.1";
      if (chunked) headers["transfer-encoding"] = "chunked";
      else keep = false;
      if (!keep) headers.connection = "close";
      await this.#write(encoder.encode(responseHead(reply.status, headers)));
      await this.#pipe(body, chunked, signal);
      return keep && !this.#closed;
    }
    if (!keep) headers.connection = "close";
    else if (head.version === "1.0") headers.connection = "keep-alive";
    if (typeof body === "string" && body.length <= COALESCE_BYTES) {
      // One string, one encoding, one write: the common answer (a small JSON body).
      const length = utf8Length(body);
      if (!bodyless(reply.status)) headers["content-length"] = String(length);
      const text = responseHead(reply.status, headers) + (noBody ? "" : body);
      await this.#write(encoder.encode(text));
      return keep;
    }
    const bytes = typeof body === "string" ? encoder.encode(body) : body ?? new Uint8Array(0);
    if (!bodyless(reply.status)) headers["content-length"] = String(bytes.byteLength);
    const headBytes = encoder.encode(responseHead(reply.status, headers));
    if (noBody || bytes.byteLength === 0) {
      await this.#write(headBytes);
    } else if (bytes.byteLength <= COALESCE_BYTES) {
      const out = new Uint8Array(headBytes.byteLength + bytes.byteLength);
      out.set(headBytes);
      out.set(bytes, headBytes.byteLength);
      await this.#write(out);
    } else {
      await this.#write(headBytes);
      await this.#write(bytes);
    }
    return keep;
  }

  async #pipe(body: ReadableStream<Uint8Array>, chunked: boolean, signal: AbortSignal) {
    const reader = body.getReader();
    this.#stream = reader;
    const onAbort = () => reader.cancel(signal.reason).catch(() => {});
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (value.byteLength === 0) continue;
        if (!chunked) {
          await this.#write(value);
          continue;
        }
        const size = encoder.encode(`${value.byteLength.toString(16)}\r\n`);
        const out = new Uint8Array(size.byteLength + value.byteLength + 2);
        out.set(size);
        out.set(value, size.byteLength);
        out.set([13, 10], size.byteLength + value.byteLength);
        await this.#write(out);
      }
      if (chunked && !this.#closed) await this.#write(encoder.encode("0\r\n\r\n"));
    } catch {
      this.close();
    } finally {
      signal.removeEventListener("abort", onAbort);
      this.#stream = null;
      reader.releaseLock();
    }
  }

  /** Refuses a request that cannot be served and ends the connection. */
  async #refuse(e: HttpError): Promise<void> {
    await this.#write(this.#errorBytes(e.status, e.message), 1000).catch(() => {});
    this.close();
  }

  #errorBytes(status: number, message: string): Uint8Array {
    const body = JSON.stringify({ error: message }) + "\n";
    const head = responseHead(status, {
      "content-type": JSON_TYPE,
      "content-length": String(encoder.encode(body).byteLength),
      connection: "close",
    });
    return encoder.encode(head + body);
  }

  /** Writes a last answer and closes; a client that does not take it within 1 s is closed anyway. */
  #closeWith(bytes: Uint8Array): void {
    if (this.#closed) return;
    this.#write(bytes, 1000).catch(() => {}).finally(() => this.close());
  }

  /** Writes all of `bytes`, closing the connection when that takes longer than `timeoutMs`. */
  async #write(bytes: Uint8Array, timeoutMs = this.#o.sendTimeoutMs): Promise<void> {
    if (this.#closed) throw new Error("the connection is closed");
    // Writes happen between the other deadlines (head, body), never during one.
    this.#arm(timeoutMs, () => this.close());
    try {
      let off = 0;
      while (off < bytes.byteLength) off += await this.#conn.write(bytes.subarray(off));
    } finally {
      this.#disarm();
    }
  }

  /**
   * Sets the deadline. Deadlines move on every request, so a timer is not
   * set and cleared each time (about 3 µs a pair): the one timer fires,
   * looks at the deadline of the moment, and sleeps again until it.
   */
  #arm(ms: number, fire: () => void): void {
    const now = this.#o.clock.now();
    this.#deadline = now + ms;
    this.#onDeadline = fire;
    if (this.#timerAt > this.#deadline) this.#schedule(now);
  }

  #disarm(): void {
    this.#deadline = Infinity;
  }

  #schedule(now: number): void {
    if (this.#timer !== null) this.#o.clock.clear(this.#timer);
    this.#timerAt = this.#deadline;
    this.#timer = this.#o.clock.setTimeout(() => this.#tick(), this.#deadline - now);
  }

  #tick(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    if (this.#closed || this.#deadline === Infinity) return;
    const now = this.#o.clock.now();
    if (now < this.#deadline) {
      this.#schedule(now);
      return;
    }
    this.#deadline = Infinity;
    this.#onDeadline();
  }
}
