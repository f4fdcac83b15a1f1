/**
 * The bytes a client sent that are not consumed yet: one read from the
 * socket at a time, into a buffer of at most MAX_BUFFER bytes; request heads
 * are found in it, bodies (whole or chunked) are taken from it.
 */
import { concatBytes } from "../util/read.ts";
import { type BodyFraming, findHeadEnd, HttpError } from "./http1.ts";

/** Buffer bound: a head fits, and bodies stream through it in pieces. */
const MAX_BUFFER = 64 * 1024;
/** Longest chunk-size or trailer line of a chunked body. */
const MAX_LINE = 4096;
const latin1 = new TextDecoder("latin1");

/** The unread input of one connection. */
export class Inbox {
  readonly #conn: Deno.Conn;
  #buf = new Uint8Array(4096);
  #start = 0;
  #end = 0;
  #reading: Promise<boolean> | null = null;
  #eof = false;
  #closed = false;

  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Bytes waiting to be consumed. */
  get pending(): number {
    return this.#end - this.#start;
  }

  /** The client closed its side (or the read failed). */
  get eof(): boolean {
    return this.#eof;
  }

  /** No more reads (the connection is closing). */
  close(): void {
    this.#closed = true;
  }

  /**
   * The bytes of a whole head (up to and including its blank line), consumed,
   * or null when none is complete yet; `scanFrom` skips bytes already searched.
   */
  takeHead(scanFrom: number): Uint8Array | null {
    const end = findHeadEnd(this.#buf, this.#start, this.#end, this.#start + scanFrom);
    if (end < 0) return null;
    const bytes = this.#buf.subarray(this.#start, end);
    this.#start = end;
    return bytes;
  }

  /** Reads more into the buffer; false at EOF or once closed. Concurrent calls share one read. */
  fill(): Promise<boolean> {
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

  /** The whole body under `framing`, at most `limit` bytes (413 beyond, 400 when malformed or cut). */
  async body(framing: BodyFraming, limit: number): Promise<Uint8Array> {
    if (framing.kind === "none") return new Uint8Array(0);
    if (framing.kind === "length") {
      if (framing.length > limit) throw tooLarge(limit);
      const out = new Uint8Array(framing.length);
      await this.#take(out, framing.length);
      return out;
    }
    const chunks: Uint8Array[] = [];
    let total = 0;
    for (;;) {
      const sizeText = (await this.#line()).split(";")[0].trim();
      if (!/^[0-9a-fA-F]{1,8}$/.test(sizeText)) throw new HttpError(400, "malformed chunk size");
      const size = parseInt(sizeText, 16);
      if (size === 0) break;
      if (total + size > limit) throw tooLarge(limit);
      const chunk = new Uint8Array(size);
      await this.#take(chunk, size);
      if ((await this.#line()) !== "") throw new HttpError(400, "malformed chunk end");
      chunks.push(chunk);
      total += size;
    }
    // Trailer fields are read and ignored, up to the blank line.
    for (let n = 0; (await this.#line()) !== ""; n++) {
      if (n >= 100) throw new HttpError(400, "too many trailer lines");
    }
    return concatBytes(chunks, total);
  }

  /** One CRLF-ended line (without the CRLF). */
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
      if (!(await this.fill())) throw new HttpError(400, "the body ended before its end");
    }
  }

  /** Copies the next `n` bytes into `out`. */
  async #take(out: Uint8Array, n: number): Promise<void> {
    let got = 0;
    while (got < n) {
      const avail = this.#end - this.#start;
      if (avail === 0) {
        if (!(await this.fill())) throw new HttpError(400, "the body ended before its end");
        continue;
      }
      const k = Math.min(avail, n - got);
      out.set(this.#buf.subarray(this.#start, this.#start + k), got);
      this.#start += k;
      got += k;
    }
  }
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, `the body is larger than ${limit} bytes`);
}
