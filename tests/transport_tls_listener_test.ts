import assert from "node:assert/strict";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { FrameConnection } from "../src/transport/connection.ts";
import { TransportError } from "../src/transport/mod.ts";
import { listenerHasNoDelay, listeningSockets } from "../src/transport/libc_sockets.ts";
import { nativeListenerUnavailable, openNativeTlsListener } from "../src/transport/native_tls.ts";
import { openNodeTlsListener } from "../src/transport/node_tls.ts";
import { type Frame, MsgType } from "../src/wire/mod.ts";
import { within } from "./kit/mod.ts";

const ca = await generateCa();
const leaf = await issueNodeCert(ca, { name: "hub", hosts: ["localhost", "127.0.0.1"] });
/** A listener on a free local port with the leaf certificate. */
const LOCAL = { hostname: "127.0.0.1", port: 0, cert: leaf.certPem, key: leaf.keyPem } as const;

async function dial(port: number, caPem: string): Promise<Deno.TlsConn> {
  const tcp = await Deno.connect({ hostname: "127.0.0.1", port });
  tcp.setNoDelay(true);
  const conn = await Deno.startTls(tcp, { hostname: "localhost", caCerts: [caPem] });
  try {
    await conn.handshake();
  } catch (e) {
    conn.close();
    throw e;
  }
  return conn;
}

/** Both federation TLS listeners keep the same contract; each test runs against both. */
const LISTENERS = [
  ["openNativeTlsListener", openNativeTlsListener],
  ["openNodeTlsListener", openNodeTlsListener],
] as const;

Deno.test("nativeListenerUnavailable() leaves client certificates to node:tls; here ffi is granted", () => {
  assert.match(nativeListenerUnavailable({ clientCa: ca.certPem }) ?? "", /client certificates/);
  assert.equal(nativeListenerUnavailable({ clientCa: null }), null);
});

Deno.test("openNativeTlsListener() sets TCP_NODELAY on its listening socket, which accepted ones inherit", async () => {
  const listener = await openNativeTlsListener(LOCAL);
  try {
    assert.ok(listenerHasNoDelay(listener.addr.port));
    assert.ok(!listenerHasNoDelay(1), "no listener on port 1 here");
  } finally {
    listener.close();
  }
});

for (const [fn, listen] of LISTENERS) {
  Deno.test(`${fn}() carries frames both ways with Nagle off on the accepted side`, async () => {
    const listener = await listen(LOCAL);
    const client = await dial(listener.addr.port, ca.certPem);
    const accepted = await listener.accept();
    const server = new FrameConnection(accepted.conn);
    const clientSide = new FrameConnection(client);
    const got: Frame[] = [];
    let wake: () => void = () => {};
    clientSide.start({
      onFrame: (f) => {
        got.push({ type: f.type, body: f.body.slice() });
        if (got.length % 2 === 0) wake();
      },
      onClose: () => {},
    });
    // The server answers each PING with two PONGs in two writes, a macrotask apart: with Nagle on,
    // the second waits for the client's delayed ACK (~40 ms; measured 44 ms on Deno.listenTls).
    const later: ReturnType<typeof setTimeout>[] = [];
    server.start({
      onFrame: (f) => {
        const body = f.body.slice();
        server.send(MsgType.Pong, body);
        later.push(setTimeout(() => server.send(MsgType.Pong, body), 0));
      },
      onClose: () => {},
    });
    try {
      assert.match(accepted.remote, /^127\.0\.0\.1:\d+$/);
      const rtts: number[] = [];
      for (let i = 0; i < 7; i++) {
        const arrived = new Promise<void>((r) => (wake = r));
        const t0 = performance.now();
        clientSide.send(MsgType.Ping, new Uint8Array([i]));
        await within(arrived, `pongs ${i}`);
        rtts.push(performance.now() - t0);
      }
      assert.deepEqual(
        got.map((f) => [f.type, f.body[0]]),
        [0, 1, 2, 3, 4, 5, 6].flatMap((i) => [[MsgType.Pong, i], [MsgType.Pong, i]]),
      );
      const median = [...rtts].sort((a, b) => a - b)[3];
      assert.ok(median < 20, `round trips ${rtts.map((r) => r.toFixed(1)).join(", ")} ms`);
    } finally {
      for (const t of later) clearTimeout(t);
      clientSide.close();
      server.close();
      listener.close();
      await Promise.all([clientSide.closed(), server.closed()]);
    }
  });

  Deno.test(`${fn}() reports a client that trusts another CA`, async () => {
    const errors: string[] = [];
    let reported: () => void = () => {};
    const seen = new Promise<void>((r) => (reported = r));
    const listener = await listen({
      ...LOCAL,
      onTlsError: (remote, message) => {
        errors.push(`${remote} ${message}`);
        reported();
      },
    });
    const other = await generateCa();
    try {
      await assert.rejects(dial(listener.addr.port, other.certPem));
      await within(seen, "the TLS error report");
      assert.match(errors[0], /^127\.0\.0\.1:\d+ /);
    } finally {
      listener.close();
    }
  });

  Deno.test(`${fn}() refuses a port in use with a TransportError`, async () => {
    const first = await listen(LOCAL);
    try {
      await assert.rejects(
        listen({
          hostname: "127.0.0.1",
          port: first.addr.port,
          cert: leaf.certPem,
          key: leaf.keyPem,
        }),
        (e) =>
          e instanceof TransportError && e.code === "listen_failed" &&
          e.message.includes(String(first.addr.port)),
      );
    } finally {
      first.close();
    }
  });

  Deno.test(`${fn}() drops a client that never starts TLS after the handshake timeout`, async () => {
    const errors: string[] = [];
    const listener = await listen({
      ...LOCAL,
      handshakeTimeoutMs: 200,
      onTlsError: (_remote, message) => errors.push(message),
    });
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    try {
      const n = await within(
        silent.read(new Uint8Array(8)),
        "the listener to drop the connection",
        5000,
      );
      assert.equal(n, null);
      assert.ok(errors.some((m) => /timeout/i.test(m)), errors.join("; "));
    } finally {
      silent.close();
      listener.close();
    }
  });

  Deno.test(`${fn}() closes connections beyond maxConnections at once`, async () => {
    const refused: string[] = [];
    const listener = await listen({
      ...LOCAL,
      maxConnections: 1,
      onRefused: (remote) => refused.push(remote),
    });
    const first = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    const second = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
    try {
      assert.equal(
        await within(second.read(new Uint8Array(8)), "the second to be closed", 5000),
        null,
      );
      assert.equal(refused.length, 1);
    } finally {
      first.close();
      second.close();
      listener.close();
    }
  });

  Deno.test(`${fn}(): setCredentials() serves new connections the new certificate; open ones stay`, async () => {
    const listener = await listen(LOCAL);
    const open: Deno.TlsConn[] = [];
    const accepted: { conn: { close(): void } }[] = [];
    try {
      open.push(await dial(listener.addr.port, ca.certPem));
      accepted.push(await listener.accept());
      const other = await generateCa();
      const renewed = await issueNodeCert(other, {
        name: "hub",
        hosts: ["localhost", "127.0.0.1"],
      });
      // A key that is not the certificate's is refused, and the old pair stays in use.
      assert.throws(
        () => listener.setCredentials({ cert: renewed.certPem, key: leaf.keyPem, clientCa: null }),
        (e) => e instanceof TransportError && e.code === "listen_failed",
      );
      open.push(await dial(listener.addr.port, ca.certPem));
      accepted.push(await listener.accept());
      listener.setCredentials({ cert: renewed.certPem, key: renewed.keyPem, clientCa: null });
      // New connections get the new certificate: trusted through its own CA only.
      await assert.rejects(dial(listener.addr.port, ca.certPem));
      // Every one of them, also while a replaced listener drains.
      for (let i = 0; i < 20; i++) {
        open.push(await dial(listener.addr.port, other.certPem));
        accepted.push(await listener.accept());
      }
      // The first connection still carries bytes.
      await open[0].write(new Uint8Array([1]));
    } finally {
      for (const c of open) c.close();
      for (const a of accepted) a.conn.close();
      listener.close();
    }
  });
}

Deno.test("openNativeTlsListener(): a change while the last one drains is taken once the port is alone; no dial fails", async () => {
  const listener = await openNativeTlsListener(LOCAL);
  const port = listener.addr.port;
  const open: Deno.TlsConn[] = [];
  const taker = (async () => {
    for (;;) {
      const a = await listener.accept().catch(() => null);
      if (a === null) return;
      a.authenticated?.();
      a.conn.close();
    }
  })();
  try {
    const [first, second] = [await generateCa(), await generateCa()];
    const issue = (c: typeof ca) =>
      issueNodeCert(c, { name: "hub", hosts: ["localhost", "127.0.0.1"] });
    const [a, b] = [await issue(first), await issue(second)];
    listener.setCredentials({ cert: a.certPem, key: a.keyPem, clientCa: null });
    listener.setCredentials({ cert: b.certPem, key: b.keyPem, clientCa: null });
    // Until the second change is applied new connections get the first; never an error.
    const t0 = performance.now();
    for (;;) {
      const conn = await dial(port, second.certPem).catch(() => null);
      if (conn !== null) {
        conn.close();
        break;
      }
      // The first change's certificate, or (if the second landed since) the second's.
      open.push(
        await dial(port, first.certPem).catch(() => dial(port, second.certPem)),
      );
      assert.ok(performance.now() - t0 < 3000, "the second change was never applied");
    }
    for (let i = 0; i < 20; i++) open.push(await dial(port, second.certPem));
    await within(
      (async () => {
        while (listeningSockets(port) !== 1) await new Promise((r) => setTimeout(r, 50));
      })(),
      "the replaced listeners to close",
      5000,
    );
  } finally {
    for (const c of open) c.close();
    listener.close();
    await taker;
  }
});

Deno.test("openNativeTlsListener(): the same certificate again (a new CA alone) binds nothing new", async () => {
  const listener = await openNativeTlsListener(LOCAL);
  try {
    listener.setCredentials({ cert: leaf.certPem, key: leaf.keyPem, clientCa: ca.certPem });
    assert.equal(listeningSockets(listener.addr.port), 1);
    const conn = await dial(listener.addr.port, ca.certPem);
    (await listener.accept()).conn.close();
    conn.close();
  } finally {
    listener.close();
  }
});

Deno.test("openNativeTlsListener() on :: shuts down a silent IPv4 client at the handshake timeout", async () => {
  const listener = await openNativeTlsListener({
    hostname: "::",
    port: 0,
    cert: leaf.certPem,
    key: leaf.keyPem,
    handshakeTimeoutMs: 200,
  });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  try {
    const n = await within(silent.read(new Uint8Array(8)), "the listener to drop it", 5000);
    assert.equal(n, null);
  } finally {
    silent.close();
    listener.close();
  }
});

Deno.test("tcpTlsDialer() with tls_verify = false connects to a listener whose CA it does not know", async () => {
  const { tcpTlsDialer } = await import("../src/transport/mod.ts");
  const { peerConfig } = await import("./helpers/nodes.ts");
  const listener = await openNodeTlsListener(LOCAL);
  const other = await generateCa();
  try {
    const verified = tcpTlsDialer({ tls: true, caCerts: [other.certPem] });
    const peer = peerConfig("hub", { port: listener.addr.port, tlsServerName: "localhost" });
    await assert.rejects(verified(peer, new AbortController().signal), /TLS handshake/);
    const unverified = await verified({ ...peer, tlsVerify: false }, new AbortController().signal);
    const accepted = await listener.accept();
    assert.match(unverified.remote, /^127\.0\.0\.1:\d+$/);
    await unverified.conn.write(new Uint8Array([1, 2, 3]));
    const buf = new Uint8Array(8);
    assert.equal(await accepted.conn.read(buf), 3);
    unverified.conn.close();
    accepted.conn.close();
  } finally {
    listener.close();
  }
});
