/** A neighbour that stops reading is closed as a slow consumer, and that is said once. */
import assert from "node:assert/strict";
import { memoryLogger } from "../src/log/logger.ts";
import { Peer, type PeerHost } from "../src/peer/peer.ts";
import { type ByteStream, FrameConnection } from "../src/transport/mod.ts";
import { FakeClock } from "./kit/mod.ts";
import { MsgType } from "../src/wire/mod.ts";
import { peerConfig } from "./helpers/nodes.ts";

/** A stream whose writes never complete and whose reads wait until it is closed. */
class StuckStream implements ByteStream {
  #wake: ((n: null) => void) | null = null;
  read(): Promise<number | null> {
    return new Promise((resolve) => (this.#wake = resolve));
  }
  write(): Promise<number> {
    return new Promise(() => {});
  }
  close(): void {
    this.#wake?.(null);
  }
}

Deno.test("Peer logs a slow consumer's close once, with the reason", async () => {
  const clock = new FakeClock();
  const logger = memoryLogger();
  const downs: string[] = [];
  const host: PeerHost = {
    localName: "hub",
    clock,
    logger,
    pingIntervalMs: 10_000,
    pingMaxMissed: 3,
    nextLinkId: () => 1,
    connect: () => Promise.reject(new Error("not dialing")),
    onFrame: () => {},
    onLinkUp: () => {},
    onLinkDown: (_p, _l, reason) => downs.push(reason),
  };
  const peer = new Peer({
    config: peerConfig("office", { host: null, autoConnect: false }),
    configured: true,
    host,
    reconnectInitialMs: 1000,
    reconnectMaxMs: 60_000,
    reconnectJitter: 0,
  });
  const conn = new FrameConnection(new StuckStream(), { maxOutboundBytes: 4096 });
  conn.start({ onFrame: () => {}, onClose: () => {} });
  try {
    assert.ok(peer.adopt(conn, "in", "127.0.0.1:1"));
    const chunk = new Uint8Array(1000);
    // The first frame goes into the stuck write; the rest pile up behind it.
    for (let i = 0; i < 10 && conn.isOpen; i++) conn.send(MsgType.Event, chunk);
    assert.equal(conn.isOpen, false);
    await conn.closed();
    assert.equal(downs.length, 1);
    assert.match(downs[0], /slow consumer/);
    const said = logger.lines.filter((l) => l.includes(" WARN ") && l.includes("slow consumer"));
    assert.equal(said.length, 1, said.join("\n"));
  } finally {
    peer.stop();
  }
  assert.equal(clock.pending, 0);
});
