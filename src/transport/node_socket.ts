/**
 * A `node:tls` socket as the ByteStream a FrameConnection reads and writes:
 * what both the listener (node_tls.ts) and the certificate-presenting dialer
 * (tls_dial.ts) hand over once TLS is up.
 */
import type tls from "node:tls";
import type { ByteStream } from "./types.ts";

/** Bytes buffered from a socket before it is paused until the reader catches up. */
const HIGH_WATER = 256 * 1024;

/** A node:tls socket seen as the ByteStream a FrameConnection reads and writes. */
export class NodeSocketStream implements ByteStream {
  readonly #socket: tls.TLSSocket;
  #chunks: Uint8Array[] = [];
  #buffered = 0;
  #ended = false;
  #error: Error | null = null;
  #wake: (() => void) | null = null;

  readonly #onClose: (() => void) | null;

  /** `onClose` runs once the socket is closed, from either side. */
  constructor(socket: tls.TLSSocket, onClose?: () => void) {
    this.#socket = socket;
    this.#onClose = onClose ?? null;
    socket.on("data", (d: Uint8Array) => {
      // A plain view, not a Buffer: Buffer#slice shares memory where Uint8Array#slice copies.
      this.#chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      this.#buffered += d.byteLength;
      if (this.#buffered > HIGH_WATER) socket.pause();
      this.#notify();
    });
    socket.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    socket.on("close", () => {
      this.#ended = true;
      this.#notify();
      this.#onClose?.();
    });
    socket.on("error", (e: Error) => {
      this.#error = e;
      this.#notify();
    });
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = null;
    wake?.();
  }

  async readChunk(): Promise<Uint8Array | null> {
    if (!(await this.#ready())) return null;
    const chunk = this.#chunks.shift()!;
    this.#buffered -= chunk.byteLength;
    if (this.#buffered <= HIGH_WATER / 2 && this.#socket.isPaused()) this.#socket.resume();
    return chunk;
  }

  /** Waits for a chunk; false at the end of the stream. */
  async #ready(): Promise<boolean> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return false;
      await new Promise<void>((resolve) => (this.#wake = resolve));
    }
    return true;
  }

  async read(p: Uint8Array): Promise<number | null> {
    if (!(await this.#ready())) return null;
    let n = 0;
    while (n < p.byteLength && this.#chunks.length > 0) {
      const head = this.#chunks[0];
      const take = Math.min(head.byteLength, p.byteLength - n);
      p.set(head.subarray(0, take), n);
      n += take;
      if (take === head.byteLength) this.#chunks.shift();
      else this.#chunks[0] = head.subarray(take);
    }
    this.#buffered -= n;
    if (this.#buffered <= HIGH_WATER / 2 && this.#socket.isPaused()) this.#socket.resume();
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    return new Promise((resolve, reject) => {
      if (this.#socket.destroyed) {
        reject(new Error("connection closed"));
        return;
      }
      this.#socket.write(p, (err?: Error | null) => err ? reject(err) : resolve(p.byteLength));
    });
  }

  close(): void {
    this.#socket.destroy();
    this.#ended = true;
    this.#notify();
    this.#onClose?.();
  }
}
