/**
 * The dialer's side of `tls_client_auth = require` (PORTAL02.md §11): a node with a certificate
 * presents it, still verifies the listener, and keeps Nagle off.
 */
import assert from "node:assert/strict";
import tls from "node:tls";
import type { PeerConfig } from "../src/config/types.ts";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { tcpTlsDialer, TransportError } from "../src/transport/mod.ts";
import { deadPort, within } from "./kit/mod.ts";
import { peerConfig } from "./helpers/nodes.ts";

const ca = await generateCa();
const hubLeaf = await issueNodeCert(ca, { name: "hub", hosts: ["localhost", "127.0.0.1"] });
const office = await issueNodeCert(ca, { name: "office", hosts: ["office.example"] });
const otherCa = await generateCa();

/** What the listener learned about one accepted client. */
interface Accepted {
  readonly socket: tls.TLSSocket;
  readonly cn: string | undefined;
  readonly authorized: boolean;
}

/**
 * A node:tls listener that asks for and verifies client certificates against `ca`, as a listener
 * with tls_client_auth = require does. Its accepted sockets echo nothing: the test drives them.
 */
async function clientAuthListener(caPem: string) {
  const accepted: Accepted[] = [];
  const refused: string[] = [];
  let wake: () => void = () => {};
  const server = tls.createServer({
    cert: hubLeaf.certPem,
    key: hubLeaf.keyPem,
    ca: caPem,
    requestCert: true,
    rejectUnauthorized: true,
  }, (socket) => {
    socket.setNoDelay(true);
    socket.on("error", () => {});
    const cert = socket.getPeerCertificate();
    accepted.push({ socket, cn: cert?.subject?.CN, authorized: socket.authorized });
    wake();
  });
  server.on("tlsClientError", (e: Error) => {
    refused.push(e.message);
    wake();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    accepted,
    refused,
    /** Resolves at the next accept or refusal. */
    next: () => new Promise<void>((r) => (wake = r)),
    async close() {
      for (const a of accepted) a.socket.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function hubPeer(port: number, over: Partial<PeerConfig> = {}): PeerConfig {
  return peerConfig("hub", { host: "127.0.0.1", port, tlsServerName: "hub", ...over });
}

Deno.test("tcpTlsDialer() presents the node's certificate to a listener that asks, Nagle off", async () => {
  const listener = await clientAuthListener(ca.certPem);
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [ca.certPem],
    clientCert: { cert: office.certPem, key: office.keyPem },
  });
  const seen = listener.next();
  const raw = await dial(hubPeer(listener.port), new AbortController().signal);
  await within(seen, "the listener to accept");
  const server = listener.accepted[0];
  const later: ReturnType<typeof setTimeout>[] = [];
  try {
    assert.equal(raw.remote, `127.0.0.1:${listener.port}`);
    assert.equal(server.authorized, true);
    assert.equal(server.cn, "office");
    // The listener answers every 24 bytes; the client sends them as two writes a macrotask
    // apart. With Nagle on, the second write waits for the listener's delayed ACK (~40 ms).
    let pending = 0;
    server.socket.on("data", (d: Uint8Array) => {
      pending += d.byteLength;
      for (; pending >= 24; pending -= 24) server.socket.write(new Uint8Array([1]));
    });
    const half = new Uint8Array(12);
    const rtts: number[] = [];
    for (let i = 0; i < 9; i++) {
      const reply = readOne(raw.conn);
      const t0 = performance.now();
      await raw.conn.write(half);
      await new Promise<void>((r) => later.push(setTimeout(r, 0)));
      await raw.conn.write(half);
      await within(reply, `reply ${i}`);
      rtts.push(performance.now() - t0);
    }
    const median = [...rtts].sort((a, b) => a - b)[4];
    assert.ok(median < 20, `round trips ${rtts.map((r) => r.toFixed(1)).join(", ")} ms`);
  } finally {
    for (const t of later) clearTimeout(t);
    raw.conn.close();
    await listener.close();
  }
});

/** One byte read straight from the stream (the client's FrameConnection is not started). */
async function readOne(conn: { read(p: Uint8Array): Promise<number | null> }): Promise<void> {
  const n = await conn.read(new Uint8Array(1));
  if (n !== 1) throw new Error("the listener closed instead of answering");
}

Deno.test("tcpTlsDialer() with a certificate still refuses a listener its tls_ca does not trust", async () => {
  const listener = await clientAuthListener(ca.certPem);
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [otherCa.certPem],
    clientCert: { cert: office.certPem, key: office.keyPem },
  });
  try {
    await assert.rejects(
      dial(hubPeer(listener.port), new AbortController().signal),
      (e) =>
        e instanceof TransportError && e.code === "dial_failed" && /127\.0\.0\.1/.test(e.message),
    );
  } finally {
    await listener.close();
  }
});

Deno.test("tcpTlsDialer() with a certificate refuses a listener whose certificate names another host", async () => {
  const listener = await clientAuthListener(ca.certPem);
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [ca.certPem],
    clientCert: { cert: office.certPem, key: office.keyPem },
  });
  try {
    await assert.rejects(
      dial(
        hubPeer(listener.port, { tlsServerName: "plant.example" }),
        new AbortController().signal,
      ),
      (e) =>
        e instanceof TransportError && e.code === "dial_failed" &&
        /invalid peer certificate: certificate not valid for name "plant\.example"; certificate is only valid for DNS:hub, DNS:localhost, IP Address:127\.0\.0\.1/
          .test(e.message),
    );
    // An address as the name is checked against the certificate's IP names.
    const raw = await dial(
      hubPeer(listener.port, { tlsServerName: null }),
      new AbortController().signal,
    );
    raw.conn.close();
  } finally {
    await listener.close();
  }
});

Deno.test("a listener asking for client certificates refuses one issued by another CA", async () => {
  const stranger = await issueNodeCert(otherCa, { name: "office", hosts: ["localhost"] });
  const listener = await clientAuthListener(ca.certPem);
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [ca.certPem],
    clientCert: { cert: stranger.certPem, key: stranger.keyPem },
  });
  const refused = listener.next();
  let raw = null;
  try {
    // TLS 1.3 ends the client's handshake before the listener has checked its certificate:
    // the refusal arrives as an alert on the first read.
    raw = await dial(hubPeer(listener.port), new AbortController().signal).catch(() => null);
    await within(refused, "the listener to refuse the certificate");
    assert.equal(listener.accepted.length, 0);
    assert.equal(listener.refused.length, 1);
    if (raw !== null) {
      const conn = raw.conn;
      await assert.rejects(async () => {
        const n = await conn.read(new Uint8Array(16));
        if (n === null) throw new Error("closed");
      });
    }
  } finally {
    raw?.conn.close();
    await listener.close();
  }
});

Deno.test("tcpTlsDialer() with a certificate says when the listener's certificate has expired", async () => {
  const stale = await issueNodeCert(ca, {
    name: "hub",
    hosts: ["127.0.0.1"],
    days: 1,
    now: new Date(Date.now() - 3 * 86_400_000),
  });
  const server = tls.createServer({ cert: stale.certPem, key: stale.keyPem }, (s) => {
    s.on("error", () => {});
    s.destroy();
  });
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as { port: number }).port;
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [ca.certPem],
    clientCert: { cert: office.certPem, key: office.keyPem },
  });
  try {
    await assert.rejects(
      dial(hubPeer(port, { tlsServerName: null }), new AbortController().signal),
      (e) =>
        e instanceof TransportError &&
        /failed: invalid peer certificate: certificate expired on \d{4}-.*\(CN=hub; renew it/.test(
          e.message,
        ),
    );
    await assert.rejects(
      dial(hubPeer(deadPort()), new AbortController().signal),
      (e) => e instanceof TransportError && /^cannot connect to 127\.0\.0\.1:\d+: /.test(e.message),
    );
  } finally {
    await new Promise<void>((r) => server.close(() => r()));
  }
});

Deno.test("tcpTlsDialer() with a certificate gives up at once when the dial is aborted", async () => {
  const dial = tcpTlsDialer({
    tls: true,
    caCerts: [ca.certPem],
    clientCert: { cert: office.certPem, key: office.keyPem },
  });
  const abort = new AbortController();
  abort.abort();
  await assert.rejects(
    dial(hubPeer(1), abort.signal),
    (e) => e instanceof TransportError && /cancelled/.test(e.message),
  );
});
