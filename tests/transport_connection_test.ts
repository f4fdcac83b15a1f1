import assert from "node:assert/strict";
import { type ByteStream, type CloseReason, FrameConnection } from "../src/transport/mod.ts";
import { encodeFrame, type Frame, HEADER_BYTES, MsgType } from "../src/wire/mod.ts";
import { settle } from "./kit/mod.ts";

/** A stream that records writes and lets the test decide when reads and writes complete. */
class ScriptedStream implements ByteStream {
  readonly writes: Uint8Array[] = [];
  #reads: ((n: Uint8Array | null) => void)[] = [];
  #closed = false;
  writeGate: Promise<void> = Promise.resolve();

  read(p: Uint8Array): Promise<number | null> {
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#reads.push((chunk) => {
        if (chunk === null) return resolve(null);
        p.set(chunk);
        resolve(chunk.byteLength);
      });
    });
  }

  /** Delivers bytes to the pending read. */
  feed(chunk: Uint8Array | null): void {
    this.#reads.shift()?.(chunk);
  }

  async write(p: Uint8Array): Promise<number> {
    this.writes.push(p.slice());
    await this.writeGate;
    return p.byteLength;
  }

  close(): void {
    this.#closed = true;
    for (const r of this.#reads.splice(0)) r(null);
  }
}

Deno.test("FrameConnection sends every frame queued in one tick as one write", async () => {
  const stream = new ScriptedStream();
  const conn = new FrameConnection(stream);
  conn.start({ onFrame: () => {}, onClose: () => {} });
  for (let i = 0; i < 5; i++) conn.send(MsgType.Ping, new Uint8Array([i]));
  await settle();
  assert.equal(stream.writes.length, 1);
  assert.equal(stream.writes[0].byteLength, 5 * (HEADER_BYTES + 1));
  conn.close();
  await conn.closed();
});

Deno.test("FrameConnection sends frames queued microtasks apart in one turn as one write", async () => {
  const stream = new ScriptedStream();
  const conn = new FrameConnection(stream);
  conn.start({ onFrame: () => {}, onClose: () => {} });
  // As a worker pool of 4 releases 16 answers: 4 at a time, each batch a few microtasks later.
  const answer = async (i: number) => {
    for (let hop = 0; hop < 3 * Math.floor(i / 4); hop++) await Promise.resolve();
    conn.send(MsgType.Pong, new Uint8Array([i]));
  };
  await Promise.all(Array.from({ length: 16 }, (_, i) => answer(i)));
  assert.equal(stream.writes.length, 0, "nothing written before the turn ends");
  await settle();
  assert.equal(stream.writes.length, 1);
  assert.equal(stream.writes[0].byteLength, 16 * (HEADER_BYTES + 1));
  conn.close();
  await conn.closed();
});

Deno.test("FrameConnection batches frames queued while a write is in flight into the next write", async () => {
  const stream = new ScriptedStream();
  let open!: () => void;
  stream.writeGate = new Promise((r) => (open = r));
  const conn = new FrameConnection(stream);
  conn.start({ onFrame: () => {}, onClose: () => {} });
  conn.send(MsgType.Ping, new Uint8Array([1]));
  await settle();
  for (let i = 0; i < 3; i++) {
    conn.send(MsgType.Ping, new Uint8Array([2 + i]));
    await settle();
  }
  assert.equal(stream.writes.length, 1, "the first write is still in flight");
  stream.writeGate = Promise.resolve();
  open();
  await settle();
  assert.equal(stream.writes.length, 2);
  assert.equal(stream.writes[1].byteLength, 3 * (HEADER_BYTES + 1));
  conn.close();
  await conn.closed();
});

Deno.test("FrameConnection closes a peer that stops reading as a slow consumer", async () => {
  const stream = new ScriptedStream();
  stream.writeGate = new Promise(() => {}); // the peer never drains
  const reasons: CloseReason[] = [];
  const conn = new FrameConnection(stream, { maxOutboundBytes: 1000 });
  conn.start({ onFrame: () => {}, onClose: (r) => reasons.push(r) });
  const body = new Uint8Array(300);
  assert.equal(conn.send(MsgType.Event, body), true);
  await settle();
  // The first frame is in the stuck write; the queue then fills up behind it.
  let accepted = 0;
  while (conn.send(MsgType.Event, body)) accepted++;
  assert.equal(accepted, 3, "three more frames fit under 1000 bytes");
  assert.equal(reasons.length, 1);
  assert.equal(reasons[0].kind, "slow_consumer");
  assert.equal(conn.isOpen, false);
  assert.equal(conn.send(MsgType.Event, body), false, "nothing is queued after the close");
});

Deno.test("FrameConnection decodes frames split across reads and closes on a protocol violation", async () => {
  const stream = new ScriptedStream();
  const frames: Frame[] = [];
  const reasons: CloseReason[] = [];
  const conn = new FrameConnection(stream);
  conn.start({
    onFrame: (f) => frames.push({ type: f.type, body: f.body.slice() }),
    onClose: (r) => reasons.push(r),
  });
  const bytes = encodeFrame(MsgType.Ping, new Uint8Array([7, 8, 9]));
  stream.feed(bytes.subarray(0, 5));
  await settle();
  stream.feed(bytes.subarray(5));
  await settle();
  assert.deepEqual(frames.map((f) => [...f.body]), [[7, 8, 9]]);
  stream.feed(new Uint8Array(11)); // wrong magic
  await conn.closed();
  assert.equal(reasons[0].kind, "protocol");
});

Deno.test("FrameConnection copies a body when it is queued, so the caller may reuse it at once", async () => {
  const stream = new ScriptedStream();
  const conn = new FrameConnection(stream);
  conn.start({ onFrame: () => {}, onClose: () => {} });
  const body = new TextEncoder().encode('{"ttl":7}');
  conn.send(MsgType.Request, body);
  body.fill(0x20);
  // A second batch, larger than the first buffer, after the first write finished.
  await settle();
  const big = new Uint8Array(3000).fill(0x41);
  conn.send(MsgType.Event, big);
  big.fill(0);
  await settle();
  assert.deepEqual(stream.writes, [
    encodeFrame(MsgType.Request, new TextEncoder().encode('{"ttl":7}')),
    encodeFrame(MsgType.Event, new Uint8Array(3000).fill(0x41)),
  ]);
  conn.close();
  await conn.closed();
});
