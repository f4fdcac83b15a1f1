/** PORTAL02 §2–§4 body codecs: JSON messages, auth bodies and ping bodies. */
import assert from "node:assert/strict";
import {
  checkPingBody,
  decodeAuthResponse,
  decodeChallenge,
  decodeEvent,
  decodeJsonObject,
  decodeRequest,
  decodeResponse,
  DIGEST_BYTES,
  encodeAuthResponse,
  encodeJson,
  type EventMessage,
  MAX_PING_BYTES,
  NONCE_BYTES,
  type RequestMessage,
  type ResponseMessage,
  WireError,
  type WireErrorCode,
} from "../src/wire/mod.ts";
import { isValidNodeName } from "../src/auth/primitives.ts";
import { mulberry32 } from "./kit/random.ts";

const enc = new TextEncoder();
const raw = (text: string) => enc.encode(text);
const json = (v: unknown) => enc.encode(JSON.stringify(v));

function expectWireError(fn: () => unknown, code: WireErrorCode, note = ""): WireError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  assert.ok(
    caught instanceof WireError,
    `${note}: expected WireError ${code}, got ${
      caught === undefined ? "no error" : String(caught)
    }`,
  );
  assert.equal(caught.code, code, `${note}: ${caught.message}`);
  return caught;
}

const REQUEST: RequestMessage = {
  id: 17,
  src: "office",
  dst: "factory",
  method: "GET",
  path: "/health",
  args: {},
  ttl: 8,
  timeout_ms: 10000,
};

const RESPONSE: ResponseMessage = {
  id: 17,
  src: "factory",
  dst: "office",
  status: 200,
  body: { status: "ok" },
};

const EVENT: EventMessage = {
  src: "factory",
  dst: "office",
  topic: "/iot/devices/plug-001",
  data: { on: true },
};

Deno.test("decodeRequest() accepts the §4 example and round-trips it through encodeJson()", () => {
  assert.deepEqual(decodeRequest(encodeJson(REQUEST)), REQUEST);
  assert.deepEqual(
    decodeRequest(raw(
      `{"id": 17, "src": "office", "dst": "factory", "method": "GET",
        "path": "/health", "args": {}, "ttl": 8, "timeout_ms": 10000}`,
    )),
    REQUEST,
  );
});

Deno.test("decodeRequest() accepts optional fields left out and every method", () => {
  for (const method of ["GET", "LIST", "CALL"] as const) {
    const minimal = { id: 0, src: "a", dst: "b", method, path: "/" };
    assert.deepEqual(decodeRequest(json(minimal)), minimal);
  }
  const call = { ...REQUEST, method: "CALL", args: { on: true, nested: { n: [1, 2] } }, ttl: 0 };
  assert.deepEqual(decodeRequest(json(call)), call);
  // Unknown extra fields are carried, not refused: a newer peer may add some.
  const extra = { ...REQUEST, trace: "x" };
  assert.deepEqual(decodeRequest(json(extra)), extra);
});

Deno.test("decodeRequest() refuses each malformed field with bad_field", () => {
  const without = (key: keyof RequestMessage) => {
    const o: Record<string, unknown> = { ...REQUEST };
    delete o[key];
    return o;
  };
  const cases: [string, unknown][] = [
    ["missing id", without("id")],
    ["negative id", { ...REQUEST, id: -1 }],
    ["fractional id", { ...REQUEST, id: 1.5 }],
    ["string id", { ...REQUEST, id: "17" }],
    ["id beyond 2^53", { ...REQUEST, id: 2 ** 53 }],
    ["missing method", without("method")],
    ["lower-case method", { ...REQUEST, method: "get" }],
    ["HTTP method", { ...REQUEST, method: "POST" }],
    ["method not a string", { ...REQUEST, method: 1 }],
    ["missing path", without("path")],
    ["relative path", { ...REQUEST, path: "health" }],
    ["empty path", { ...REQUEST, path: "" }],
    ["path not a string", { ...REQUEST, path: ["/health"] }],
    ["args an array", { ...REQUEST, args: [] }],
    ["args a string", { ...REQUEST, args: "on=true" }],
    ["args null", { ...REQUEST, args: null }],
    ["negative ttl", { ...REQUEST, ttl: -1 }],
    ["fractional ttl", { ...REQUEST, ttl: 0.5 }],
    ["string ttl", { ...REQUEST, ttl: "8" }],
    ["negative timeout_ms", { ...REQUEST, timeout_ms: -10 }],
    ["string timeout_ms", { ...REQUEST, timeout_ms: "10000" }],
    ["missing src", without("src")],
    ["empty src", { ...REQUEST, src: "" }],
    ["missing dst", without("dst")],
    ["dst not a string", { ...REQUEST, dst: 7 }],
  ];
  for (const [label, body] of cases) {
    const err = expectWireError(() => decodeRequest(json(body)), "bad_field", label);
    assert.match(err.message, /^field '\w+' must be /, label);
  }
});

Deno.test("decodeResponse() accepts data, error and auth replies", () => {
  assert.deepEqual(decodeResponse(encodeJson(RESPONSE)), RESPONSE);
  const error = { id: 3, src: "hub", dst: "office", status: 502, error: "factory is unreachable." };
  assert.deepEqual(decodeResponse(json(error)), error);
  const authOk = { id: 0, status: 200, message: "OK", node: "factory" };
  assert.deepEqual(
    decodeResponse(raw(`{"id":0,"status":200,"message":"OK","node":"factory"}`)),
    authOk,
  );
  const authNo = { id: 0, status: 401, message: "unauthorized" };
  assert.deepEqual(decodeResponse(raw(`{"id":0,"status":401,"message":"unauthorized"}`)), authNo);
  for (const status of [100, 599]) {
    assert.equal(decodeResponse(json({ ...RESPONSE, status })).status, status);
  }
});

Deno.test("decodeResponse() refuses each malformed field with bad_field", () => {
  const cases: [string, unknown][] = [
    ["missing status", { id: 1 }],
    ["status 99", { ...RESPONSE, status: 99 }],
    ["status 600", { ...RESPONSE, status: 600 }],
    ["string status", { ...RESPONSE, status: "200" }],
    ["fractional status", { ...RESPONSE, status: 200.5 }],
    ["missing id", { status: 200 }],
    ["negative id", { ...RESPONSE, id: -3 }],
    ["src a number", { ...RESPONSE, src: 1 }],
    ["dst null", { ...RESPONSE, dst: null }],
    ["error an object", { ...RESPONSE, error: { text: "x" } }],
  ];
  for (const [label, body] of cases) {
    expectWireError(() => decodeResponse(json(body)), "bad_field", label);
  }
});

Deno.test("decodeEvent() accepts the §4 example and refuses missing names", () => {
  assert.deepEqual(decodeEvent(encodeJson(EVENT)), EVENT);
  const noData = { src: "a", dst: "b", topic: "/t" };
  assert.deepEqual(decodeEvent(json(noData)), noData);
  const cases: [string, unknown][] = [
    ["missing topic", { src: "a", dst: "b" }],
    ["empty topic", { ...EVENT, topic: "" }],
    ["missing src", { dst: "b", topic: "/t" }],
    ["empty dst", { ...EVENT, dst: "" }],
    ["src a number", { ...EVENT, src: 5 }],
  ];
  for (const [label, body] of cases) {
    expectWireError(() => decodeEvent(json(body)), "bad_field", label);
  }
});

Deno.test("JSON bodies that are not objects are refused with not_an_object", () => {
  const decoders = { decodeJsonObject, decodeRequest, decodeResponse, decodeEvent };
  for (const text of ["[]", "[{}]", '"text"', "42", "-0", "null", "true", "false", " \n[1,2] "]) {
    for (const [name, decode] of Object.entries(decoders)) {
      expectWireError(() => decode(raw(text)), "not_an_object", `${name}(${text})`);
    }
  }
  assert.deepEqual(decodeJsonObject(raw(' {"a":[1]}\n')), { a: [1] });
});

Deno.test("bodies that are not JSON, or not UTF-8, are refused with bad_json", () => {
  const notJson = ["", " ", "{", "{}x", "{} {}", "{'a':1}", '{"a":1,}', "NaN", "\u0000{}"];
  for (const text of notJson) {
    expectWireError(() => decodeJsonObject(raw(text)), "bad_json", JSON.stringify(text));
  }
  const badUtf8: [string, number[]][] = [
    ["lone continuation byte", [0x80]],
    ["overlong '/'", [0xc0, 0xaf]],
    ["truncated 3-byte sequence", [0xe2, 0x82]],
    ["UTF-16 surrogate", [0xed, 0xa0, 0x80]],
    ["0xFF", [0xff]],
    ["beyond U+10FFFF", [0xf4, 0x90, 0x80, 0x80]],
  ];
  for (const [label, bytes] of badUtf8) {
    // Inside a JSON string, where a lenient decoder would substitute U+FFFD and carry on.
    const body = new Uint8Array([...raw('{"topic":"'), ...bytes, ...raw('","src":"a","dst":"b"}')]);
    for (const decode of [decodeJsonObject, decodeRequest, decodeResponse, decodeEvent]) {
      expectWireError(() => decode(body), "bad_json", label);
    }
  }
});

Deno.test("decodeChallenge() takes exactly 32 bytes and returns its own copy", () => {
  const nonce = new Uint8Array(NONCE_BYTES).map((_, i) => i * 7);
  const got = decodeChallenge(nonce);
  assert.deepEqual(got, nonce);
  nonce[0] ^= 0xff;
  assert.notEqual(got[0], nonce[0], "result must not alias the frame buffer");
  for (const n of [0, 1, 31, 33, 64]) {
    expectWireError(() => decodeChallenge(new Uint8Array(n)), "bad_auth_body", `${n} bytes`);
  }
});

Deno.test("encodeAuthResponse()/decodeAuthResponse() split at byte 32", () => {
  const digest = new Uint8Array(DIGEST_BYTES).map((_, i) => 255 - i);
  for (const name of ["office", "a", "x".repeat(64), "Factory_2.site-B"]) {
    const body = encodeAuthResponse(digest, name);
    assert.equal(body.byteLength, DIGEST_BYTES + enc.encode(name).byteLength);
    assert.deepEqual(body.subarray(0, DIGEST_BYTES), digest);
    const got = decodeAuthResponse(body);
    assert.deepEqual(got, { digest, name });
    body[0] ^= 1;
    assert.equal(got.digest[0], digest[0], "digest must not alias the frame buffer");
  }
  // The split is purely positional: a digest that happens to contain name-like bytes stays whole.
  const tricky = new Uint8Array(DIGEST_BYTES).fill(0x61);
  assert.deepEqual(decodeAuthResponse(encodeAuthResponse(tricky, "b")), {
    digest: tricky,
    name: "b",
  });
});

Deno.test("decodeAuthResponse() refuses short bodies and names that are not UTF-8", () => {
  for (const n of [0, 1, 31, 32]) {
    expectWireError(() => decodeAuthResponse(new Uint8Array(n)), "bad_auth_body", `${n} bytes`);
  }
  const notUtf8 = new Uint8Array([...new Uint8Array(DIGEST_BYTES), 0x6f, 0xff, 0x66]);
  expectWireError(() => decodeAuthResponse(notUtf8), "bad_auth_body", "invalid UTF-8 name");
  // Names that are UTF-8 but break the §3 rule are returned as sent, for auth to refuse.
  const unicode = decodeAuthResponse(encodeAuthResponse(new Uint8Array(DIGEST_BYTES), "fábrica"));
  assert.equal(unicode.name, "fábrica");
  assert.equal(isValidNodeName(unicode.name), false);
});

Deno.test("decodeAuthResponse() keeps a leading byte-order mark so the name rule refuses it", () => {
  // §3: the name is 1 to 64 characters of [A-Za-z0-9._-] in UTF-8. EF BB BF (U+FEFF) is not
  // one of them, so `EF BB BF "office"` must not come out as the valid name "office".
  // TextDecoder strips a leading BOM unless constructed with { ignoreBOM: true }.
  const body = new Uint8Array([
    ...new Uint8Array(DIGEST_BYTES),
    0xef,
    0xbb,
    0xbf,
    ...raw("office"),
  ]);
  let name: string | undefined;
  try {
    name = decodeAuthResponse(body).name;
  } catch (e) {
    assert.ok(e instanceof WireError && e.code === "bad_auth_body", String(e));
    return;
  }
  assert.equal(isValidNodeName(name), false, `decoded name ${JSON.stringify(name)} passes §3`);
});

Deno.test("checkPingBody() accepts 0 to 64 bytes and refuses 65", () => {
  for (const n of [0, 1, MAX_PING_BYTES]) {
    const body = new Uint8Array(n).fill(0x5a);
    const got = checkPingBody(body);
    assert.deepEqual(got, body);
    if (n > 0) {
      body[0] = 0;
      assert.equal(got[0], 0x5a, "result must not alias the frame buffer");
    }
  }
  for (const n of [MAX_PING_BYTES + 1, 1000]) {
    expectWireError(() => checkPingBody(new Uint8Array(n)), "bad_ping_body", `${n} bytes`);
  }
});

const SCALARS: readonly unknown[] = [
  0,
  -1,
  1.5,
  17,
  2 ** 53,
  "",
  "/health",
  "health",
  "GET",
  "LIST",
  "CALL",
  "office",
  null,
  true,
  [],
  {},
  "\u{1F511}",
];

/** A random JSON value: often a valid message with a field or two broken or removed. */
function randomValue(rand: () => number, depth = 0): unknown {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const r = rand();
  if (depth > 2 || r < 0.2) return pick(SCALARS);
  if (r < 0.3) return [randomValue(rand, depth + 1), randomValue(rand, depth + 1)];
  const o: Record<string, unknown> = { ...pick<object>([REQUEST, RESPONSE, EVENT]) };
  const keys = ["id", "src", "dst", "method", "path", "args", "ttl", "timeout_ms", "status"];
  for (let n = Math.floor(rand() * 3); n > 0; n--) {
    const k = pick([...keys, "topic", "error", "data"]);
    if (rand() < 0.3) delete o[k];
    else o[k] = randomValue(rand, depth + 1);
  }
  return o;
}

Deno.test("body decoders fed 10,000 seeded random bodies throw only WireErrors", () => {
  const rand = mulberry32(99);
  const decoders = [
    decodeJsonObject,
    decodeRequest,
    decodeResponse,
    decodeEvent,
    decodeChallenge,
    decodeAuthResponse,
    checkPingBody,
  ];
  const accepted = new Map<string, number>();
  for (let i = 0; i < 10_000; i++) {
    let body: Uint8Array;
    if (i % 2 === 0) {
      body = json(randomValue(rand));
    } else {
      body = new Uint8Array(Math.floor(rand() * 80));
      for (let j = 0; j < body.length; j++) body[j] = Math.floor(rand() * 256);
    }
    for (const decode of decoders) {
      try {
        decode(body);
        accepted.set(decode.name, (accepted.get(decode.name) ?? 0) + 1);
      } catch (e) {
        if (!(e instanceof WireError)) {
          throw new Error(`${decode.name} threw ${String(e)} on body #${i}: ${Array.from(body)}`);
        }
      }
    }
  }
  // The generator must produce some valid messages, or only the refusal paths were tested.
  const names = [
    "decodeRequest",
    "decodeResponse",
    "decodeEvent",
    "decodeAuthResponse",
    "checkPingBody",
  ];
  for (const name of names) {
    assert.ok((accepted.get(name) ?? 0) > 10, `${name} accepted only ${accepted.get(name) ?? 0}`);
  }
});
