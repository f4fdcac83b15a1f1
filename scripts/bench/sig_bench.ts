/**
 * Cost of PORTAL02 §11 request signatures per call, for each algorithm:
 *
 *   deno run scripts/bench/sig_bench.ts [--n 500]
 *
 * sign: RequestSigner.sign (canonical JSON, nonce, one signature with the key read once into a
 * KeyObject). verify: RequestVerifier.verify of a certificate already checked (one signature
 * verify plus the cheap checks); first verify: a certificate seen for the first time (chain check
 * added). Prints microseconds per call. gen-certs makes Ed25519 node keys unless --key p256.
 */
import { Buffer } from "node:buffer";
import { createPrivateKey } from "node:crypto";
import { parseArgs } from "node:util";
import { RequestSigner, type SignableRequest } from "../../src/auth/signature.ts";
import { RequestVerifier } from "../../src/auth/verify.ts";
import { type CertificateAuthority, generateCa, issueNodeCert } from "../../src/pki/mod.ts";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";

const { values } = parseArgs({ args: Deno.args, options: { n: { type: "string" } } });
const N = Number(values.n ?? 500);
if (!Number.isSafeInteger(N) || N < 1) throw new Error("--n must be a positive whole number");

const REQ: SignableRequest = {
  src: "office",
  dst: "factory",
  id: 1,
  method: "CALL",
  path: "/iot/devices/plug-001",
  args: { on: true },
};

/** A leaf for `office` on a key gen-certs does not make (RSA). */
async function leaf(ca: CertificateAuthority, alg: Algorithm | RsaHashedKeyGenParams) {
  const keys = await crypto.subtle.generateKey(alg, true, ["sign", "verify"]) as CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "42",
    subject: "CN=office",
    issuer: ca.cert.subjectName,
    notBefore: new Date(Date.now() - 3_600_000),
    notAfter: new Date(Date.now() + 86_400_000),
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: keys.publicKey,
    signingKey: ca.privateKey,
    extensions: [new x509.BasicConstraintsExtension(false, undefined, true)],
  });
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  return {
    certPem: cert.toString("pem"),
    keyPem: createPrivateKey({ key: der, format: "der", type: "pkcs8" })
      .export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function microsPerCall(n: number, fn: (i: number) => void): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) fn(i);
  return ((performance.now() - start) * 1000) / n;
}

const ca = await generateCa();
const keys = {
  "EdDSA (Ed25519, gen-certs)": await issueNodeCert(ca, { name: "office", hosts: ["localhost"] }),
  "ES256 (gen-certs --key p256)": await issueNodeCert(ca, {
    name: "office",
    hosts: ["localhost"],
    keyType: "p256",
  }),
  "RS256 (RSA 2048)": await leaf(ca, {
    name: "RSASSA-PKCS1-v1_5",
    modulusLength: 2048,
    publicExponent: new Uint8Array([1, 0, 1]),
    hash: "SHA-256",
  }),
};

console.log(`request signatures, ${N} calls each (microseconds per call)`);
console.log(
  `${"algorithm".padEnd(30)}${"sign".padStart(10)}${"verify".padStart(10)}` +
    `${"first verify".padStart(14)}`,
);
for (const [label, pair] of Object.entries(keys)) {
  const signer = new RequestSigner({ certPem: pair.certPem, keyPem: pair.keyPem });
  for (let i = 0; i < 20; i++) signer.sign(REQ); // warm-up
  const sigs = new Array(N);
  const sign = microsPerCall(N, (i) => (sigs[i] = signer.sign(REQ)));
  const verifier = new RequestVerifier({ caPem: ca.certPem, maxReplayEntries: N + 1 });
  const cold = performance.now();
  if (!verifier.verify({ ...REQ, sig: signer.sign(REQ) }).ok) throw new Error(`${label} failed`);
  const first = (performance.now() - cold) * 1000;
  const verify = microsPerCall(N, (i) => {
    if (!verifier.verify({ ...REQ, sig: sigs[i] }).ok) throw new Error(`${label} failed`);
  });
  console.log(
    `${label.padEnd(30)}${sign.toFixed(0).padStart(10)}${verify.toFixed(0).padStart(10)}` +
      `${first.toFixed(0).padStart(14)}`,
  );
}
