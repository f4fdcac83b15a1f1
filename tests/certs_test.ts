/** `portal gen-certs` and src/pki: files, modes, X.509 content, and rustls. */
import assert from "node:assert/strict";
import { createPrivateKey, X509Certificate } from "node:crypto";
import { dirname, relative, resolve } from "node:path";
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { genCertsCommand } from "../src/cli/gen_certs.ts";
import type { CliIo } from "../src/cli/io.ts";
import {
  CertError,
  certificateInfo,
  generateCa,
  hostSan,
  issueNodeCert,
  loadCa,
  parseHosts,
  writeCerts,
} from "../src/pki/mod.ts";

interface Captured extends Pick<CliIo, "stdout" | "stderr"> {
  readonly outLines: string[];
  readonly errLines: string[];
}

/** The command's output, one entry per line written. */
function capture(): Captured {
  const outLines: string[] = [];
  const errLines: string[] = [];
  const lines = (into: string[]) => ({
    write: (text: string) => into.push(...text.replace(/\n$/, "").split("\n")),
  });
  return { outLines, errLines, stdout: lines(outLines), stderr: lines(errLines) };
}

async function run(argv: string[]): Promise<{ code: number; io: Captured }> {
  const io = capture();
  const code = await genCertsCommand(argv, io);
  return { code, io };
}

async function withTempDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "portal-certs-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

async function mode(path: string): Promise<number> {
  const info = await Deno.stat(path);
  assert.notEqual(info.mode, null);
  return info.mode! & 0o777;
}

const read = (path: string) => Deno.readTextFile(path);

/** Makes DIR/NAME.{pem,key} (and the CA when missing) through the real command. */
async function genNode(dir: string, node: string, hosts: string, extra: string[] = []) {
  const { code, io } = await run(["--dir", dir, "--node", node, "--host", hosts, ...extra]);
  assert.equal(code, 0, `gen-certs failed: ${io.errLines.join("\n")}`);
  return io;
}

type Dial = (port: number) => Promise<Deno.TlsConn>;

/**
 * Serves `cert`/`key` on 127.0.0.1:0, dials once with `dial`, forces the handshake on both
 * sides and, when it succeeds, sends a byte each way. Returns each side's failure, or null.
 */
async function tlsExchange(
  cert: string,
  key: string,
  dial: Dial,
): Promise<{ client: unknown; server: unknown }> {
  const listener = Deno.listenTls({ hostname: "127.0.0.1", port: 0, cert, key });
  const port = listener.addr.port;
  const server = (async () => {
    const conn = await listener.accept();
    try {
      await conn.handshake();
      const buf = new Uint8Array(1);
      assert.equal(await conn.read(buf), 1);
      assert.equal(await conn.write(buf), 1);
    } finally {
      conn.close();
    }
  })();
  const client = (async () => {
    const conn = await dial(port);
    try {
      await conn.handshake();
      assert.equal(await conn.write(new Uint8Array([42])), 1);
      const buf = new Uint8Array(1);
      assert.equal(await conn.read(buf), 1);
      assert.equal(buf[0], 42);
    } finally {
      conn.close();
    }
  })();
  const [s, c] = await Promise.allSettled([server, client]);
  listener.close();
  return {
    server: s.status === "rejected" ? s.reason : null,
    client: c.status === "rejected" ? c.reason : null,
  };
}

const dialIp = (ca: string): Dial => (port) =>
  Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca] });

/** TCP to 127.0.0.1, TLS verifying `serverName` (how tls_server_name works). */
const dialAs = (ca: string, serverName: string): Dial => async (port) => {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    return await Deno.startTls(tcp, { hostname: serverName, caCerts: [ca] });
  } catch (e) {
    tcp.close();
    throw e;
  }
};

Deno.test("gen-certs creates a CA and a node certificate rustls accepts by IP and by name", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/pki`;
    const io = await genNode(dir, "office", "localhost,127.0.0.1");
    const caPem = await read(`${dir}/ca.pem`);
    const cert = await read(`${dir}/office.pem`);
    const key = await read(`${dir}/office.key`);
    assert.ok(io.outLines.some((l) => l.includes(`${dir}/ca.pem`)), io.outLines.join("\n"));
    assert.ok(io.outLines.some((l) => l.includes(`${dir}/office.pem`)));
    assert.ok(io.outLines.some((l) => l.includes(`${dir}/office.key`)));

    assert.deepEqual(await tlsExchange(cert, key, dialIp(caPem)), { client: null, server: null });
    assert.deepEqual(await tlsExchange(cert, key, dialAs(caPem, "localhost")), {
      client: null,
      server: null,
    });
  });
});

Deno.test("a dial that trusts another CA, or checks a name not in the SAN, is refused", async () => {
  await withTempDir(async (base) => {
    await genNode(`${base}/a`, "factory", "127.0.0.1,localhost");
    await genNode(`${base}/b`, "stranger", "127.0.0.1,localhost");
    const cert = await read(`${base}/a/factory.pem`);
    const key = await read(`${base}/a/factory.key`);
    const otherCa = await read(`${base}/b/ca.pem`);
    const ownCa = await read(`${base}/a/ca.pem`);

    for (const dial of [dialIp(otherCa), dialAs(otherCa, "localhost")]) {
      const { client, server } = await tlsExchange(cert, key, dial);
      assert.ok(client instanceof Error, "client accepted a certificate from an untrusted CA");
      assert.match(client.message, /invalid peer certificate: UnknownIssuer/);
      assert.ok(server instanceof Error, "server handshake should fail too");
    }
    const wrongName = await tlsExchange(cert, key, dialAs(ownCa, "hub.example"));
    assert.ok(wrongName.client instanceof Error);
    assert.match(wrongName.client.message, /not valid for name "hub.example"/);
  });
});

Deno.test("gen-certs writes keys 0600, certificates 0644 and a new directory 0700", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/nested/pki`;
    const oldUmask = Deno.umask(0o000); // the modes must not depend on the caller's umask
    try {
      await genNode(dir, "office", "127.0.0.1");
    } finally {
      Deno.umask(oldUmask);
    }
    assert.equal(await mode(dir), 0o700);
    assert.equal(await mode(`${dir}/ca.key`), 0o600);
    assert.equal(await mode(`${dir}/office.key`), 0o600);
    assert.equal(await mode(`${dir}/ca.pem`), 0o644);
    assert.equal(await mode(`${dir}/office.pem`), 0o644);
    for (const f of ["ca.key", "office.key"]) {
      const text = await read(`${dir}/${f}`);
      assert.match(
        text,
        /^-----BEGIN PRIVATE KEY-----\n[A-Za-z0-9+/=\n]+-----END PRIVATE KEY-----\n$/,
      );
    }
    const entries = [];
    for await (const e of Deno.readDir(dir)) entries.push(e.name);
    assert.deepEqual(entries.sort(), ["ca.key", "ca.pem", "office.key", "office.pem"]);
  });
});

Deno.test("certificates carry the required X.509 extensions", async () => {
  await withTempDir(async (dir) => {
    await genNode(dir, "factory-2", "factory.example,10.0.0.7,[2001:DB8::7],localhost,::1");
    const ca = new x509.X509Certificate(await read(`${dir}/ca.pem`));
    const leaf = new x509.X509Certificate(await read(`${dir}/factory-2.pem`));

    assert.equal(ca.getExtension(x509.BasicConstraintsExtension)?.ca, true);
    const caKu = ca.getExtension(x509.KeyUsagesExtension);
    assert.ok(caKu && caKu.usages & x509.KeyUsageFlags.keyCertSign);
    assert.equal(ca.subject, ca.issuer, "the CA is self-signed");
    assert.equal(await ca.verify({ signatureOnly: true }), true);

    assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)?.ca, false);
    assert.equal(leaf.getExtension(x509.BasicConstraintsExtension)?.critical, true);
    assert.equal(
      leaf.getExtension(x509.KeyUsagesExtension)?.usages,
      x509.KeyUsageFlags.digitalSignature,
    );
    assert.deepEqual(
      [...(leaf.getExtension(x509.ExtendedKeyUsageExtension)?.usages ?? [])],
      [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
    );
    const san = leaf.getExtension(x509.SubjectAlternativeNameExtension);
    assert.deepEqual(san?.names.toJSON(), [
      { type: "dns", value: "factory-2" },
      { type: "dns", value: "factory.example" },
      { type: "ip", value: "10.0.0.7" },
      { type: "ip", value: "2001:db8::7" },
      { type: "dns", value: "localhost" },
      { type: "ip", value: "::1" },
    ]);
    assert.equal(leaf.subject, "CN=factory-2");
    assert.equal(leaf.issuer, ca.subject);
    assert.deepEqual(leaf.publicKey.algorithm, { name: "Ed25519" });
    assert.equal(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }), true);
    const aki = leaf.getExtension(x509.AuthorityKeyIdentifierExtension)?.keyId;
    assert.equal(aki, ca.getExtension(x509.SubjectKeyIdentifierExtension)?.keyId);
    assert.ok(/^[4-7]/.test(leaf.serialNumber) && leaf.serialNumber.length === 32);
  });
});

Deno.test("--key p256 issues an EC P-256 node key that rustls accepts; a bad --key is a usage error", async () => {
  await withTempDir(async (dir) => {
    const io = await genNode(dir, "plc-gw", "127.0.0.1", ["--key", "p256"]);
    assert.ok(
      io.outLines.some((l) => /p256 private key of plc-gw/.test(l)),
      io.outLines.join("\n"),
    );
    const leaf = new x509.X509Certificate(await read(`${dir}/plc-gw.pem`));
    assert.deepEqual(leaf.publicKey.algorithm, { name: "ECDSA", namedCurve: "P-256" });
    const caPem = await read(`${dir}/ca.pem`);
    const exchange = await tlsExchange(
      await read(`${dir}/plc-gw.pem`),
      await read(`${dir}/plc-gw.key`),
      dialIp(caPem),
    );
    assert.deepEqual(exchange, { client: null, server: null });

    const bad = await run(["--dir", dir, "--node", "x", "--host", "127.0.0.1", "--key", "rsa"]);
    assert.equal(bad.code, 2);
    assert.match(bad.io.errLines[0], /--key must be ed25519 or p256, got 'rsa'/);
  });
});

Deno.test("--days sets the node validity and a new CA outlives it", async () => {
  await withTempDir(async (dir) => {
    const before = Date.now();
    await genNode(dir, "hub", "127.0.0.1", ["--days", "30"]);
    const leaf = new x509.X509Certificate(await read(`${dir}/hub.pem`));
    const ca = new x509.X509Certificate(await read(`${dir}/ca.pem`));
    const day = 86_400_000;
    assert.ok(Math.abs(leaf.notAfter.getTime() - (before + 30 * day)) < 60_000);
    assert.ok(leaf.notBefore.getTime() < before, "backdated for clock skew");
    assert.ok(ca.notAfter.getTime() > before + 3649 * day);
  });
});

Deno.test("an existing node file is not overwritten without --force", async () => {
  await withTempDir(async (dir) => {
    await genNode(dir, "office", "127.0.0.1");
    const before = {
      cert: await read(`${dir}/office.pem`),
      key: await read(`${dir}/office.key`),
      ca: await read(`${dir}/ca.pem`),
    };
    const again = await run(["--dir", dir, "--node", "office", "--host", "127.0.0.1"]);
    assert.equal(again.code, 1);
    const msg = again.io.errLines.join("\n");
    assert.match(msg, new RegExp(`${dir}/office\\.key`));
    assert.match(msg, /--force/);
    assert.equal(await read(`${dir}/office.pem`), before.cert);
    assert.equal(await read(`${dir}/office.key`), before.key);

    // Only one of the pair present still refuses, naming that file.
    await Deno.remove(`${dir}/office.key`);
    const half = await run(["--dir", dir, "--node", "office", "--host", "127.0.0.1"]);
    assert.equal(half.code, 1);
    assert.match(half.io.errLines.join("\n"), new RegExp(`${dir}/office\\.pem already exists`));
    assert.equal(await read(`${dir}/office.pem`), before.cert);

    // --force replaces both, keeps the CA, and restores 0600 on a key someone loosened.
    await Deno.writeTextFile(`${dir}/office.key`, "old");
    await Deno.chmod(`${dir}/office.key`, 0o644);
    await genNode(dir, "office", "127.0.0.1,localhost", ["--force"]);
    assert.notEqual(await read(`${dir}/office.pem`), before.cert);
    assert.notEqual(await read(`${dir}/office.key`), "old");
    assert.equal(await mode(`${dir}/office.key`), 0o600);
    assert.equal(await read(`${dir}/ca.pem`), before.ca);
    const leftovers = [];
    for await (const e of Deno.readDir(dir)) if (e.name.includes(".tmp-")) leftovers.push(e.name);
    assert.deepEqual(leftovers, []);
  });
});

Deno.test("the CA is reused for a second node and both nodes verify against one ca.pem", async () => {
  await withTempDir(async (dir) => {
    await genNode(dir, "office", "127.0.0.1");
    const caPem = await read(`${dir}/ca.pem`);
    const caKey = await read(`${dir}/ca.key`);
    const io = await genNode(dir, "factory", "localhost");
    assert.ok(io.outLines.some((l) => /reused CA/.test(l)), io.outLines.join("\n"));
    assert.equal(await read(`${dir}/ca.pem`), caPem);
    assert.equal(await read(`${dir}/ca.key`), caKey);

    const ca = new x509.X509Certificate(caPem);
    for (const node of ["office", "factory"]) {
      const leaf = new x509.X509Certificate(await read(`${dir}/${node}.pem`));
      assert.equal(await leaf.verify({ publicKey: ca.publicKey, signatureOnly: true }), true);
    }
    const factory = await tlsExchange(
      await read(`${dir}/factory.pem`),
      await read(`${dir}/factory.key`),
      dialAs(caPem, "localhost"),
    );
    assert.deepEqual(factory, { client: null, server: null });
  });
});

Deno.test("a broken or half-present CA stops gen-certs without writing anything", async () => {
  await withTempDir(async (base) => {
    await genNode(`${base}/a`, "office", "127.0.0.1");
    await genNode(`${base}/b`, "office", "127.0.0.1");

    // ca.key of another CA next to ca.pem: refused, never signs with the wrong key.
    const mixed = `${base}/mixed`;
    await Deno.mkdir(mixed);
    await Deno.copyFile(`${base}/a/ca.pem`, `${mixed}/ca.pem`);
    await Deno.copyFile(`${base}/b/ca.key`, `${mixed}/ca.key`);
    const r1 = await run(["--dir", mixed, "--node", "hub", "--host", "127.0.0.1"]);
    assert.equal(r1.code, 1);
    assert.match(r1.io.errLines.join("\n"), /ca\.key is not the private key of the CA/);

    // Only ca.pem: refused rather than silently replacing the deployment's CA.
    await Deno.remove(`${mixed}/ca.key`);
    const r2 = await run(["--dir", mixed, "--node", "hub", "--host", "127.0.0.1"]);
    assert.equal(r2.code, 1);
    assert.match(r2.io.errLines.join("\n"), /ca\.key is missing/);

    // A node certificate is not a CA.
    await Deno.copyFile(`${base}/a/office.pem`, `${mixed}/ca.pem`);
    await Deno.copyFile(`${base}/a/office.key`, `${mixed}/ca.key`);
    const r3 = await run(["--dir", mixed, "--node", "hub", "--host", "127.0.0.1"]);
    assert.equal(r3.code, 1);
    assert.match(r3.io.errLines.join("\n"), /not a CA certificate/);

    // A corrupt key, an encrypted key, and a file without a key are each named as such.
    await Deno.copyFile(`${base}/a/ca.pem`, `${mixed}/ca.pem`);
    const keyCases: [string, RegExp][] = [
      [
        "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n",
        /ca\.key is not a readable private key \(PEM PKCS#8, SEC1 or PKCS#1 expected\)/,
      ],
      [
        createPrivateKey(await read(`${base}/a/ca.key`)).export({
          type: "pkcs8",
          format: "pem",
          cipher: "aes-256-cbc",
          passphrase: "secret",
        }).toString(),
        /ca\.key is encrypted; decrypt it with: openssl pkey -in /,
      ],
      [await read(`${base}/a/ca.pem`), /ca\.key has no PEM "PRIVATE KEY" block/],
    ];
    for (const [text, reason] of keyCases) {
      await Deno.writeTextFile(`${mixed}/ca.key`, text);
      const r4 = await run(["--dir", mixed, "--node", "hub", "--host", "127.0.0.1"]);
      assert.equal(r4.code, 1);
      assert.match(r4.io.errLines.join("\n"), reason);
    }

    const names = [];
    for await (const e of Deno.readDir(mixed)) names.push(e.name);
    assert.deepEqual(names.sort(), ["ca.key", "ca.pem"]);
  });
});

Deno.test("usage errors exit 2 with one sentence, writing nothing", async () => {
  await withTempDir(async (base) => {
    const dir = `${base}/pki`;
    const cases: [string[], RegExp][] = [
      [["--node", "a", "--host", "h"], /--dir is required/],
      [["--dir", dir, "--host", "h"], /--node is required/],
      [["--dir", dir, "--node", "a"], /--host is required/],
      [["--dir", dir, "--node", "a b", "--host", "h"], /invalid node name 'a b'/],
      [["--dir", dir, "--node", "x".repeat(65), "--host", "h"], /invalid node name/],
      [["--dir", dir, "--node", "ca", "--host", "h"], /reserved for the CA files/],
      [["--dir", dir, "--node", "a", "--host", "1.2.3.256"], /not a valid IPv4 address/],
      [["--dir", dir, "--node", "a", "--host", "good.example,,x"], /empty host name/],
      [["--dir", dir, "--node", "a", "--host", "under_score.example"], /not a valid host name/],
      [["--dir", dir, "--node", "a", "--host", "h", "--days", "0"], /--days must be from 1/],
      [["--dir", dir, "--node", "a", "--host", "h", "--days", "1.5"], /whole number/],
      [["--dir", dir, "--node", "a", "--host", "h", "--days", "99999999"], /--days must be/],
      [
        ["--dir", dir, "--node", "a", "--host", "h", "--colour"],
        /unknown option '--colour'.*takes --dir DIR/,
      ],
      [["--dir", dir, "--node", "a", "--host", "h", "--dir", dir], /--dir is given twice/],
      [["--dir", dir, "--node", "a", "--host", "h", "--key", "ed2519"], /did you mean 'ed25519'/],
      [["--host", "h"], /--dir and --node are required: portal gen-certs --dir DIR/],
      [["--dir", dir, "--node", "a", "--host", "h", "extra"], /unexpected argument 'extra'/],
      [["--dir", "--node", "a", "--host", "h"], /--node|argument/],
    ];
    for (const [argv, reason] of cases) {
      const { code, io } = await run(argv);
      assert.equal(code, 2, `${argv.join(" ")}: ${io.errLines.join(" | ")}`);
      assert.equal(io.errLines.length, 1, argv.join(" "));
      assert.match(io.errLines[0], /^portal gen-certs: /);
      assert.match(io.errLines[0], reason, argv.join(" "));
      assert.deepEqual(io.outLines, []);
    }
    await assert.rejects(Deno.stat(dir), Deno.errors.NotFound);
  });
});

Deno.test("--help prints the usage and exits 0", async () => {
  const { code, io } = await run(["--help"]);
  assert.equal(code, 0);
  assert.match(io.outLines.join("\n"), /^usage: portal gen-certs --dir DIR/);
  assert.deepEqual(io.errLines, []);
});

Deno.test("--dir naming a file is an I/O error (exit 1)", async () => {
  await withTempDir(async (base) => {
    await Deno.writeTextFile(`${base}/file`, "x");
    const { code, io } = await run(["--dir", `${base}/file`, "--node", "a", "--host", "h"]);
    assert.equal(code, 1);
    assert.match(io.errLines.join("\n"), /is not a directory/);
  });
});

Deno.test("hostSan() tells IPv4 and IPv6 literals from DNS names", () => {
  const ok: [string, { kind: "dns" | "ip"; value: string }][] = [
    ["127.0.0.1", { kind: "ip", value: "127.0.0.1" }],
    ["0.0.0.0", { kind: "ip", value: "0.0.0.0" }],
    ["255.255.255.255", { kind: "ip", value: "255.255.255.255" }],
    ["::1", { kind: "ip", value: "::1" }],
    ["[::1]", { kind: "ip", value: "::1" }],
    ["2001:DB8:0:0:0:0:0:1", { kind: "ip", value: "2001:db8::1" }],
    ["::ffff:10.0.0.1", { kind: "ip", value: "::ffff:a00:1" }],
    ["localhost", { kind: "dns", value: "localhost" }],
    ["Factory.Example.", { kind: "dns", value: "factory.example" }],
    [" hub-1.site-b.example ", { kind: "dns", value: "hub-1.site-b.example" }],
    ["*.nodes.example", { kind: "dns", value: "*.nodes.example" }],
    ["xn--fbrica-qta.example", { kind: "dns", value: "xn--fbrica-qta.example" }],
    ["1node.example", { kind: "dns", value: "1node.example" }],
  ];
  for (const [input, want] of ok) assert.deepEqual(hostSan(input), want, input);

  const bad = [
    "",
    "1.2.3",
    "1.2.3.4.5",
    "1.2.3.256",
    "010.0.0.1",
    "1..2.3",
    "::1::2",
    "fe80::1%eth0",
    "[127.0.0.1]",
    "fábrica.example",
    "has space.example",
    "-lead.example",
    "trail-.example",
    "a..b",
    "under_score",
    "*.example",
    "a.*.example",
    "x".repeat(64) + ".example",
    "example.123",
    "http://host",
  ];
  for (const input of bad) {
    assert.throws(
      () => hostSan(input),
      (e) => e instanceof CertError && e.code === "usage",
      input,
    );
  }
  assert.deepEqual(parseHosts(["a.example,127.0.0.1", "A.example", "::1,[::1]"]), [
    { kind: "dns", value: "a.example" },
    { kind: "ip", value: "127.0.0.1" },
    { kind: "ip", value: "::1" },
  ]);
});

Deno.test("generateCa()/issueNodeCert()/loadCa() work without touching the disk", async () => {
  const now = new Date("2030-01-01T00:00:00Z");
  const ca = await generateCa({ commonName: "Test CA", days: 10, now });
  assert.match(ca.certPem, /^-----BEGIN CERTIFICATE-----\n/);
  const reloaded = await loadCa(ca.certPem, ca.keyPem, { now });
  const issued = await issueNodeCert(reloaded, { name: "n1", hosts: ["127.0.0.1"], days: 30, now });
  // Asked for 30 days from a CA with 10 left: the certificate ends with the CA.
  assert.equal(issued.clampedToCa, true);
  assert.equal(issued.notAfter.getTime(), ca.cert.notAfter.getTime());
  const leaf = new x509.X509Certificate(issued.certPem);
  assert.equal(await leaf.verify({ publicKey: ca.cert.publicKey, signatureOnly: true }), true);
  await assert.rejects(
    loadCa(ca.certPem, ca.keyPem, { now: new Date("2031-01-01T00:00:00Z") }),
    (e) => e instanceof CertError && e.code === "bad_ca" && /expired/.test(e.message),
  );
});

Deno.test("an RSA CA made elsewhere can be reused to issue node certificates", async () => {
  const keys = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: "CN=Corporate Root, O=Example, C=DE",
    keys,
    notAfter: new Date(Date.now() + 86_400_000 * 365),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign, true),
    ],
  });
  const pkcs8 = new Uint8Array(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const keyPem = x509.PemConverter.encode(pkcs8, "PRIVATE KEY");
  const caPem = caCert.toString("pem");
  const ca = await loadCa(caPem, keyPem);
  const issued = await issueNodeCert(ca, { name: "office", hosts: ["127.0.0.1"] });
  assert.deepEqual(await tlsExchange(issued.certPem, issued.keyPem, dialIp(caPem)), {
    client: null,
    server: null,
  });
});

Deno.test("writeCerts() refuses to overwrite without force and to escape the directory", async () => {
  await withTempDir(async (dir) => {
    const files = [{ fileName: "a.pem", contents: "A\n", mode: 0o644 }];
    assert.deepEqual(await writeCerts(dir, files), [`${dir}/a.pem`]);
    await assert.rejects(
      writeCerts(dir, [{ fileName: "b.key", contents: "B", mode: 0o600 }, ...files]),
      (e) => e instanceof CertError && e.code === "exists" && e.message.includes(`${dir}/a.pem`),
    );
    await assert.rejects(Deno.stat(`${dir}/b.key`), Deno.errors.NotFound, "nothing written");
    await writeCerts(dir, [{ fileName: "a.pem", contents: "A2\n", mode: 0o600 }], { force: true });
    assert.equal(await read(`${dir}/a.pem`), "A2\n");
    assert.equal(await mode(`${dir}/a.pem`), 0o600);
    for (const fileName of ["../x.pem", "sub/x.pem", ".hidden"]) {
      await assert.rejects(
        writeCerts(dir, [{ fileName, contents: "", mode: 0o600 }]),
        (e) => e instanceof CertError && e.code === "usage",
      );
    }
  });
});

/**
 * A node:tls listener that requires a client certificate from `caPem` (tls_client_auth =
 * require), dialed once with `client`'s certificate. Returns the CN the listener saw, or null
 * when the handshake failed.
 */
async function clientAuthExchange(
  server: { certPem: string; keyPem: string },
  caPem: string,
  client: { certPem: string; keyPem: string },
): Promise<string | null> {
  const tls = await import("node:tls");
  const listener = tls.createServer({
    key: server.keyPem,
    cert: server.certPem,
    ca: [caPem],
    requestCert: true,
    rejectUnauthorized: true,
  });
  const seen = new Promise<string | null>((resolve) => {
    listener.on("secureConnection", (socket) => {
      resolve(socket.authorized ? String(socket.getPeerCertificate().subject.CN) : null);
      socket.end();
    });
    listener.on("tlsClientError", () => resolve(null));
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  const { port } = listener.address() as { port: number };
  const conn = await Deno.connectTls({
    hostname: "127.0.0.1",
    port,
    caCerts: [caPem],
    cert: client.certPem,
    key: client.keyPem,
  });
  try {
    await conn.handshake();
    await conn.read(new Uint8Array(1)).catch(() => null);
  } catch {
    // The listener's verdict is what the test reads.
  } finally {
    conn.close();
  }
  const cn = await seen;
  await new Promise((resolve) => listener.close(resolve));
  return cn;
}

Deno.test("node certificates name the node in CN and SAN and work as TLS client certificates", async () => {
  const ca = await generateCa();
  const hub = await issueNodeCert(ca, { name: "hub", hosts: ["127.0.0.1"] });
  const office = await issueNodeCert(ca, { name: "Office", hosts: ["office.example"] });
  assert.deepEqual(office.subjectAltNames, [
    { kind: "dns", value: "Office" },
    { kind: "dns", value: "office.example" },
  ]);
  const info = certificateInfo(office.certPem);
  assert.equal(info.cn, "Office");
  assert.deepEqual(info.dnsNames, ["Office", "office.example"]);
  // A name that cannot be a DNS name stays in the CN only.
  const odd = await issueNodeCert(ca, { name: "line_2", hosts: ["10.0.0.2"] });
  assert.deepEqual(odd.subjectAltNames, [{ kind: "ip", value: "10.0.0.2" }]);
  assert.equal(certificateInfo(odd.certPem).cn, "line_2");

  assert.equal(await clientAuthExchange(hub, ca.certPem, office), "Office");
  assert.equal(await clientAuthExchange(hub, ca.certPem, odd), "line_2");

  // The same key and names without clientAuth: refused, so the extension is what lets it dial.
  const leaf = new x509.X509Certificate(office.certPem);
  const serverOnly = await x509.X509CertificateGenerator.create({
    serialNumber: "41",
    subject: leaf.subjectName,
    issuer: ca.cert.subjectName,
    notBefore: leaf.notBefore,
    notAfter: leaf.notAfter,
    signingAlgorithm: ca.signingAlgorithm,
    publicKey: leaf.publicKey,
    signingKey: ca.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
    ],
  });
  const refused = await clientAuthExchange(hub, ca.certPem, {
    certPem: serverOnly.toString("pem"),
    keyPem: office.keyPem,
  });
  assert.equal(refused, null);
  // A certificate from another CA is refused too.
  const stranger = await issueNodeCert(await generateCa(), {
    name: "Office",
    hosts: ["x.example"],
  });
  assert.equal(await clientAuthExchange(hub, ca.certPem, stranger), null);
});

Deno.test("certificateInfo() reads names, expiry and fingerprint from a PEM", async () => {
  const now = new Date("2030-01-01T00:00:00Z");
  const ca = await generateCa({ commonName: "Test CA", days: 3650, now });
  const issued = await issueNodeCert(ca, {
    name: "factory",
    hosts: ["factory.example", "10.0.0.7"],
    days: 30,
    now,
  });
  const info = certificateInfo(issued.certPem + ca.certPem, {
    now: new Date("2030-01-21T12:00:00Z"),
  });
  assert.equal(info.subject, "CN=factory");
  assert.equal(info.issuer, "CN=Test CA, O=Portal");
  assert.equal(info.cn, "factory");
  assert.deepEqual(info.dnsNames, ["factory", "factory.example"]);
  assert.deepEqual(info.ipAddresses, ["10.0.0.7"]);
  assert.equal(info.notAfter.toISOString(), "2030-01-31T00:00:00.000Z");
  assert.equal(info.daysLeft, 9);
  assert.equal(info.isCa, false);
  assert.equal(info.fingerprint256, new X509Certificate(issued.certPem).fingerprint256);
  assert.equal(certificateInfo(issued.certPem, { now: new Date("2030-02-01") }).daysLeft, -1);
  assert.equal(certificateInfo(ca.certPem).isCa, true);

  assert.throws(
    () => certificateInfo(issued.keyPem, { path: "hub.pem" }),
    (e) =>
      e instanceof CertError && e.code === "bad_cert" &&
      e.message === 'hub.pem has no PEM "CERTIFICATE" block (found: PRIVATE KEY)',
  );
  assert.throws(
    () => certificateInfo("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"),
    (e) => e instanceof CertError && e.code === "bad_cert",
  );
});

Deno.test("a CA key in SEC1 form is read and reused", async () => {
  await withTempDir(async (dir) => {
    await genNode(dir, "office", "127.0.0.1");
    const sec1 = createPrivateKey(await read(`${dir}/ca.key`)).export({
      type: "sec1",
      format: "pem",
    });
    await Deno.writeTextFile(`${dir}/ca.key`, sec1.toString());
    const io = await genNode(dir, "factory", "localhost");
    assert.ok(io.outLines.some((l) => /reused CA/.test(l)), io.outLines.join("\n"));
    const ca = new X509Certificate(await read(`${dir}/ca.pem`));
    assert.equal(new X509Certificate(await read(`${dir}/factory.pem`)).verify(ca.publicKey), true);
  });
});

Deno.test("--host with a URL or a port says what to drop", async () => {
  const cases: [string, RegExp][] = [
    ["http://factory.example", /host 'http:\/\/factory\.example': .*drop 'http:\/\/'/],
    ["factory.example:9090", /host 'factory\.example:9090': .*without ':PORT'/],
    ["[fe80::1]:9090", /host .\[fe80::1\]:9090.: .*without ':PORT'/],
    ["fe80::1%eth0", /zone id/],
  ];
  for (const [host, reason] of cases) {
    const { code, io } = await run(["--dir", "unused", "--node", "a", "--host", host]);
    assert.equal(code, 2, host);
    assert.match(io.errLines[0], reason);
    assert.doesNotMatch(io.errLines[0], /IPv6 address/);
  }
});

/** The value of `key = value` among the printed lines, unquoted. */
function hintValue(lines: readonly string[], key: string): string {
  const line = lines.find((l) => l.startsWith(`${key} = `));
  assert.ok(line, `no ${key} line in:\n${lines.join("\n")}`);
  const value = line.slice(key.length + 3);
  return value.startsWith('"') ? JSON.parse(value) : value;
}

Deno.test("the printed tls_* lines work pasted into the node's config", async () => {
  await withTempDir(async (base) => {
    // The reported case: run from the project, certificates under config/certs.
    const configDir = `${base}/site one/config`;
    const relDir = relative(Deno.cwd(), `${configDir}/certs`);
    assert.ok(!relDir.startsWith("/"));

    const plain = await genNode(relDir, "hub", "localhost");
    const header = plain.outLines.find((l) => l.startsWith("add to [mod_node]"));
    assert.match(header ?? "", /absolute paths; with --config FILE/);
    for (
      const [key, file] of [["tls_cert", "hub.pem"], ["tls_key", "hub.key"], ["tls_ca", "ca.pem"]]
    ) {
      assert.equal(hintValue(plain.outLines, key), `${configDir}/certs/${file}`);
    }
    // A path with a space is quoted so node.ini reads it whole.
    assert.match(
      plain.outLines.join("\n"),
      /^tls_cert = "\/.*site one\/config\/certs\/hub\.pem"$/m,
    );

    const config = relative(Deno.cwd(), `${configDir}/hub.ini`);
    const withConfig = await genNode(relDir, "office", "localhost", ["--config", config]);
    assert.ok(withConfig.outLines.some((l) => l.includes(`add to [mod_node] of ${config}`)));
    assert.equal(hintValue(withConfig.outLines, "tls_cert"), "certs/office.pem");
    assert.equal(hintValue(withConfig.outLines, "tls_ca"), "certs/ca.pem");
    // Resolved against the config file's directory, as node.ini does, it is the real file.
    const resolved = resolve(dirname(resolve(config)), hintValue(withConfig.outLines, "tls_key"));
    assert.equal(resolved, `${configDir}/certs/office.key`);
    assert.equal(await mode(resolved), 0o600);

    const misnamed = await run(["--dir", relDir, "--node", "x", "--host", "h", "--config", base]);
    assert.equal(misnamed.code, 2);
    assert.match(misnamed.io.errLines[0], /is a directory; name the node's \.ini file/);
  });
});

Deno.test("portal gen-certs --help prints the usage and exits 0", async () => {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", main, "gen-certs", "--help"],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.match(stdout, /^usage: portal gen-certs --dir DIR --node NAME --host/);
  assert.match(stdout, /--config FILE/);
});
