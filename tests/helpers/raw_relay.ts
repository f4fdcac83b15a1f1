/**
 * A hostile relay for tests: a bare PORTAL02 client over TLS that joins real nodes under a
 * name (usually `hub`), answers their PINGs, and lets the test read, alter, replay and forge
 * the REQUEST and RESPONSE frames it carries.
 */
import { within } from "../kit/mod.ts";
import { decodeJsonObject, type JsonObject, MsgType } from "../../src/wire/mod.ts";
import { RawClient } from "./raw_client.ts";

/** A frame the relay received. */
export interface Carried {
  readonly type: typeof MsgType.Request | typeof MsgType.Response;
  readonly msg: JsonObject;
}

/** One authenticated TLS link of the relay to a node. */
export class RawTlsLink {
  readonly #client: RawClient;
  readonly #frames: Carried[] = [];
  #wake: () => void = () => {};
  readonly #pump: Promise<void>;

  private constructor(client: RawClient) {
    this.#client = client;
    this.#pump = this.#run();
  }

  /**
   * Dials 127.0.0.1:`port` over TLS (trusting `caPem`, checking the name 127.0.0.1), and
   * authenticates as `name` with `key`; throws unless the node answers 200.
   */
  static async join(port: number, caPem: string, name: string, key: string): Promise<RawTlsLink> {
    const conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
    const client = new RawClient(conn);
    try {
      const verdict = await within(client.authenticate(name, key), `${name} joining`);
      if (verdict.status !== 200) throw new Error(`${name} refused: ${JSON.stringify(verdict)}`);
    } catch (e) {
      client.close();
      throw e;
    }
    return new RawTlsLink(client);
  }

  /** The next REQUEST or RESPONSE received (taken from the queue) that `match` accepts. */
  async next(
    type: Carried["type"],
    what: string,
    match: (msg: JsonObject) => boolean = () => true,
    ms = 10_000,
  ): Promise<JsonObject> {
    const take = (): JsonObject | undefined => {
      const i = this.#frames.findIndex((f) => f.type === type && match(f.msg));
      return i < 0 ? undefined : this.#frames.splice(i, 1)[0].msg;
    };
    return await within(
      (async () => {
        for (;;) {
          const found = take();
          if (found) return found;
          await new Promise<void>((r) => (this.#wake = r));
        }
      })(),
      what,
      ms,
    );
  }

  /** Sends a REQUEST (or RESPONSE) body as given. */
  async send(type: Carried["type"], msg: JsonObject): Promise<void> {
    await this.#client.sendJson(type, msg);
  }

  /** Sends a presence announcement (PORTAL02.md §9) listing `nodes` to `dst`. */
  async announce(src: string, dst: string, nodes: readonly string[]): Promise<void> {
    await this.#client.sendJson(MsgType.Event, {
      src,
      dst,
      topic: "presence",
      data: { full: true, nodes: nodes.map((name) => ({ name, rtt_ms: 1 })) },
    });
  }

  async close(): Promise<void> {
    this.#client.close();
    await this.#pump;
  }

  async #run(): Promise<void> {
    for (;;) {
      const f = await this.#client.next();
      if (f === null) break;
      if (f.type === MsgType.Ping) {
        await this.#client.send(MsgType.Pong, f.body).catch(() => {});
      } else if (f.type === MsgType.Request || f.type === MsgType.Response) {
        this.#frames.push({ type: f.type, msg: decodeJsonObject(f.body) });
        this.#wake();
      }
    }
    this.#wake();
  }
}
