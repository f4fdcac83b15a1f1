/**
 * A bare PORTAL02 node for the benchmark: TLS dial, the §3 challenge-response, then frames.
 * Built on src/wire and src/auth only, so it measures the hub and the far node, not our
 * Federation class on the client side.
 */
import { authDigest } from "../../src/auth/primitives.ts";
import {
  decodeResponse,
  encodeAuthResponse,
  encodeFrame,
  type Frame,
  FrameDecoder,
  MsgType,
} from "../../src/wire/mod.ts";
import { CoalescingWriter, dialTls } from "./tls.ts";

/** Why a benchmark client could not join. */
export class JoinError extends Error {
  override readonly name = "JoinError";
}

/** An authenticated PORTAL02 connection with a frame reader and a coalescing writer. */
export class FedClient {
  readonly conn: Deno.TlsConn;
  readonly writer: CoalescingWriter;
  readonly #decoder = new FrameDecoder();
  readonly #buf: Uint8Array;

  private constructor(conn: Deno.TlsConn, readBufferBytes: number) {
    this.conn = conn;
    this.writer = new CoalescingWriter(conn);
    this.#buf = new Uint8Array(readBufferBytes);
  }

  /**
   * Dials `port`, answers the challenge as `name` with `key`, and checks the 200 verdict.
   * `readBufferBytes` is small for the many idle peers of the capacity row.
   */
  static async join(
    port: number,
    caPem: string,
    name: string,
    key: string,
    readBufferBytes = 64 * 1024,
  ): Promise<FedClient> {
    const conn = await dialTls(port, caPem);
    const client = new FedClient(conn, readBufferBytes);
    try {
      const challenge = await client.next();
      if (challenge?.type !== MsgType.AuthChallenge) {
        throw new JoinError(`expected AUTH_CHALLENGE, got ${challenge ? challenge.type : "EOF"}`);
      }
      const digest = authDigest(challenge.body, key);
      await conn.write(encodeFrame(MsgType.AuthResponse, encodeAuthResponse(digest, name)));
      const verdict = await client.next();
      if (verdict?.type !== MsgType.Response) {
        throw new JoinError(`expected the auth verdict, got ${verdict ? verdict.type : "EOF"}`);
      }
      const res = decodeResponse(verdict.body);
      if (res.status !== 200) throw new JoinError(`authentication refused: status ${res.status}`);
    } catch (e) {
      client.close();
      throw e;
    }
    return client;
  }

  /** The next frame (body copied), or null at EOF. For the handshake only. */
  async next(): Promise<Frame | null> {
    for (;;) {
      const f = this.#decoder.next();
      if (f) return { type: f.type, body: f.body.slice() };
      const n = await this.conn.read(this.#buf);
      if (n === null) return null;
      this.#decoder.push(this.#buf.subarray(0, n));
    }
  }

  /**
   * Reads until EOF or error, calling `onFrame` for each frame (its body is only valid during
   * the call). PINGs are answered here, then passed on too. Resolves with why reading stopped.
   */
  async pump(onFrame: (f: Frame) => void): Promise<string> {
    for (;;) {
      for (let f = this.#decoder.next(); f !== null; f = this.#decoder.next()) {
        if (f.type === MsgType.Ping) this.writer.push(encodeFrame(MsgType.Pong, f.body.slice()));
        onFrame(f);
      }
      let n: number | null;
      try {
        n = await this.conn.read(this.#buf);
      } catch (e) {
        return (e as Error).message;
      }
      if (n === null) return "closed by the remote side";
      this.#decoder.push(this.#buf.subarray(0, n));
    }
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }
}
