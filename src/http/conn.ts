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
import {
  bodyless,
  findHeadEnd,
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

/** Buffer bound: a head fits, and bodies stream through it in pieces. */
const MAX_BUFFER = 64 * 1024;
/** Longest chunk-size or trailer line of a chunked body. */
const MAX_LINE = 4096;
/** Bodies up to this size are written together with the head. */
const COALESCE_BYTES = 16 * 1024;
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");
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
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  #reading: Promise<boolean> | null = null;
  #eof = false;
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

  /** Ends the connection after the answer in flight, if any; an idle one closes now. */
  stop(reason: string): void {
    this.#stopping = true;
    if (this.#request === null) this.close();
    else this.#request.abort(new Error(reason));
  }

  // ---- reading ---------------------------------------------------------------------

  async #readHead(first: boolean): Promise<RequestHead | null> {
    let waitingForFirstByte = !first && this.#end === this.#start;
    if (waitingForFirstByte) this.#o.onIdle(true);
    this.#arm(waitingForFirstByte ? this.#o.idleTimeoutMs : this.#o.headerTimeoutMs, () => {
      // A half-sent head gets a word before the close; a silent connection just closes.
      if (this.#end > this.#start) this.#closeWith(this.#errorBytes(408, "request head timeout"));
      else this.close();
    });
    let scanned = this.#start;
    for (;;) {
      const end = findHeadEnd(this.#buf, this.#start, this.#end, scanned);
      if (end >= 0) {
        this.#disarm();
        this.#o.onIdle(false);
        const bytes = this.#buf.subarray(this.#start, end);
        this.#start = end;
        try {
          return parseHead(bytes);
        } catch (e) {
          if (!(e instanceof HttpError)) throw e;
          await this.#refuse(e);
          return null;
        }
      }
      if (this.#end - this.#start >= MAX_HEAD_BYTES) {
        this.#disarm();
        await this.#refuse(new HttpError(431, `the request head is over ${MAX_HEAD_BYTES} bytes`));
        return null;
      }
      if (waitingForFirstByte && this.#end > this.#start) {
        // The idle wait is over: the head now has the header timeout from its first byte.
        waitingForFirstByte = false;
        this.#o.onIdle(false);
        this.#arm(this.#o.headerTimeoutMs, () => {
          this.#closeWith(this.#errorBytes(408, "request head timeout"));
        });
      }
      scanned = this.#end;
      if (!(await this.#fill())) {
        this.#disarm();
        return null;
      }
    }
  }

  /** Reads more into the buffer; false at EOF or once closed. One read at a time. */
  #fill(): Promise<boolean> {
    if (this.#reading !== null) return this.#reading;
    if (this.#eof || this.#closed) return Promise.resolve(false);
    if (this.#start === this.#end) this.#start = this.#end = 0;
    if (this.#end === this.#buf.byteLength) {
      if (this.#start > 0) {
        this.#buf.copyWithin(0, this.#start, this.#end);
        this.#end -= this.#start;
        this.#start = 0;
      } else {
        const grown = new Uint8Array(Math.min(MAX_BUFFER, this.#buf.byteLength * 2));
        grown.set(this.#buf.subarray(0, this.#end));
        this.#buf = grown;
      }
    }
    const into = this.#buf.subarray(this.#end);
    if (into.byteLength === 0) return Promise.resolve(true);
    this.#reading = this.#conn.read(into).then((n) => {
      this.#reading = null;
      if (n === null) {
        this.#eof = true;
        return false;
      }
      this.#end += n;
      return true;
    }, () => {
      this.#reading = null;
      this.#eof = true;
      return false;
    });
    return this.#reading;
  }

  /** One CRLF-ended line (without the CRLF), for chunked bodies. */
  async #line(): Promise<string> {
    for (;;) {
      for (let i = this.#start; i + 1 < this.#end; i++) {
        if (this.#buf[i] === 13 && this.#buf[i + 1] === 10) {
          const line = latin1.decode(this.#buf.subarray(this.#start, i));
          this.#start = i + 2;
          return line;
        }
      }
      if (this.#end - this.#start > MAX_LINE) throw new HttpError(400, "a chunk line is too long");
      if (!(await this.#fill())) throw new HttpError(400, "the body ended before its end");
    }
  }

  /** Copies `n` body bytes into `out` at `at`. */
  async #take(out: Uint8Array, at: number, n: number): Promise<void> {
    let got = 0;
    while (got < n) {
      const avail = this.#end - this.#start;
      if (avail === 0) {
        if (!(await this.#fill())) throw new HttpError(400, "the body ended before its end");
        continue;
      }
      const k = Math.min(avail, n - got);
      out.set(this.#buf.subarray(this.#start, this.#start + k), at + got);
      this.#start += k;
      got += k;
    }
  }

  async #readBody(head: RequestHead, limit: number): Promise<Uint8Array> {
    const framing = head.body;
    if (framing.kind === "none") return new Uint8Array(0);
    if (framing.kind === "length" && framing.length > limit) {
      throw new HttpError(413, `the body is larger than ${limit} bytes`);
    }
    if (head.expectContinue && this.#end === this.#start) await this.#write(CONTINUE);
    this.#arm(this.#o.headerTimeoutMs, () => this.close());
    try {
      if (framing.kind === "length") {
        const out = new Uint8Array(framing.length);
        await this.#take(out, 0, framing.length);
        return out;
      }
      const chunks: Uint8Array[] = [];
      let total = 0;
      for (;;) {
        const sizeText = (await this.#line()).split(";")[0].trim();
        if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new HttpError(400, "malformed chunk size");
        const size = parseInt(sizeText, 16);
        if (size === 0) break;
        if (total + size > limit) {
          throw new HttpError(413, `the body is larger than ${limit} bytes`);
        }
        const chunk = new Uint8Array(size);
        await this.#take(chunk, 0, size);
        if ((await this.#line()) !== "") throw new HttpError(400, "malformed chunk end");
        chunks.push(chunk);
        total += size;
      }
      // Trailer fields are read and ignored, up to the blank line.
      for (let n = 0; (await this.#line()) !== ""; n++) {
        if (n >= 100) throw new HttpError(400, "too many trailer lines");
      }
      const out = new Uint8Array(total);
      let at = 0;
      for (const c of chunks) {
        out.set(c, at);
        at += c.byteLength;
      }
      return out;
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
      this.#fill().then((more) => {
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
      const keep = head.keepAlive && !reply.close && !this.#stopping && !this.#eof &&
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
