/** PORTAL02 §11 request signatures: canonical bytes, signer, verifier. */
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { createPrivateKey, X509Certificate } from "node:crypto";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import {
  canonicalJson,
  type RequestSignature,
  RequestSigner,
  type SignableRequest,
  SignatureError,
  signedBytes,
} from "../src/auth/signature.ts";
import { RequestVerifier, type SignedRequest, type VerifyResult } from "../src/auth/verify.ts";
import { ReplayCache } from "../src/auth/replay.ts";
import {
  type CertificateAuthority,
  certificateInfo,
  generateCa,
  type IssuedCert,
  issueNodeCert,
} from "../src/pki/mod.ts";

const T0 = Date.parse("2030-06-01T12:00:00Z");
const SECOND = 1000;

/** A wall clock the test moves by hand. */
class WallClock {
  constructor(public ms = T0) {}
  readonly now = () => this.ms;
}

/** Distinct, predictable nonce bytes: 0x01…, 0x02…, … */
function counterRandom(): (out: Uint8Array) => Uint8Array {
  let n = 0;
  return (out) => out.fill(++n);
}

const ca = await generateCa({ commonName: "Test CA", now: new Date(T0 - 86_400_000) });
// EC P-256 keys: these tests pin the ES256 form; gen-certs' default Ed25519 has its own test.
const office = await issueNodeCert(ca, {
  name: "office",
  hosts: ["127.0.0.1"],
  days: 30,
  now: new Date(T0 - 86_400_000),
  keyType: "p256",
});
const factory = await issueNodeCert(ca, {
  name: "factory",
  hosts: ["127.0.0.1"],
  now: new Date(T0 - 86_400_000),
  keyType: "p256",
});

const REQ: SignableRequest = {
  src: "office",
  dst: "factory",
  id: 17,
  method: "CALL",
  path: "/iot/devices/plug-001",
  args: { on: true, opts: { z: 1, a: [3, { y: 2, x: 1 }] } },
};

function setup(cert: IssuedCert = office, clock = new WallClock()) {
  const signer = new RequestSigner({
    certPem: cert.certPem,
    keyPem: cert.keyPem,
    now: clock.now,
    random: counterRandom(),
  });
  const verifier = new RequestVerifier({ caPem: ca.certPem, now: clock.now });
  return { clock, signer, verifier };
}

/** The request as the destination decodes it from the wire. */
function overWire(req: SignableRequest, sig: RequestSignature): SignedRequest {
  return JSON.parse(JSON.stringify({ ...req, ttl: 8, sig }));
}

function assertFails(result: VerifyResult, code: string, reason?: RegExp): void {
  assert.equal(result.ok, false, `expected ${code}, got ok`);
  if (result.ok) return;
  assert.equal(result.code, code, result.reason);
  if (reason) assert.match(result.reason, reason);
}

Deno.test("canonicalJson() sorts keys at every depth and drops whitespace", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [3, { z: null, y: "é" }], c: true }, "": 0 }),
    '{"":0,"a":{"c":true,"d":[3,{"y":"é","z":null}]},"b":1}',
  );
  // Integer-like keys sort as strings too, not in JavaScript's own numeric-first order.
  assert.equal(canonicalJson({ b: 1, 10: 2, 9: 3, A: 4 }), '{"10":2,"9":3,"A":4,"b":1}');
  // Code-unit order: "\u{1F600}" (a surrogate pair, 0xD83D…) sorts before "\uFFFF".
  assert.equal(canonicalJson({ "\uffff": 1, "\u{1f600}": 2 }), '{"\u{1f600}":2,"\uffff":1}');
  // JSON.stringify's rules otherwise.
  assert.equal(
    canonicalJson({
      u: undefined,
      f: () => 1,
      n: NaN,
      i: -Infinity,
      d: new Date(0),
      a: [undefined],
    }),
    '{"a":[null],"d":"1970-01-01T00:00:00.000Z","i":null,"n":null}',
  );
  assert.equal(canonicalJson('a\u2028"b'), JSON.stringify('a\u2028"b'));
  assert.equal(canonicalJson([]), "[]");
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.throws(() => canonicalJson(cyclic), TypeError);
  assert.throws(() => canonicalJson({ n: 1n }), TypeError);
  assert.throws(() => canonicalJson(undefined), TypeError);
  // The same object reached twice is not a cycle.
  const shared = { k: 1 };
  assert.equal(canonicalJson([shared, shared]), '[{"k":1},{"k":1}]');
});

Deno.test("signedBytes() is the canonical array of PORTAL02 §11", () => {
  const text = new TextDecoder().decode(signedBytes({ ...REQ, ts: 1234, nonce: "AAAA" }));
  assert.equal(
    text,
    '["PORTAL02-SIG-1","office","factory",17,"CALL","/iot/devices/plug-001",' +
      '{"on":true,"opts":{"a":[3,{"x":1,"y":2}],"z":1}},1234,"AAAA"]',
  );
  const noArgs = { src: "a", dst: "b", id: 1, method: "GET", path: "/health", ts: 1, nonce: "n" };
  assert.equal(
    new TextDecoder().decode(signedBytes(noArgs)),
    '["PORTAL02-SIG-1","a","b",1,"GET","/health",{},1,"n"]',
  );
});

Deno.test("sign() makes a 64-byte ES256 signature that verifies after a trip over the wire", async () => {
  const { signer, verifier } = setup();
  const sig = signer.sign(REQ);
  assert.equal(sig.alg, "ES256");
  assert.equal(sig.ts, T0);
  assert.equal(sig.nonce, Buffer.alloc(16, 1).toString("base64url"));
  assert.match(sig.nonce, /^[A-Za-z0-9_-]{22}$/);
  assert.equal(sig.x5c, new X509Certificate(office.certPem).raw.toString("base64"));
  const value = Buffer.from(sig.value, "base64url");
  assert.equal(value.byteLength, 64);
  assert.equal(signer.sign(REQ).x5c, sig.x5c, "x5c is the same string every time");

  // WebCrypto's ECDSA reads IEEE P1363 natively: an independent check of the format.
  const spki = new X509Certificate(office.certPem).publicKey.export({
    type: "spki",
    format: "der",
  });
  const key = await crypto.subtle.importKey(
    "spki",
    new Uint8Array(spki),
    { name: "ECDSA", namedCurve: "P-256" },
    false,
    ["verify"],
  );
  const data = signedBytes({ ...REQ, ts: sig.ts, nonce: sig.nonce });
  assert.equal(
    await crypto.subtle.verify(
      { name: "ECDSA", hash: "SHA-256" },
      key,
      new Uint8Array(value),
      data,
    ),
    true,
  );

  const result = verifier.verify(overWire(REQ, sig));
  assert.deepEqual(result, {
    ok: true,
    fingerprint: certificateInfo(office.certPem).fingerprint256,
    subject: "CN=office",
    alg: "ES256",
  });
  // The receiver's decoder may order args differently: the canonical form is the same.
  const sig2 = signer.sign(REQ);
  const reordered = {
    ...REQ,
    args: { opts: { a: [3, { x: 1, y: 2 }], z: 1 }, on: true },
    sig: sig2,
  };
  assert.equal(verifier.verify(reordered).ok, true);
});

Deno.test("verify() refuses a request altered after signing", () => {
  const { signer, verifier } = setup();
  const sig = signer.sign(REQ);
  const changes: Partial<SignableRequest>[] = [
    { path: "/iot/devices/valve-001" },
    { args: { on: false, opts: REQ.args && (REQ.args as { opts: unknown }).opts } },
    { args: undefined },
    { method: "GET" },
    { dst: "hub" },
    { id: 18 },
  ];
  for (const change of changes) {
    assertFails(verifier.verify({ ...REQ, ...change, sig }), "bad_signature", /does not match/);
  }
  assertFails(verifier.verify({ ...REQ, sig: { ...sig, ts: sig.ts + 1 } }), "bad_signature");
  const otherNonce = Buffer.alloc(16, 9).toString("base64url");
  assertFails(verifier.verify({ ...REQ, sig: { ...sig, nonce: otherNonce } }), "bad_signature");
  // A signature of the right length but from another key.
  const foreign = setup(factory).signer.sign({ ...REQ, src: "factory" });
  assertFails(verifier.verify({ ...REQ, sig: { ...sig, value: foreign.value } }), "bad_signature");
  // None of the failures used up the nonce: the untouched request still passes once.
  assert.equal(verifier.verify({ ...REQ, sig }).ok, true);
});

Deno.test("verify() refuses a replayed nonce within the window, per origin", () => {
  const { clock, signer, verifier } = setup();
  const sig = signer.sign(REQ);
  assert.equal(verifier.verify(overWire(REQ, sig)).ok, true);
  clock.ms += 20 * SECOND;
  assertFails(verifier.verify(overWire(REQ, sig)), "replay", /already used within 60 s/);
  assert.equal(verifier.rememberedNonces, 1);
  // Past ±30 s a replay is stale anyway; the pair is forgotten after 60 s.
  clock.ms = T0 + 61 * SECOND;
  assertFails(verifier.verify(overWire(REQ, sig)), "stale");
  const fresh = setup(office, clock).signer.sign(REQ);
  assert.equal(verifier.verify(overWire(REQ, fresh)).ok, true);
  assert.equal(verifier.rememberedNonces, 1, "the old pair expired");
});

Deno.test("verify() refuses rather than forgets when the replay cache is full", () => {
  const clock = new WallClock();
  const { signer } = setup(office, clock);
  const verifier = new RequestVerifier({ caPem: ca.certPem, now: clock.now, maxReplayEntries: 2 });
  assert.equal(verifier.verify({ ...REQ, sig: signer.sign(REQ) }).ok, true);
  assert.equal(verifier.verify({ ...REQ, sig: signer.sign(REQ) }).ok, true);
  assertFails(verifier.verify({ ...REQ, sig: signer.sign(REQ) }), "overloaded", /more than 2/);
  clock.ms += 60 * SECOND;
  assert.equal(verifier.verify({ ...REQ, sig: signer.sign(REQ) }).ok, true, "room again");
});

Deno.test("ReplayCache expires in order and keeps entries when the clock steps back", () => {
  const cache = new ReplayCache({ windowMs: 100, maxEntries: 10 });
  cache.add("a", 1000); // remembered until 1100
  cache.add("b", 900); // the clock stepped back: until 1000, behind a
  assert.equal(cache.check("b", 950), "seen");
  assert.equal(cache.check("a", 1050), "seen");
  assert.equal(cache.check("b", 1050), "fresh", "b's own window is over");
  assert.equal(cache.size, 2, "b is only dropped once a, ahead of it, goes");
  assert.equal(cache.check("x", 1100), "fresh");
  assert.equal(cache.size, 0);
});

Deno.test("verify() refuses a ts more than 30 s from its clock", () => {
  const clock = new WallClock();
  const { signer, verifier } = setup(office, clock);
  const early = signer.sign(REQ);
  clock.ms += 30 * SECOND;
  assert.equal(verifier.verify({ ...REQ, sig: early }).ok, true, "30 s is allowed");
  const late = signer.sign(REQ);
  clock.ms -= 31 * SECOND;
  assertFails(verifier.verify({ ...REQ, sig: late }), "stale", /31 s ahead of this node's clock/);
  clock.ms += 62 * SECOND;
  assertFails(verifier.verify({ ...REQ, sig: late }), "stale", /31 s behind/);
});

Deno.test("verify() refuses a certificate from another CA or for another name", async () => {
  const otherCa = await generateCa({ now: new Date(T0 - 86_400_000) });
  const impostor = await issueNodeCert(otherCa, {
    name: "office",
    hosts: ["127.0.0.1"],
    now: new Date(T0 - 86_400_000),
  });
  const { verifier } = setup();
  assertFails(
    verifier.verify({ ...REQ, sig: setup(impostor).signer.sign(REQ) }),
    "untrusted",
    /CN=office \(issuer CN=Portal CA [0-9a-f]+, O=Portal\) is not signed by a CA in tls_ca/,
  );
  // factory's own valid certificate cannot speak for office.
  assertFails(
    verifier.verify({ ...REQ, sig: setup(factory).signer.sign(REQ) }),
    "wrong_name",
    /CN=factory does not name 'office'/,
  );
  // The CA's own certificate and key are not a node's.
  const caAsNode = { certPem: ca.certPem, keyPem: ca.keyPem } as IssuedCert;
  assertFails(verifier.verify({ ...REQ, sig: setup(caAsNode).signer.sign(REQ) }), "untrusted");
  // A bundle of several CAs trusts each.
  const both = new RequestVerifier({ caPem: otherCa.certPem + ca.certPem, now: () => T0 });
  assert.equal(both.verify({ ...REQ, sig: setup(impostor).signer.sign(REQ) }).ok, true);
});

Deno.test("verify() checks validity on every request, also for a cached certificate", () => {
  const clock = new WallClock();
  const { signer, verifier } = setup(office, clock);
  assert.equal(verifier.verify({ ...REQ, sig: signer.sign(REQ) }).ok, true);
  assert.equal(verifier.cachedCertificates, 1);
  clock.ms = office.notAfter.getTime() + 1;
  assertFails(
    verifier.verify({ ...REQ, sig: signer.sign(REQ) }),
    "expired",
    new RegExp(`CN=office expired on ${office.notAfter.toISOString()}`),
  );
  clock.ms = office.notBefore.getTime() - 1;
  assertFails(verifier.verify({ ...REQ, sig: signer.sign(REQ) }), "not_yet_valid");
  assert.equal(verifier.cachedCertificates, 1);
});

Deno.test("verify() names what is missing or malformed", () => {
  const { signer, verifier } = setup();
  const sig = signer.sign(REQ);
  assertFails(verifier.verify(REQ), "missing", /not signed/);
  assertFails(verifier.verify({ ...REQ, sig: null }), "missing");
  assertFails(verifier.verify({ ...REQ, sig: "x" }), "malformed", /must be an object/);
  const cases: [Record<string, unknown>, string, RegExp][] = [
    [{ alg: "HS256" }, "bad_alg", /'HS256' is not ES256, RS256 or EdDSA/],
    [{ alg: "EdDSA" }, "bad_alg", /EdDSA does not fit the certificate's EC prime256v1 key/],
    [{ alg: 1 }, "malformed", /sig\.alg must be a string/],
    [{ ts: "1" }, "malformed", /sig\.ts/],
    [{ ts: 1.5 }, "malformed", /sig\.ts/],
    [{ nonce: "short" }, "malformed", /sig\.nonce/],
    [{ nonce: `${sig.nonce.slice(1)}+` }, "malformed", /sig\.nonce/],
    [{ value: "a b" }, "malformed", /sig\.value/],
    [{ value: sig.value.slice(4) }, "bad_signature", /64 bytes .* got 61/],
    [{ x5c: "not base64!" }, "malformed", /sig\.x5c/],
    [{ x5c: "AAAA" }, "malformed", /not a DER certificate/],
    [{ x5c: "A".repeat(20_000) }, "malformed", /sig\.x5c/],
  ];
  for (const [change, code, reason] of cases) {
    assertFails(verifier.verify({ ...REQ, sig: { ...sig, ...change } }), code, reason);
  }
});

/** A node certificate on a key type gen-certs does not make, signed by `authority`. */
async function leafWithKey(
  authority: CertificateAuthority,
  name: string,
  alg: RsaHashedKeyGenParams | Algorithm,
): Promise<{ certPem: string; keyPem: string }> {
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "42",
    subject: `CN=${name}`,
    issuer: authority.cert.subjectName,
    notBefore: new Date(T0 - 86_400_000),
    notAfter: new Date(T0 + 86_400_000),
    signingAlgorithm: authority.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: authority.privateKey,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: cert.toString("pem"),
    keyPem: createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" })
      .export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

Deno.test("RS256 and EdDSA keys sign and verify; other keys are refused with a reason", async () => {
  const rsa = await leafWithKey(ca, "office", {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  });
  const ed = await leafWithKey(ca, "office", { name: "Ed25519" });
  const p384 = await leafWithKey(ca, "office", { name: "ECDSA", namedCurve: "P-384" } as Algorithm);
  const { verifier } = setup();
  for (const [cert, alg, bytes] of [[rsa, "RS256", 256], [ed, "EdDSA", 64]] as const) {
    const signer = new RequestSigner({ ...cert, now: () => T0 });
    const sig = signer.sign(REQ);
    assert.equal(sig.alg, alg);
    assert.equal(Buffer.from(sig.value, "base64url").byteLength, bytes);
    assertFails(verifier.verify({ ...REQ, path: "/x", sig }), "bad_signature");
    assert.equal(verifier.verify(overWire(REQ, sig)).ok, true, alg);
  }
  assert.throws(
    () => new RequestSigner(p384),
    (e) =>
      e instanceof SignatureError && e.code === "unsupported_key" && /EC secp384r1/.test(e.message),
  );
  assert.throws(
    () => new RequestSigner({ certPem: office.certPem, keyPem: factory.keyPem }),
    (e) => e instanceof SignatureError && e.code === "key_mismatch",
  );
  assert.throws(
    () => new RequestSigner({ certPem: office.keyPem, keyPem: office.keyPem }),
    (e) => e instanceof SignatureError && e.code === "bad_cert",
  );
  assert.throws(
    () => new RequestVerifier({ caPem: office.certPem }),
    (e) => e instanceof SignatureError && /no CA certificate/.test(e.message),
  );
});

Deno.test("a gen-certs node key (Ed25519 by default) signs EdDSA", async () => {
  const plain = await issueNodeCert(ca, {
    name: "office",
    hosts: ["127.0.0.1"],
    now: new Date(T0 - 86_400_000),
  });
  const { verifier } = setup();
  const signer = new RequestSigner({ certPem: plain.certPem, keyPem: plain.keyPem, now: () => T0 });
  assert.equal(signer.alg, "EdDSA");
  const sig = signer.sign(REQ);
  assert.equal(verifier.verify(overWire(REQ, sig)).ok, true);
  const fresh = signer.sign(REQ);
  assertFails(verifier.verify({ ...REQ, args: { on: false }, sig: fresh }), "bad_signature");
});

Deno.test("verify() keeps a bounded number of checked certificates", () => {
  const clock = new WallClock();
  const verifier = new RequestVerifier({
    caPem: ca.certPem,
    now: clock.now,
    maxCachedCertificates: 1,
  });
  const o = setup(office, clock).signer;
  const f = setup(factory, clock).signer;
  assert.equal(verifier.verify({ ...REQ, sig: o.sign(REQ) }).ok, true);
  assert.equal(
    verifier.verify({ ...REQ, src: "factory", sig: f.sign({ ...REQ, src: "factory" }) }).ok,
    true,
  );
  assert.equal(verifier.cachedCertificates, 1);
  assert.equal(
    verifier.verify({ ...REQ, sig: o.sign(REQ) }).ok,
    true,
    "checked again after eviction",
  );
});
