/** Frame encoding and the streaming decoder (PORTAL02.md §2). Pure: no I/O. */
import { DEFAULT_MAX_FRAME_BYTES, HEADER_BYTES, MAGIC, MsgType, VERSION } from "./constants.ts";
import { WireError } from "./errors.ts";

/**
 * One decoded frame. `body` views the decoder's buffer (or a chunk pushed
 * with `borrow`) and is valid until the next `push`: handle it at once or
 * copy it.
 */
export interface Frame {
  readonly type: MsgType;
  readonly body: Uint8Array;
}

/** A frame below this size on an emptied buffer means the burst of large frames is over. */
const SMALL_FRAME = 4096;
/** Smallest buffer allocated for bytes that must wait for the rest of their frame. */
const INITIAL_BYTES = 1024;
/** What an idle decoder holds: nothing. */
const EMPTY = new Uint8Array(0);

const KNOWN_TYPES: ReadonlySet<number> = new Set(Object.values(MsgType));

/** Writes header and body into one new buffer. */
export function encodeFrame(type: MsgType, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(HEADER_BYTES + body.byteLength);
  writeHeader(out, 0, type, body.byteLength);
  out.set(body, HEADER_BYTES);
  return out;
}

/** Writes an 11-byte header at `offset` of `out`. */
export function writeHeader(out: Uint8Array, offset: number, type: MsgType, length: number): void {
  out.set(MAGIC, offset);
  const view = new DataView(out.buffer, out.byteOffset + offset, HEADER_BYTES);
  view.setUint16(4, VERSION);
  view.setUint8(6, type);
  view.setUint32(7, length);
}

/** Options of {@link FrameDecoder}. */
export interface FrameDecoderOptions {
  /** Largest body accepted; a header announcing more is refused. Default 1 MiB. */
  maxFrameBytes?: number;
}

type DecoderState =
  | { readonly kind: "header" }
  | { readonly kind: "body"; readonly type: MsgType; readonly length: number }
  | { readonly kind: "failed"; readonly error: WireError };

/**
 * Accepts bytes in any chunking and yields whole frames. The header is
 * checked before any body byte is buffered, so a refused length never
 * allocates. After an error the decoder stays failed: the stream is unusable.
 *
 * It owns a buffer only while part of a frame waits for the rest: frames
 * that arrive whole in a chunk pushed with `borrow` are returned from the
 * chunk itself, and an emptied buffer is dropped (kept only while large
 * frames stream), so thousands of idle links hold no decoder memory.
 */
export class FrameDecoder {
  readonly #max: number;
  #state: DecoderState = { kind: "header" };
  #buf: Uint8Array = EMPTY;
  /** `#buf` is the caller's chunk, not ours: copy what is left before it changes. */
  #borrowed = false;
  #start = 0;
  #end = 0;

  constructor(options: FrameDecoderOptions = {}) {
    const max = options.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES;
    // NaN would make every length comparison false and switch the limit off.
    if (!Number.isSafeInteger(max) || max < 0) {
      throw new RangeError(`maxFrameBytes must be a non-negative integer, got ${max}`);
    }
    this.#max = max;
  }

  /**
   * Appends a chunk; throws WireError when what has arrived breaks §2. With
   * `borrow`, the chunk is read in place until `next()` returns null (bytes
   * still waiting are copied then), so the caller must leave it unchanged
   * until then; without, it is copied at once.
   */
  push(chunk: Uint8Array, borrow = false): void {
    if (this.#state.kind === "failed") throw this.#state.error;
    if (chunk.byteLength === 0) return;
    if (borrow && this.#end === this.#start) {
      this.#buf = chunk;
      this.#borrowed = true;
      this.#start = 0;
      this.#end = chunk.byteLength;
      return;
    }
    this.#reserve(chunk.byteLength);
    this.#buf.set(chunk, this.#end);
    this.#end += chunk.byteLength;
  }

  /** The next whole frame, or null until more bytes arrive. Throws WireError. */
  next(): Frame | null {
    for (;;) {
      const state = this.#state;
      const avail = this.#end - this.#start;
      switch (state.kind) {
        case "failed":
          throw state.error;
        case "header": {
          if (avail < HEADER_BYTES) return this.#wait();
          this.#state = this.#parseHeader();
          continue;
        }
        case "body": {
          if (avail < state.length) return this.#wait();
          const body = this.#buf.subarray(this.#start, this.#start + state.length);
          this.#start += state.length;
          if (this.#start === this.#end) {
            this.#start = this.#end = 0;
            // Once traffic is back to small frames, drop the buffer (a stream of
            // large frames keeps it: reallocating per frame cost 15x in decode
            // time). The returned body views the old buffer.
            if (this.#borrowed || state.length < SMALL_FRAME) this.#buf = EMPTY;
            this.#borrowed = false;
          }
          this.#state = { kind: "header" };
          return { type: state.type, body };
        }
      }
    }
  }

  /** No whole frame yet: bytes left in a borrowed chunk are copied, since the caller reuses it. */
  #wait(): null {
    if (this.#borrowed) {
      const live = this.#buf.subarray(this.#start, this.#end);
      this.#buf = EMPTY;
      this.#borrowed = false;
      this.#start = this.#end = 0;
      if (live.byteLength > 0) {
        this.#reserve(live.byteLength);
        this.#buf.set(live);
        this.#end = live.byteLength;
      }
    }
    return null;
  }

  /** Bytes received but not yet returned as frames. */
  get buffered(): number {
    return this.#end - this.#start;
  }

  #parseHeader(): DecoderState {
    const b = this.#buf;
    const s = this.#start;
    const fail = (error: WireError): DecoderState => {
      this.#state = { kind: "failed", error };
      throw error;
    };
    if (
      b[s] !== MAGIC[0] || b[s + 1] !== MAGIC[1] || b[s + 2] !== MAGIC[2] || b[s + 3] !== MAGIC[3]
    ) {
      return fail(new WireError("bad_magic", "wrong magic: not a PORTAL02 frame"));
    }
    const version = (b[s + 4] << 8) | b[s + 5];
    if (version !== VERSION) {
      return fail(new WireError("bad_version", `unsupported protocol version 0x${hex4(version)}`));
    }
    const type = b[s + 6];
    if (!KNOWN_TYPES.has(type)) {
      return fail(new WireError("unknown_type", `unknown message type 0x${type.toString(16)}`));
    }
    const length = ((b[s + 7] << 24) >>> 0) + ((b[s + 8] << 16) | (b[s + 9] << 8) | b[s + 10]);
    if (length > this.#max) {
      return fail(
        new WireError(
          "frame_too_large",
          `frame body of ${length} bytes exceeds the limit of ${this.#max}`,
        ),
      );
    }
    this.#start += HEADER_BYTES;
    return { kind: "body", type: type as MsgType, length };
  }

  #reserve(extra: number): void {
    if (!this.#borrowed && this.#end + extra <= this.#buf.byteLength) return;
    const live = this.#end - this.#start;
    // Growing into a fresh buffer rather than compacting in place; note that a
    // returned body is still only valid until the next push (see Frame).
    let size = Math.max(INITIAL_BYTES, this.#borrowed ? 0 : this.#buf.byteLength);
    while (size < live + extra) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(this.#start, this.#end));
    this.#buf = next;
    this.#borrowed = false;
    this.#start = 0;
    this.#end = live;
  }
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, "0");
}
