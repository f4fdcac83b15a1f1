/** A bare PORTAL02 client for tests: speaks frames directly, no Portal logic. */
import { authDigest } from "../../src/auth/primitives.ts";
import {
  decodeJsonObject,
  encodeAuthResponse,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type JsonObject,
  MsgType,
} from "../../src/wire/mod.ts";

/** What a RawClient talks over: a Deno.Conn, or a node:tls socket's stream. */
export interface WireStream {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
}

/** One connection with a frame reader, dialed or accepted. */
export class RawClient<C extends WireStream = Deno.Conn> {
  readonly conn: C;
  /**
   * Presence announcements (PORTAL02.md §9) received so far, newest last:
   * every node sends them, so `next()` and `json()` set them aside here.
   */
  readonly presence: JsonObject[] = [];
  readonly #decoder = new FrameDecoder();
  readonly #buf = new Uint8Array(65536);

  constructor(conn: C) {
    this.conn = conn;
  }

  /** Connects to 127.0.0.1:port over plain TCP. */
  static async connect(port: number): Promise<RawClient> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.setNoDelay(true);
    return new RawClient(conn);
  }

  /** Connects and authenticates as `name`; throws unless the verdict is 200. */
  static async joined(port: number, name: string, key: string): Promise<RawClient> {
    const c = await RawClient.connect(port);
    const verdict = await c.authenticate(name, key);
    if (verdict.status !== 200) {
      c.close();
      throw new Error(`${name} was refused: ${JSON.stringify(verdict)}`);
    }
    return c;
  }

  /** The next frame other than a presence EVENT, or null at EOF (or on a reset). */
  async next(): Promise<Frame | null> {
    for (;;) {
      const f = this.#decoder.next();
      if (f && f.type === MsgType.Event) {
        const ev = decodeJsonObject(f.body);
        if (ev.topic === "presence") {
          this.presence.push(ev);
          continue;
        }
      }
      if (f) return { type: f.type, body: f.body.slice() };
      let n: number | null;
      try {
        n = await this.conn.read(this.#buf);
      } catch {
        return null;
      }
      if (n === null) return null;
      this.#decoder.push(this.#buf.subarray(0, n));
    }
  }

  async send(type: MsgType, body: Uint8Array): Promise<void> {
    await this.conn.write(encodeFrame(type, body));
  }

  /** Writes raw bytes (already framed, or garbage). */
  async write(bytes: Uint8Array): Promise<void> {
    await this.conn.write(bytes);
  }

  /** Resolves when the other side has closed the connection (reads and drops everything). */
  async drained(): Promise<void> {
    while ((await this.conn.read(this.#buf).catch(() => null)) !== null);
  }

  async sendJson(type: MsgType, msg: JsonObject): Promise<void> {
    await this.send(type, new TextEncoder().encode(JSON.stringify(msg)));
  }

  /** Reads the challenge and answers it; returns the verdict object. */
  async authenticate(name: string, key: string): Promise<JsonObject> {
    const challenge = await this.next();
    if (!challenge || challenge.type !== MsgType.AuthChallenge) throw new Error("no challenge");
    await this.send(
      MsgType.AuthResponse,
      encodeAuthResponse(authDigest(challenge.body, key), name),
    );
    return await this.json();
  }

  /** The next REQUEST/RESPONSE/EVENT body, answering PINGs on the way. */
  async json(): Promise<JsonObject> {
    for (;;) {
      const f = await this.next();
      if (f === null) throw new Error("connection closed");
      if (f.type === MsgType.Ping) {
        await this.send(MsgType.Pong, f.body);
        continue;
      }
      return decodeJsonObject(f.body);
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
