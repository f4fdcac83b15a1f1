/**
 * PORTAL02 codec throughput: `deno bench scripts/bench/codec_bench.ts` (run.ts runs it with
 * --json and turns the mean time per frame into frames/s and MB/s). Encode is JSON
 * serialisation plus framing; decode is the streaming decoder plus JSON parsing and
 * validation, exactly what a node does per message; relay is what a hub does with a request
 * for another node, the old way and the new.
 */
import {
  decodeRequest,
  decodeResponse,
  encodeFrame,
  encodeJson,
  FrameDecoder,
  MsgType,
} from "../../src/wire/mod.ts";
import {
  BIG_RAW_BODY,
  BIG_RAW_FRAME,
  BIG_RESPONSE,
  BIG_RESPONSE_FRAME,
  type CODEC_CASES,
  SMALL_REQUEST,
  SMALL_REQUEST_FRAME,
} from "./codec_fixtures.ts";
import { scanForRelay } from "../../src/federation/admit.ts";
import { patchNumber } from "../../src/wire/scan.ts";

type CaseName = keyof typeof CODEC_CASES;

function bench(name: CaseName, group: string, fn: () => void): void {
  Deno.bench({ name, group, fn });
}

/** Keeps results alive so the optimiser cannot drop the work. */
let sink = 0;

bench("encode REQUEST (small)", "small", () => {
  sink += encodeFrame(MsgType.Request, encodeJson(SMALL_REQUEST)).byteLength;
});

const smallDecoder = new FrameDecoder();
bench("decode REQUEST (small)", "small", () => {
  smallDecoder.push(SMALL_REQUEST_FRAME);
  const f = smallDecoder.next();
  if (f === null) throw new Error("decoder returned no frame");
  sink += decodeRequest(f.body).id;
});

bench("encode RESPONSE (64 KiB JSON body)", "64k", () => {
  sink += encodeFrame(MsgType.Response, encodeJson(BIG_RESPONSE)).byteLength;
});

const bigDecoder = new FrameDecoder();
bench("decode RESPONSE (64 KiB JSON body)", "64k", () => {
  bigDecoder.push(BIG_RESPONSE_FRAME);
  const f = bigDecoder.next();
  if (f === null) throw new Error("decoder returned no frame");
  sink += decodeResponse(f.body).status;
});

bench("frame only: encode 64 KiB", "64k-frame", () => {
  sink += encodeFrame(MsgType.Response, BIG_RAW_BODY).byteLength;
});

const rawDecoder = new FrameDecoder();
bench("frame only: decode 64 KiB", "64k-frame", () => {
  rawDecoder.push(BIG_RAW_FRAME);
  const f = rawDecoder.next();
  if (f === null) throw new Error("decoder returned no frame");
  sink += f.body.byteLength;
});

// What a relay does with each REQUEST for another node: before (JSON parse, validation and a
// re-encode with ttl - 1) and now (a byte scan, the same validation, ttl rewritten in a copy).
const relayCtx = { localName: "hub", neighbour: "office", trusted: false };
const relayBody = SMALL_REQUEST_FRAME.subarray(11);
bench("relay REQUEST (small): parse + re-encode", "relay", () => {
  const req = decodeRequest(relayBody);
  sink += encodeJson({ ...req, ttl: (req.ttl ?? 8) - 1 }).byteLength;
});

bench("relay REQUEST (small): scan + patch ttl", "relay", () => {
  const m = scanForRelay({ type: MsgType.Request, body: relayBody }, relayCtx);
  if (m === null) throw new Error("scanner refused the request");
  sink += patchNumber(relayBody.slice(), m.fields.ttl!, (m.ttl ?? 8) - 1).byteLength;
});

globalThis.addEventListener("unload", () => {
  if (sink === -1) console.log("unreachable");
});
