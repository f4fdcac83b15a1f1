/**
 * A framed PORTAL02 connection: a read loop feeding the decoder and one
 * writer that coalesces every frame queued while the previous write was in
 * flight (or in the same turn of the event loop) into one write, because
 * Nagle stays on for TLS and a write per frame stalls ~40 ms.
 */
import { setImmediate } from "node:timers";
import { type Frame, FrameDecoder, HEADER_BYTES, type MsgType, writeHeader } from "../wire/mod.ts";
import { WireError } from "../wire/errors.ts";
import { errorText } from "../util/errors.ts";
import type { ByteStream } from "./types.ts";

/** Why a connection ended. */
export type CloseReason =
  | { readonly kind: "eof" }
  | { readonly kind: "local"; readonly why: string }
  | { readonly kind: "protocol"; readonly error: WireError }
  | { readonly kind: "io"; readonly message: string }
  | { readonly kind: "slow_consumer"; readonly bufferedBytes: number };

/** Renders a close reason as words for a log line. */
export function describeClose(reason: CloseReason): string {
  switch (reason.kind) {
    case "eof":
      return "closed by the remote side";
    case "local":
      return reason.why;
    case "protocol":
      return `protocol violation (${reason.error.code}): ${reason.error.message}`;
    case "io":
      return `I/O error: ${reason.message}`;
    case "slow_consumer":
      return `slow consumer: ${reason.bufferedBytes} bytes waiting to be sent`;
  }
}

/** Options of {@link FrameConnection}. */
export interface FrameConnectionOptions {
  /** Largest frame body accepted from the remote. Default 1 MiB. */
  maxFrameBytes?: number;
  /** Bytes queued for sending beyond which the remote is a slow consumer. Default 8 MiB. */
  maxOutboundBytes?: number;
  /**
   * Largest size of the reused read buffer. Default 64 KiB. It starts at 2 KiB
   * and doubles whenever a read fills it, so links that never carry bulk stay
   * small; a grown buffer is kept for the life of the link.
   */
  readBufferBytes?: number;
}

/** Callbacks of a {@link FrameConnection}. */
export interface FrameConnectionHandlers {
  onFrame(frame: Frame): void;
  onClose(reason: CloseReason): void;
}

/** Smallest write buffer: a few small frames. */
const MIN_OUT_BYTES = 512;
/** The write buffer of a lone small frame on a quiet link. */
const SMALL_OUT_BYTES = 64;
/** A write buffer larger than this is not kept for the next batch. */
const MAX_KEPT_OUT_BYTES = 256 * 1024;

type ConnState =
  | { readonly kind: "open" }
  | { readonly kind: "closed"; readonly reason: CloseReason };

/** Sends and receives frames over one byte stream. */
export class FrameConnection {
  readonly #stream: ByteStream;
  readonly #decoder: FrameDecoder;
  readonly #maxOutbound: number;
  /** Allocated on the first read, for streams without `readChunk`. */
  #readBuf: Uint8Array | null = null;
  readonly #maxReadBuf: number;
  #handlers: FrameConnectionHandlers | null = null;
  #state: ConnState = { kind: "open" };
  /**
   * Frames queued for the next write, laid out as they go on the wire: a
   * frame is copied in when it is queued, so its body may be a view that the
   * caller reuses (a relayed frame, straight from the decoder). Allocated on
   * demand, dropped when the link goes quiet.
   */
  #out: Uint8Array | null = null;
  #queuedBytes = 0;
  /** The buffer of the write in flight, reused for the next batch once that write is done. */
  #spare: Uint8Array | null = null;
  #writing = false;
  #readLoop: Promise<void> | null = null;
  #writeLoop: Promise<void> = Promise.resolve();
  readonly #ended = Promise.withResolvers<void>();

  constructor(stream: ByteStream, options: FrameConnectionOptions = {}) {
    this.#stream = stream;
    this.#decoder = new FrameDecoder({ maxFrameBytes: options.maxFrameBytes });
    this.#maxOutbound = options.maxOutboundBytes ?? 8 * 1024 * 1024;
    this.#maxReadBuf = options.readBufferBytes ?? 64 * 1024;
  }

  /** Starts reading; frames and the close go to `handlers` (replaceable later). */
  start(handlers: FrameConnectionHandlers): void {
    this.#handlers = handlers;
    this.#readLoop ??= this.#read();
  }

  /** Redirects frames and the close to new handlers (after authentication). */
  setHandlers(handlers: FrameConnectionHandlers): void {
    this.#handlers = handlers;
  }

  get isOpen(): boolean {
    return this.#state.kind === "open";
  }

  /**
   * Queues one frame (copying its body: the caller may reuse it at once);
   * returns false when the connection is closed or just got closed as slow.
   */
  send(type: MsgType, body: Uint8Array): boolean {
    if (this.#state.kind !== "open") return false;
    const at = this.#queuedBytes;
    const end = at + HEADER_BYTES + body.byteLength;
    if (end > this.#maxOutbound) {
      this.close({ kind: "slow_consumer", bufferedBytes: end });
      return false;
    }
    let out = this.#out;
    if (out === null || out.byteLength < end) {
      const spare = this.#spare;
      // A lone small frame on a quiet link (a PING, its PONG) gets a buffer its size.
      let size = out === null && spare === null && end <= SMALL_OUT_BYTES
        ? SMALL_OUT_BYTES
        : Math.max(MIN_OUT_BYTES, out?.byteLength ?? 0, spare?.byteLength ?? 0);
      while (size < end) size *= 2;
      const grown = spare !== null && spare.byteLength >= end ? spare : new Uint8Array(size);
      if (grown === spare) this.#spare = null;
      if (out !== null) grown.set(out.subarray(0, at));
      this.#out = out = grown;
    }
    writeHeader(out, at, type, body.byteLength);
    out.set(body, at + HEADER_BYTES);
    this.#queuedBytes = end;
    if (!this.#writing) {
      this.#writing = true;
      // The write waits for the end of this turn of the event loop, so that every
      // frame queued in it joins one write: answers that a worker pool releases a
      // few at a time finish microtasks apart, and a microtask flush wrote them in
      // 4 writes of 4 (row 4 at C=16: 16 frames per write, a third less hub CPU
      // per relayed request; docs/performance.md, fourth round).
      this.#writeLoop = new Promise<void>((done) => setImmediate(() => done(this.#flush())));
    }
    return true;
  }

  /** Closes once; later calls do nothing. Handlers hear the first reason. */
  close(reason: CloseReason = { kind: "local", why: "closed locally" }): void {
    if (this.#state.kind !== "open") return;
    this.#state = { kind: "closed", reason };
    this.#out = this.#spare = null;
    this.#queuedBytes = 0;
    try {
      this.#stream.close();
    } catch {
      // Already closed by the runtime; nothing left to release.
    }
    this.#ended.resolve();
    this.#handlers?.onClose(reason);
  }

  /** Resolves once the connection is closed and both loops have finished. */
  async closed(): Promise<void> {
    await this.#ended.promise;
    await this.#readLoop;
    await this.#writeLoop;
  }

  /** Sends what is queued, then closes (used for a final 401). */
  async flushAndClose(reason: CloseReason): Promise<void> {
    await this.#writeLoop;
    this.close(reason);
  }

  async #flush(): Promise<void> {
    while (this.#queuedBytes > 0 && this.#state.kind === "open") {
      const buf = this.#out!;
      const chunk = buf.subarray(0, this.#queuedBytes);
      // Frames queued while this write is in flight go into the spare buffer.
      this.#out = this.#spare;
      this.#spare = null;
      this.#queuedBytes = 0;
      try {
        let off = 0;
        while (off < chunk.byteLength) off += await this.#stream.write(chunk.subarray(off));
      } catch (e) {
        this.close({ kind: "io", message: errorText(e) });
      }
      if (buf.byteLength <= MAX_KEPT_OUT_BYTES) this.#spare ??= buf;
    }
    // Quiet now: an idle link holds no write buffer.
    if (this.#queuedBytes === 0) this.#out = null;
    this.#spare = null;
    this.#writing = false;
  }

  async #read(): Promise<void> {
    const stream = this.#stream;
    for (;;) {
      let chunk: Uint8Array | null;
      try {
        chunk = stream.readChunk ? await stream.readChunk() : await this.#readInto();
      } catch (e) {
        // rustls reports a peer that closed without TLS close_notify as UnexpectedEof:
        // for PORTAL02 that is an ordinary end of stream (frames are self-delimiting).
        this.close(
          e instanceof Deno.errors.UnexpectedEof
            ? { kind: "eof" }
            : { kind: "io", message: errorText(e) },
        );
        return;
      }
      if (this.#state.kind !== "open") return;
      if (chunk === null) {
        this.close({ kind: "eof" });
        return;
      }
      try {
        // Borrowed: frames are handled before the next read reuses the bytes, and
        // the decoder copies only what waits for the rest of its frame.
        this.#decoder.push(chunk, true);
        for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) {
          this.#handlers?.onFrame(f);
          if (this.#state.kind !== "open") return;
        }
      } catch (e) {
        if (e instanceof WireError) this.close({ kind: "protocol", error: e });
        else this.close({ kind: "local", why: `handler failed: ${errorText(e)}` });
        return;
      }
    }
  }

  /** One read into the reused buffer, which doubles (up to its bound) while reads fill it. */
  async #readInto(): Promise<Uint8Array | null> {
    let buf = this.#readBuf;
    if (buf === null) buf = this.#readBuf = new Uint8Array(Math.min(2048, this.#maxReadBuf));
    const n = await this.#stream.read(buf);
    if (n === null) return null;
    if (n === buf.byteLength && n < this.#maxReadBuf) {
      // The filled buffer is still being decoded from: the next read gets a new one.
      this.#readBuf = new Uint8Array(Math.min(n * 2, this.#maxReadBuf));
    }
    return buf.subarray(0, n);
  }
}
