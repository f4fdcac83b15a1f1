/** The relay's scanner (src/wire/scan.ts) and its fast admission (federation/admit.ts). */
import assert from "node:assert/strict";
import { scanForRelay } from "../src/federation/admit.ts";
import { MsgType } from "../src/wire/mod.ts";
import {
  appendMember,
  MAX_SCAN_DEPTH,
  patchNumber,
  scanFields,
  type ScannedFields,
  scannedNumber,
  scannedString,
} from "../src/wire/scan.ts";
import { mulberry32, randInt } from "./kit/mod.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (b: Uint8Array) => new TextDecoder().decode(b);

/** Every field the scanner reports, decoded, next to what JSON.parse says of the same body. */
function agree(text: string): void {
  const body = enc(text);
  const f = scanFields(body);
  assert.notEqual(f, null, `scanner refused ${text}`);
  const o = JSON.parse(text) as Record<string, unknown>;
  for (const key of Object.keys(f as object) as (keyof ScannedFields)[]) {
    const v = (f as ScannedFields)[key];
    if (v === undefined) continue;
    const want = o[key];
    const got = v.kind === "string"
      ? scannedString(body, v)
      : v.kind === "number"
      ? scannedNumber(body, v)
      : JSON.parse(dec(body.subarray(v.start, v.end)));
    assert.deepEqual(got, want, `${key} of ${text}`);
  }
  for (const key of ["id", "src", "dst", "ttl", "status", "topic", "args"]) {
    const got = (f as Record<string, unknown>)[key] !== undefined;
    assert.equal(got, key in o, `${key} present in ${text}`);
  }
}

Deno.test("scanFields() reads the routing fields of a request as JSON.parse does", () => {
  agree(
    '{"id":17,"src":"office","dst":"factory","method":"GET","path":"/health","args":{},"ttl":8,"timeout_ms":10000}',
  );
  agree(' { "dst" : "a" , "ttl" : 0 , "nested" : {"dst":"no","x":[1,{"ttl":3}]} } ');
  agree('{"id":1,"status":200,"src":"f","dst":"o","body":{"list":[true,false,null,-1.5e3]}}');
  agree("{}");
});

Deno.test("scanFields() decodes escaped strings and keys, and the last duplicate key wins", () => {
  agree('{"dst":"fac\\u0074ory","src":"a\\"b\\\\c\\/d\\n"}');
  agree('{"\\u0064st":"hidden","dst":"first","dst":"last"}');
  agree('{"dst":"first","\\u0064st":"escaped key last"}');
  agree('{"src":"x","src":"y","ttl":1,"ttl":2}');
});

Deno.test("scanFields() gives up on what is not one well-formed ASCII JSON object", () => {
  const bad = [
    "",
    "[]",
    '"dst"',
    "{",
    '{"dst":"a"',
    '{"dst":"a",}',
    '{"dst" "a"}',
    '{"dst":"a"} x',
    '{"dst":"a"}{}',
    '{"dst":01}',
    '{"dst":1.}',
    '{"dst":.5}',
    '{"dst":-}',
    '{"dst":1e}',
    '{"dst":tru}',
    '{"dst":"\\x"}',
    '{"dst":"\\u12G4"}',
    '{"dst":"a\tb"}',
    '{"dst":"caf\u00e9"}',
    '{"a":[1,]}',
    '{"a":[1 2]}',
    '{dst:"a"}',
    "{'dst':'a'}",
    '\ufeff{"dst":"a"}',
  ];
  for (const text of bad) assert.equal(scanFields(enc(text)), null, text);
  // Deeper than the scanner follows: the full decode decides (JSON.parse accepts it).
  const deep = '{"a":' + "[".repeat(MAX_SCAN_DEPTH) + "]".repeat(MAX_SCAN_DEPTH) + "}";
  assert.equal(scanFields(enc(deep)), null);
  JSON.parse(deep);
  const ok = '{"a":' + "[".repeat(MAX_SCAN_DEPTH - 2) + "]".repeat(MAX_SCAN_DEPTH - 2) + "}";
  assert.notEqual(scanFields(enc(ok)), null);
  // Non-UTF-8 and truncated bytes.
  assert.equal(scanFields(new Uint8Array([0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d])), null);
  assert.equal(scanFields(enc('{"dst":"abc')), null);
});

Deno.test("patchNumber() rewrites ttl in place at its bounds, and in a new buffer when it must", () => {
  const cases: [string, number, string][] = [
    ['{"ttl":8,"dst":"a"}', 7, '{"ttl":7,"dst":"a"}'],
    ['{"ttl":10,"dst":"a"}', 9, '{"ttl":9 ,"dst":"a"}'],
    ['{"ttl":1}', 0, '{"ttl":0}'],
    ['{"ttl":8.0}', 7, '{"ttl":7  }'],
    ['{"ttl":1e9}', 999_999_999, '{"ttl":999999999}'],
    [
      `{"ttl":${Number.MAX_SAFE_INTEGER}}`,
      Number.MAX_SAFE_INTEGER - 1,
      `{"ttl":${Number.MAX_SAFE_INTEGER - 1}}`,
    ],
  ];
  for (const [text, value, want] of cases) {
    const body = enc(text);
    const f = scanFields(body)!;
    const out = patchNumber(body, f.ttl!, value);
    assert.equal(dec(out), want);
    assert.equal(out === body, want.length === text.length, "in place exactly when it fits");
    assert.equal(JSON.parse(dec(out)).ttl, value);
  }
});

Deno.test("appendMember() adds a member to an object with and without members", () => {
  assert.equal(dec(appendMember(enc('{"dst":"a"} '), "ttl", "7")), '{"dst":"a","ttl":7} ');
  assert.equal(dec(appendMember(enc("{ }"), "ttl", "7")), '{ "ttl":7}');
});

Deno.test("scanFields() agrees with JSON.parse on seeded random bodies", () => {
  const rand = mulberry32(20261201);
  const pick = <T>(xs: readonly T[]): T => xs[randInt(rand, 0, xs.length - 1)];
  const keys = ["id", "src", "dst", "ttl", "status", "topic", "args", "x", "\\u0064st", "ds"];
  const str = () =>
    '"' + Array.from(
      { length: randInt(rand, 0, 6) },
      () => pick(["a", "b", "\\n", '\\"', "\\u0041", "\\\\", "/", " ", "z"]),
    ).join("") + '"';
  const num = () => pick(["0", "7", "-3", "12.5", "1e2", "-0", "4E-1", "255"]);
  const value = (depth: number): string => {
    const k = randInt(rand, 0, depth > 3 ? 4 : 6);
    if (k === 0) return str();
    if (k === 1) return num();
    if (k === 2) return pick(["true", "false", "null"]);
    if (k <= 4) return str();
    if (k === 5) {
      return "[" + Array.from({ length: randInt(rand, 0, 3) }, () => value(depth + 1)).join(",") +
        "]";
    }
    return object(depth + 1);
  };
  const ws = () => pick(["", "", " ", "\n", "\t "]);
  const object = (depth: number): string =>
    "{" + ws() + Array.from(
      { length: randInt(rand, 0, 5) },
      () => `${'"' + pick(keys) + '"'}${ws()}:${ws()}${value(depth)}${ws()}`,
    ).join(",") + "}";
  let accepted = 0;
  let rejected = 0;
  for (let i = 0; i < 3000; i++) {
    let text = object(0);
    // Every third body is damaged at one place: the scanner must not read more than JSON.parse.
    if (i % 3 === 2 && text.length > 2) {
      const at = randInt(rand, 0, text.length - 1);
      text = text.slice(0, at) + pick(["", ",", "}", '"', "]", "x", ":", "\\"]) +
        text.slice(at + 1);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    const isObject = typeof parsed === "object" && parsed !== null && !Array.isArray(parsed);
    const f = scanFields(enc(text));
    if (!isObject) {
      assert.equal(f, null, `scanner read what JSON.parse refuses: ${text}`);
      rejected++;
      continue;
    }
    assert.notEqual(f, null, `scanner refused a valid object: ${text}`);
    agree(text);
    accepted++;
  }
  assert.ok(accepted > 1000 && rejected > 300, `${accepted} accepted, ${rejected} rejected`);
});

Deno.test("scanForRelay() takes only well-formed messages for other nodes from senders that may send them", () => {
  const ctx = { localName: "hub", neighbour: "office", trusted: false };
  const req = (o: Record<string, unknown>) => ({
    type: MsgType.Request,
    body: enc(JSON.stringify({
      id: 5,
      src: "office",
      dst: "factory",
      method: "GET",
      path: "/health",
      ttl: 8,
      ...o,
    })),
  });
  const m = scanForRelay(req({}), ctx)!;
  assert.deepEqual([m.src, m.dst, m.id, m.ttl, m.timeoutMs], [
    "office",
    "factory",
    5,
    8,
    undefined,
  ]);
  assert.equal(scanForRelay(req({ timeout_ms: 250 }), ctx)!.timeoutMs, 250);
  // Left to the full decode, which words the verdict: for here, forged, from us, malformed.
  assert.equal(scanForRelay(req({ dst: "hub" }), ctx), null);
  assert.equal(scanForRelay(req({ src: "mallory" }), ctx), null);
  assert.notEqual(scanForRelay(req({ src: "mallory" }), { ...ctx, trusted: true }), null);
  assert.equal(scanForRelay(req({ src: "hub" }), { ...ctx, trusted: true }), null);
  for (
    const bad of [
      { method: "PUT" },
      { method: "get" },
      { path: "health" },
      { args: [] },
      { ttl: -1 },
      { ttl: 1.5 },
      { id: "5" },
      { timeout_ms: null },
      { dst: "" },
    ]
  ) {
    assert.equal(scanForRelay(req(bad), ctx), null, JSON.stringify(bad));
  }
  const res = (o: Record<string, unknown>) => ({
    type: MsgType.Response,
    body: enc(JSON.stringify({ id: 5, src: "office", dst: "factory", status: 200, ...o })),
  });
  assert.equal(scanForRelay(res({}), ctx)!.status, 200);
  assert.equal(scanForRelay(res({ status: 99 }), ctx), null);
  assert.equal(scanForRelay(res({ status: 600 }), ctx), null);
  assert.equal(scanForRelay(res({ error: 7 }), ctx), null);
  const ev = (o: Record<string, unknown>) => ({
    type: MsgType.Event,
    body: enc(JSON.stringify({ src: "office", dst: "factory", topic: "/x", ...o })),
  });
  assert.equal(scanForRelay(ev({}), ctx)!.id, -1);
  assert.equal(scanForRelay(ev({ topic: "" }), ctx), null);
});
