/** PORTAL02 §3 primitives: the challenge digest, nonces and the node-name rule. */
import assert from "node:assert/strict";
import {
  authDigest,
  cryptoRandom,
  isValidNodeName,
  newNonce,
  type RandomSource,
  verifyDigest,
} from "../src/auth/primitives.ts";

interface Vector {
  readonly description: string;
  readonly nonce_hex: string;
  readonly key: string;
  readonly key_utf8_hex: string;
  readonly digest_hex: string;
}

// Computed by `openssl dgst -sha256` in tests/testdata/make_auth_vectors.sh, not by this code.
const VECTORS: readonly Vector[] = JSON.parse(
  await Deno.readTextFile(new URL("./testdata/auth_vectors.json", import.meta.url)),
).vectors;

function fromHex(hex: string): Uint8Array {
  assert.match(hex, /^(?:[0-9a-f]{2})*$/);
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
}

function isNonAscii(s: string): boolean {
  return [...s].some((c) => c.codePointAt(0)! > 0x7f);
}

function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("auth_vectors.json covers the cases the digest must get right", () => {
  assert.ok(VECTORS.length >= 6);
  assert.ok(VECTORS.some((v) => isNonAscii(v.key)), "a non-ASCII key");
  assert.ok(
    VECTORS.some((v) => v.key.includes("#") && v.key.includes(" ")),
    "a key with # and space",
  );
  assert.ok(VECTORS.some((v) => v.nonce_hex.startsWith("00")), "a nonce with zero bytes");
  for (const v of VECTORS) {
    assert.ok(v.key.length > 0, `${v.description}: keys are never empty`);
    assert.equal(fromHex(v.nonce_hex).byteLength, 32, v.description);
    assert.equal(fromHex(v.digest_hex).byteLength, 32, v.description);
    // Guards against the shell or the JSON mangling the key on the way.
    assert.equal(toHex(new TextEncoder().encode(v.key)), v.key_utf8_hex, v.description);
  }
});

Deno.test("authDigest() matches SHA-256(nonce || utf8(key)) computed by openssl", () => {
  for (const v of VECTORS) {
    assert.equal(toHex(authDigest(fromHex(v.nonce_hex), v.key)), v.digest_hex, v.description);
  }
});

Deno.test("authDigest() hashes the key's UTF-8 bytes as given, without normalising", () => {
  const v = VECTORS.find((x) => isNonAscii(x.key));
  assert.ok(v);
  const nonce = fromHex(v.nonce_hex);
  // "ü" precomposed (NFC) and decomposed (NFD) are different keys on the wire.
  assert.notEqual(v.key.normalize("NFD"), v.key);
  assert.notEqual(toHex(authDigest(nonce, v.key.normalize("NFD"))), v.digest_hex);
});

Deno.test("verifyDigest() is true for the expected digest", () => {
  for (const v of VECTORS) {
    assert.equal(verifyDigest(fromHex(v.nonce_hex), v.key, fromHex(v.digest_hex)), true);
  }
});

Deno.test("verifyDigest() is false when any single bit of the digest is flipped", () => {
  for (const v of VECTORS) {
    const nonce = fromHex(v.nonce_hex);
    const digest = fromHex(v.digest_hex);
    for (let bit = 0; bit < 256; bit++) {
      const bad = digest.slice();
      bad[bit >> 3] ^= 1 << (bit & 7);
      assert.equal(verifyDigest(nonce, v.key, bad), false, `${v.description}: bit ${bit}`);
    }
  }
});

Deno.test("verifyDigest() is false, without throwing, for a digest of the wrong length", () => {
  const v = VECTORS[0];
  const nonce = fromHex(v.nonce_hex);
  const digest = fromHex(v.digest_hex);
  const wrong = [
    new Uint8Array(0),
    digest.subarray(0, 1),
    digest.subarray(0, 31),
    new Uint8Array([...digest, 0]),
    new Uint8Array([...digest, ...digest]),
  ];
  for (const received of wrong) {
    assert.equal(verifyDigest(nonce, v.key, received), false, `${received.byteLength} bytes`);
  }
});

Deno.test("verifyDigest() is false for the wrong key or the wrong nonce", () => {
  const v = VECTORS[1];
  const nonce = fromHex(v.nonce_hex);
  const digest = fromHex(v.digest_hex);
  for (const key of [v.key + " ", " " + v.key, v.key.toUpperCase(), v.key.slice(1)]) {
    assert.equal(verifyDigest(nonce, key, digest), false, JSON.stringify(key));
  }
  const otherNonce = nonce.slice();
  otherNonce[31] ^= 0x80;
  assert.equal(verifyDigest(otherNonce, v.key, digest), false);
});

Deno.test("newNonce() returns 32 bytes from the injected random source", () => {
  const calls: number[] = [];
  let counter = 0;
  const fake: RandomSource = (out) => {
    calls.push(out.byteLength);
    for (let i = 0; i < out.length; i++) out[i] = (counter++ * 37 + 11) & 0xff;
    return out;
  };
  const a = newNonce(fake);
  const b = newNonce(fake);
  assert.deepEqual(calls, [32, 32]);
  assert.equal(a.byteLength, 32);
  assert.deepEqual(Array.from(a), Array.from({ length: 32 }, (_, i) => (i * 37 + 11) & 0xff));
  assert.deepEqual(
    Array.from(b),
    Array.from({ length: 32 }, (_, i) => ((i + 32) * 37 + 11) & 0xff),
  );
});

Deno.test("newNonce() by default draws 32 fresh cryptographic bytes each time", () => {
  const seen = new Set<string>();
  for (let i = 0; i < 64; i++) {
    const n = newNonce();
    assert.equal(n.byteLength, 32);
    seen.add(toHex(n));
  }
  assert.equal(seen.size, 64, "a nonce repeated");
  const filled = cryptoRandom(new Uint8Array(32));
  assert.equal(filled.byteLength, 32);
});

Deno.test("isValidNodeName() accepts 1 to 64 characters of [A-Za-z0-9._-]", () => {
  const valid = [
    "a",
    "Z",
    "0",
    "-",
    "_",
    ".",
    "office",
    "factory-2",
    "Hub_01.site-B",
    "x".repeat(64),
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXY0123456789._-",
  ];
  for (const name of valid) assert.equal(isValidNodeName(name), true, JSON.stringify(name));
  assert.equal(valid.at(-1)?.length, 64, "the all-classes name is exactly 64 long");
});

Deno.test("isValidNodeName() refuses empty, too long, and any other character", () => {
  const invalid = [
    "",
    "x".repeat(65),
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-",
    "x".repeat(1000),
    "a b",
    " office",
    "office ",
    "a/b",
    "/",
    "a\\b",
    "office\n",
    "\noffice",
    "a\tb",
    "a\u0000",
    "fábrica",
    "ofﬁce", // U+FB01 ligature
    "\u0430", // Cyrillic a
    "\uff41", // fullwidth a
    "\uff11", // fullwidth 1
    "\u{1F511}",
    "a:b",
    "a@b",
    "a#b",
    "a+b",
    "a*b",
    "\ufeffoffice",
    "a\u200bb", // zero-width space
  ];
  for (const name of invalid) assert.equal(isValidNodeName(name), false, JSON.stringify(name));
  // One bad character anywhere in an otherwise valid 64-character name is enough.
  for (let i = 0; i < 64; i++) {
    const name = "a".repeat(i) + "/" + "a".repeat(63 - i);
    assert.equal(name.length, 64);
    assert.equal(isValidNodeName(name), false, `slash at ${i}`);
  }
});
