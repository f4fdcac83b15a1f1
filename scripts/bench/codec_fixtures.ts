/** Messages and frames measured by codec_bench.ts; run.ts reads their sizes for MB/s. */
import {
  encodeFrame,
  encodeJson,
  MsgType,
  type RequestMessage,
  type ResponseMessage,
} from "../../src/wire/mod.ts";

/** A typical small REQUEST, as office sends it for a device read. */
export const SMALL_REQUEST: RequestMessage = {
  id: 123456,
  src: "office",
  dst: "factory",
  method: "GET",
  path: "/iot/devices/plug-001",
  args: {},
  ttl: 8,
  timeout_ms: 10_000,
};

/** Size of the large body case: 64 KiB of frame body. */
export const BIG_BODY_BYTES = 64 * 1024;

/** A RESPONSE whose JSON body is exactly {@link BIG_BODY_BYTES} bytes. */
export const BIG_RESPONSE: ResponseMessage = (() => {
  const base: ResponseMessage = {
    id: 123456,
    src: "factory",
    dst: "office",
    status: 200,
    body: { data: "" },
  };
  const overhead = encodeJson(base).byteLength;
  return { ...base, body: { data: "x".repeat(BIG_BODY_BYTES - overhead) } };
})();

/** The encoded frames, header included. */
export const SMALL_REQUEST_FRAME = encodeFrame(MsgType.Request, encodeJson(SMALL_REQUEST));
export const BIG_RESPONSE_FRAME = encodeFrame(MsgType.Response, encodeJson(BIG_RESPONSE));
/** A 64 KiB opaque body, for the framing cost alone (no JSON). */
export const BIG_RAW_BODY = new Uint8Array(BIG_BODY_BYTES).fill(0x78);
export const BIG_RAW_FRAME = encodeFrame(MsgType.Response, BIG_RAW_BODY);

/** Bench names, shared with run.ts, each with the frame it handles (for MB/s). */
export const CODEC_CASES = {
  "encode REQUEST (small)": SMALL_REQUEST_FRAME.byteLength,
  "decode REQUEST (small)": SMALL_REQUEST_FRAME.byteLength,
  "encode RESPONSE (64 KiB JSON body)": BIG_RESPONSE_FRAME.byteLength,
  "decode RESPONSE (64 KiB JSON body)": BIG_RESPONSE_FRAME.byteLength,
  "frame only: encode 64 KiB": BIG_RAW_FRAME.byteLength,
  "frame only: decode 64 KiB": BIG_RAW_FRAME.byteLength,
  "relay REQUEST (small): parse + re-encode": SMALL_REQUEST_FRAME.byteLength,
  "relay REQUEST (small): scan + patch ttl": SMALL_REQUEST_FRAME.byteLength,
} as const;
