/** PORTAL02 §2 framing: encodeFrame, writeHeader and the streaming FrameDecoder. */
import assert from "node:assert/strict";
import {
  DEFAULT_MAX_FRAME_BYTES,
  encodeFrame,
  type Frame,
  FrameDecoder,
  HEADER_BYTES,
  MAGIC,
  MAX_PING_BYTES,
  MsgType,
  NONCE_BYTES,
  VERSION,
  WireError,
  type WireErrorCode,
  writeHeader,
} from "../src/wire/mod.ts";
import { mulberry32, randBytes, randInt } from "./kit/random.ts";

const ALL_TYPES: readonly MsgType[] = Object.values(MsgType);
const KNOWN_CODES: ReadonlySet<WireErrorCode> = new Set<WireErrorCode>([
  "bad_magic",
  "bad_version",
  "unknown_type",
  "frame_too_large",
  "bad_json",
  "not_an_object",
  "bad_field",
  "bad_auth_body",
  "bad_ping_body",
]);

const enc = new TextEncoder();
const json = (v: unknown) => enc.encode(JSON.stringify(v));

/** A small limit, above the decoder's 4096-byte initial buffer so growth is exercised. */
const SMALL_MAX = 5000;

interface Sample {
  readonly label: string;
  readonly type: MsgType;
  readonly body: Uint8Array;
}

function corpus(): Sample[] {
  const rand = mulberry32(0xc0ffee);
  const samples: Sample[] = [];
  for (const type of ALL_TYPES) {
    samples.push({ label: `type 0x0${type} empty body`, type, body: new Uint8Array(0) });
  }
  samples.push(
    {
      label: "request",
      type: MsgType.Request,
      body: json({
        id: 17,
        src: "office",
        dst: "factory",
        method: "GET",
        path: "/health",
        args: {},
        ttl: 8,
        timeout_ms: 10000,
      }),
    },
    {
      label: "response",
      type: MsgType.Response,
      body: json({ id: 17, src: "factory", dst: "office", status: 200, body: { status: "ok" } }),
    },
    {
      label: "event with unicode",
      type: MsgType.Event,
      body: json({
        src: "factory",
        dst: "office",
        topic: "/iot/devices/plug-001",
        data: { label: "Kühlraum ключ 鍵 🔑 e\u0301", zwj: "👩‍🔧", nul: "\u0000" },
      }),
    },
    {
      label: "auth challenge",
      type: MsgType.AuthChallenge,
      body: randBytes(rand, NONCE_BYTES),
    },
    {
      label: "auth response",
      type: MsgType.AuthResponse,
      body: new Uint8Array([...randBytes(rand, 32), ...enc.encode("office-1")]),
    },
    { label: "ping 64 bytes", type: MsgType.Ping, body: randBytes(rand, MAX_PING_BYTES) },
    { label: "pong 1 byte", type: MsgType.Pong, body: new Uint8Array([0]) },
    {
      label: "request body of exactly maxFrameBytes",
      type: MsgType.Request,
      body: randBytes(rand, SMALL_MAX),
    },
    {
      label: "body of maxFrameBytes - 1",
      type: MsgType.Event,
      body: randBytes(rand, SMALL_MAX - 1),
    },
    { label: "body that looks like a header", type: MsgType.Pong, body: encodeFrame(MsgType.Ping) },
  );
  return samples;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Feeds `stream` in the given chunk sizes, draining after each push; bodies are copied. */
function decodeInChunks(
  stream: Uint8Array,
  chunkSizes: Iterable<number>,
  maxFrameBytes = SMALL_MAX,
): Frame[] {
  const decoder = new FrameDecoder({ maxFrameBytes });
  const frames: Frame[] = [];
  let at = 0;
  for (const size of chunkSizes) {
    if (at >= stream.byteLength) break;
    decoder.push(stream.subarray(at, at + size));
    at += size;
    for (let f = decoder.next(); f !== null; f = decoder.next()) {
      frames.push({ type: f.type, body: f.body.slice() });
    }
  }
  assert.equal(at >= stream.byteLength, true, "chunking did not cover the stream");
  assert.equal(decoder.buffered, 0, "bytes left over after the last frame");
  assert.equal(decoder.next(), null);
  return frames;
}

function* repeat(size: number): Generator<number> {
  for (;;) yield size;
}

function* randomChunks(rand: () => number, maxChunk: number): Generator<number> {
  for (;;) yield randInt(rand, 1, maxChunk);
}

function assertFramesEqual(actual: readonly Frame[], expected: readonly Sample[], note: string) {
  assert.equal(actual.length, expected.length, `${note}: frame count`);
  for (let i = 0; i < expected.length; i++) {
    assert.equal(actual[i].type, expected[i].type, `${note}: type of ${expected[i].label}`);
    assert.deepEqual(actual[i].body, expected[i].body, `${note}: body of ${expected[i].label}`);
  }
}

function expectWireError(fn: () => unknown, code: WireErrorCode): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof WireError, `expected WireError ${code}, got ${String(caught)}`);
  assert.equal(caught.code, code);
  return caught;
}

function header(type: number, length: number, magic = MAGIC, version = VERSION): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES);
  h.set(magic);
  const v = new DataView(h.buffer);
  v.setUint16(4, version);
  v.setUint8(6, type);
  v.setUint32(7, length);
  return h;
}

Deno.test("encodeFrame() writes the §2 header byte for byte", () => {
  const frame = encodeFrame(MsgType.Ping, new Uint8Array([0xaa, 0xbb, 0xcc]));
  assert.deepEqual(
    Array.from(frame),
    [0x50, 0x52, 0x54, 0x00, 0x00, 0x02, 0x06, 0x00, 0x00, 0x00, 0x03, 0xaa, 0xbb, 0xcc],
  );
  assert.deepEqual(
    Array.from(encodeFrame(MsgType.Request)),
    [0x50, 0x52, 0x54, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00],
  );
});

Deno.test("writeHeader() writes big-endian lengths at an offset inside a subarray", () => {
  const backing = new Uint8Array(40).fill(0xee);
  const view = backing.subarray(5, 30);
  writeHeader(view, 3, MsgType.Event, 0x01020304);
  assert.deepEqual(
    Array.from(backing.subarray(8, 8 + HEADER_BYTES)),
    [0x50, 0x52, 0x54, 0x00, 0x00, 0x02, 0x03, 0x01, 0x02, 0x03, 0x04],
  );
  assert.equal(backing[7], 0xee, "byte before the header untouched");
  assert.equal(backing[8 + HEADER_BYTES], 0xee, "byte after the header untouched");
});

Deno.test("FrameDecoder round-trips the corpus fed all at once, byte by byte, and per frame", () => {
  const samples = corpus();
  const stream = concat(samples.map((s) => encodeFrame(s.type, s.body)));
  assertFramesEqual(decodeInChunks(stream, [stream.byteLength]), samples, "all at once");
  assertFramesEqual(decodeInChunks(stream, repeat(1)), samples, "byte by byte");
  assertFramesEqual(
    decodeInChunks(stream, samples.map((s) => HEADER_BYTES + s.body.byteLength)),
    samples,
    "one push per frame",
  );
  for (const size of [2, 3, 10, 11, 12, 4095, 4096, 4097]) {
    assertFramesEqual(decodeInChunks(stream, repeat(size)), samples, `chunks of ${size}`);
  }
});

Deno.test("FrameDecoder round-trips the corpus in 200 seeded random chunkings", () => {
  const samples = corpus();
  const stream = concat(samples.map((s) => encodeFrame(s.type, s.body)));
  for (let seed = 1; seed <= 200; seed++) {
    const rand = mulberry32(seed);
    // Vary the scale too: tiny chunks split headers, big ones carry several frames.
    const maxChunk = [3, 16, 300, 9000][seed % 4];
    const frames = decodeInChunks(stream, randomChunks(rand, maxChunk));
    assertFramesEqual(frames, samples, `seed ${seed}, chunks up to ${maxChunk}`);
  }
});

Deno.test("FrameDecoder round-trips a shuffled corpus many times over in one stream", () => {
  const rand = mulberry32(4242);
  const base = corpus();
  const samples: Sample[] = [];
  for (let i = 0; i < 300; i++) samples.push(base[randInt(rand, 0, base.length - 1)]);
  const stream = concat(samples.map((s) => encodeFrame(s.type, s.body)));
  assertFramesEqual(decodeInChunks(stream, randomChunks(rand, 700)), samples, "shuffled");
});

Deno.test("FrameDecoder accepts a 1 MiB body at the default limit", () => {
  const body = randBytes(mulberry32(7), DEFAULT_MAX_FRAME_BYTES);
  const stream = encodeFrame(MsgType.Event, body);
  const frames = decodeInChunks(stream, repeat(65536), DEFAULT_MAX_FRAME_BYTES);
  assert.equal(frames.length, 1);
  assert.deepEqual(frames[0].body, body);
});

Deno.test("FrameDecoder.next() returns null until a frame is whole", () => {
  const decoder = new FrameDecoder();
  const frame = encodeFrame(MsgType.Ping, new Uint8Array([1, 2, 3]));
  for (let i = 0; i < frame.byteLength - 1; i++) {
    decoder.push(frame.subarray(i, i + 1));
    assert.equal(decoder.next(), null, `after ${i + 1} bytes`);
  }
  decoder.push(frame.subarray(frame.byteLength - 1));
  const f = decoder.next();
  assert.ok(f);
  assert.equal(f.type, MsgType.Ping);
  assert.deepEqual(Array.from(f.body), [1, 2, 3]);
  assert.equal(decoder.next(), null);
  decoder.push(new Uint8Array(0));
  assert.equal(decoder.buffered, 0);
});

Deno.test("FrameDecoder refuses a 4 GiB length from the header alone, without buffering", () => {
  const decoder = new FrameDecoder({ maxFrameBytes: SMALL_MAX });
  const h = header(MsgType.Request, 0xffffffff);
  for (let i = 0; i < HEADER_BYTES - 1; i++) {
    decoder.push(h.subarray(i, i + 1));
    assert.equal(decoder.next(), null, `decided after only ${i + 1} header bytes`);
  }
  decoder.push(h.subarray(HEADER_BYTES - 1));
  const err = expectWireError(() => decoder.next(), "frame_too_large");
  assert.match(err.message, /4294967295/);
  assert.equal(decoder.buffered, HEADER_BYTES, "nothing beyond the header was taken in");
  // Body bytes arriving afterwards are refused, not stored.
  expectWireError(() => decoder.push(new Uint8Array(1024)), "frame_too_large");
  assert.equal(decoder.buffered, HEADER_BYTES);
});

Deno.test("FrameDecoder refuses 0xFFFFFFFF at the default limit too", () => {
  const decoder = new FrameDecoder();
  decoder.push(header(MsgType.Event, 0xffffffff));
  expectWireError(() => decoder.next(), "frame_too_large");
  assert.equal(decoder.buffered, HEADER_BYTES);
});

Deno.test("FrameDecoder accepts a length exactly at the limit and refuses limit + 1", () => {
  for (const max of [0, 1, 64, SMALL_MAX, DEFAULT_MAX_FRAME_BYTES]) {
    const atLimit = new FrameDecoder({ maxFrameBytes: max });
    atLimit.push(header(MsgType.Event, max));
    if (max === 0) {
      assert.deepEqual(atLimit.next(), { type: MsgType.Event, body: new Uint8Array(0) });
    } else {
      assert.equal(atLimit.next(), null, `max ${max}: header at the limit waits for the body`);
    }
    const over = new FrameDecoder({ maxFrameBytes: max });
    over.push(header(MsgType.Event, max + 1));
    expectWireError(() => over.next(), "frame_too_large");
  }
  // Lengths with the top bit set must not be read as negative numbers.
  for (const length of [0x80000000, 0x80000001, 0xfffffffe]) {
    const d = new FrameDecoder();
    d.push(header(MsgType.Ping, length));
    expectWireError(() => d.next(), "frame_too_large");
  }
});

Deno.test("FrameDecoder fails closed when maxFrameBytes is NaN", () => {
  // A limit that came out of bad arithmetic or parsing must not switch the limit off: either
  // the constructor refuses it, or a 4 GiB header is still refused.
  let decoder: FrameDecoder;
  try {
    decoder = new FrameDecoder({ maxFrameBytes: NaN });
  } catch (e) {
    assert.ok(e instanceof Error);
    return;
  }
  decoder.push(header(MsgType.Event, 0xffffffff));
  expectWireError(() => decoder.next(), "frame_too_large");
});

Deno.test("FrameDecoder refuses wrong magic, wrong version and unknown types by code", () => {
  const cases: { label: string; bytes: Uint8Array; code: WireErrorCode }[] = [];
  for (let i = 0; i < 4; i++) {
    const magic = MAGIC.slice();
    magic[i] ^= 0x01;
    cases.push({
      label: `magic byte ${i}`,
      bytes: header(MsgType.Ping, 0, magic),
      code: "bad_magic",
    });
  }
  cases.push({
    label: "lower-case magic",
    bytes: header(MsgType.Ping, 0, enc.encode("prt\0")),
    code: "bad_magic",
  });
  cases.push({ label: "HTTP request", bytes: enc.encode("GET / HTTP/1.1\r\n"), code: "bad_magic" });
  cases.push({ label: "TLS ClientHello", bytes: new Uint8Array(11).fill(0x16), code: "bad_magic" });
  for (const version of [0x0000, 0x0001, 0x0003, 0x0200, 0xffff]) {
    cases.push({
      label: `version 0x${version.toString(16)}`,
      bytes: header(MsgType.Ping, 0, MAGIC, version),
      code: "bad_version",
    });
  }
  for (const type of [0x00, 0x08, 0x10, 0x7f, 0x81, 0xff]) {
    cases.push({
      label: `type 0x${type.toString(16)}`,
      bytes: header(type, 0),
      code: "unknown_type",
    });
  }
  // Magic is checked before version, version before type, type before length.
  cases.push({
    label: "bad magic and version",
    bytes: header(0xff, 0xffffffff, enc.encode("XXXX"), 9),
    code: "bad_magic",
  });
  cases.push({
    label: "bad version and type",
    bytes: header(0xff, 0, MAGIC, 9),
    code: "bad_version",
  });
  cases.push({
    label: "bad type and length",
    bytes: header(0xff, 0xffffffff),
    code: "unknown_type",
  });

  for (const c of cases) {
    const decoder = new FrameDecoder();
    decoder.push(c.bytes);
    const first = expectWireError(() => decoder.next(), c.code);
    // Stays failed: the same error again, whatever arrives later.
    assert.equal(expectWireError(() => decoder.next(), c.code), first, c.label);
    assert.equal(
      expectWireError(() => decoder.push(encodeFrame(MsgType.Ping)), c.code),
      first,
      c.label,
    );
    assert.equal(expectWireError(() => decoder.next(), c.code), first, c.label);
  }
});

Deno.test("FrameDecoder returns the frames before a bad header, then fails for good", () => {
  const decoder = new FrameDecoder();
  const good = encodeFrame(MsgType.Pong, new Uint8Array([9]));
  decoder.push(concat([good, good, header(0x09, 0), good]));
  assert.equal(decoder.next()?.type, MsgType.Pong);
  assert.equal(decoder.next()?.type, MsgType.Pong);
  expectWireError(() => decoder.next(), "unknown_type");
  expectWireError(() => decoder.next(), "unknown_type");
});

Deno.test("FrameDecoder fed 10,000 seeded random byte strings throws only known WireErrors", () => {
  // Thirds: plain random bytes; the right magic then random bytes; magic + version then a
  // mostly plausible type and length, so every check of §2 is reached, not only the first.
  const rand = mulberry32(20240601);
  const seen = new Map<string, number>();
  const count = (k: string) => seen.set(k, (seen.get(k) ?? 0) + 1);
  let frames = 0;
  for (let i = 0; i < 10_000; i++) {
    const mode = i % 3;
    let bytes: Uint8Array;
    if (mode === 1) {
      // Right magic, then anything: reaches the version check.
      bytes = concat([MAGIC, randBytes(rand, randInt(rand, 0, 40))]);
    } else if (mode === 2) {
      // A valid magic+version, then a type that is usually known and a length that is often
      // small, so the type, length and body paths are reached, not just the magic check.
      const rest = randBytes(rand, randInt(rand, 0, 120));
      if (rest.byteLength >= 1 && rand() < 0.8) rest[0] = randInt(rand, 0, 8);
      if (rest.byteLength >= 5 && rand() < 0.7) {
        rest[1] = rest[2] = 0;
        rest[3] = rand() < 0.5 ? 0 : randInt(rand, 0, 2);
      }
      bytes = concat([MAGIC, new Uint8Array([0x00, 0x02]), rest]);
      if (rand() < 0.3) bytes = concat([bytes, ...Array.from({ length: 3 }, () => bytes)]);
    } else {
      bytes = randBytes(rand, randInt(rand, 0, 64));
    }
    const decoder = new FrameDecoder({ maxFrameBytes: 256 });
    try {
      let at = 0;
      while (at < bytes.byteLength) {
        const n = randInt(rand, 1, 40);
        decoder.push(bytes.subarray(at, at + n));
        at += n;
        for (let f = decoder.next(); f !== null; f = decoder.next()) {
          frames++;
          assert.ok(ALL_TYPES.includes(f.type), `frame of unknown type ${f.type}`);
          assert.ok(f.body.byteLength <= 256);
        }
      }
      count("incomplete or clean");
    } catch (e) {
      if (!(e instanceof WireError)) {
        throw new Error(`input #${i} threw ${String(e)}; bytes ${Array.from(bytes)}`);
      }
      assert.ok(KNOWN_CODES.has(e.code), `unknown code ${e.code}`);
      count(e.code);
      assert.ok(decoder.buffered <= bytes.byteLength);
    }
  }
  // The corpus must actually have reached every framing rule, or the test proves little.
  for (const code of ["bad_magic", "bad_version", "unknown_type", "frame_too_large"]) {
    assert.ok((seen.get(code) ?? 0) > 20, `only ${seen.get(code) ?? 0} inputs hit ${code}`);
  }
  assert.ok(frames > 100, `only ${frames} random frames decoded`);
});

Deno.test("FrameDecoder reads borrowed chunks in place and keeps what waits before the caller reuses them", () => {
  const samples = corpus();
  const stream = concat(samples.map((s) => encodeFrame(s.type, s.body)));
  for (let seed = 1; seed <= 50; seed++) {
    const rand = mulberry32(seed);
    const maxChunk = [3, 16, 300, 9000][seed % 4];
    const decoder = new FrameDecoder({ maxFrameBytes: SMALL_MAX });
    // One scratch buffer, overwritten with garbage after each drain, as a read loop reuses it.
    const scratch = new Uint8Array(maxChunk);
    const frames: Frame[] = [];
    for (let at = 0; at < stream.byteLength;) {
      const n = Math.min(randInt(rand, 1, maxChunk), stream.byteLength - at);
      scratch.set(stream.subarray(at, at + n));
      at += n;
      decoder.push(scratch.subarray(0, n), true);
      for (let f = decoder.next(); f !== null; f = decoder.next()) {
        frames.push({ type: f.type, body: f.body.slice() });
      }
      scratch.fill(0xee);
    }
    assert.equal(decoder.buffered, 0);
    assertFramesEqual(frames, samples, `borrowed, seed ${seed}, chunks up to ${maxChunk}`);
  }
});
