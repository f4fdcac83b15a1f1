/**
 * The federation TLS listener under hostile load: fair bounds per source address, shedding,
 * descriptor exhaustion, and client certificates verified against a CA (PORTAL02.md §11).
 */
import assert from "node:assert/strict";
import net from "node:net";
import tls from "node:tls";
import { generateCa, issueNodeCert } from "../src/pki/mod.ts";
import { acceptLoop } from "../src/transport/accept.ts";
import type { TlsListenOptions } from "../src/transport/admission.ts";
import { openNativeTlsListener } from "../src/transport/native_tls.ts";
import { openNodeTlsListener } from "../src/transport/node_tls.ts";
import type { Listener, RawConn } from "../src/transport/types.ts";
import { FakeClock, settle, within } from "./kit/mod.ts";

const ca = await generateCa();
const hub = await issueNodeCert(ca, { name: "hub", hosts: ["localhost", "127.0.0.1"] });
const office = await issueNodeCert(ca, { name: "office", hosts: ["localhost", "127.0.0.1"] });
const strangerCa = await generateCa();
const stranger = await issueNodeCert(strangerCa, { name: "office", hosts: ["localhost"] });

/** The fair bounds are admission.ts's, shared by both listeners: each test runs against both. */
const LISTENERS = [
  ["openNativeTlsListener", openNativeTlsListener],
  ["openNodeTlsListener", openNodeTlsListener],
] as const;

/** A plain TCP connection from `localAddress` that never starts TLS. */
function silent(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    s.on("error", () => {});
    s.once("error", reject);
  });
}

/** A TLS client from 127.0.0.1 that completes the handshake (with a client certificate if given). */
function tlsClient(
  port: number,
  cert?: { certPem: string; keyPem: string },
): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({
      host: "127.0.0.1",
      port,
      servername: "localhost",
      ca: ca.certPem,
      ...(cert ? { cert: cert.certPem, key: cert.keyPem } : {}),
    }, () => resolve(s));
    s.on("error", () => {});
    s.once("error", reject);
    s.once("close", () => reject(new Error("closed before the handshake ended")));
  });
}

/** Resolves once `s` is closed by the other side. */
function closedByServer(s: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (s.destroyed) resolve();
    s.once("close", () => resolve());
    s.resume();
  });
}

async function withListener(
  opts: Partial<TlsListenOptions>,
  fn: (l: Listener, events: string[]) => Promise<void>,
  listen: (o: TlsListenOptions) => Promise<Listener> = openNodeTlsListener,
): Promise<void> {
  const events: string[] = [];
  const l = await listen({
    hostname: "127.0.0.1",
    port: 0,
    cert: hub.certPem,
    key: hub.keyPem,
    onRefused: (remote, reason) => events.push(`refused ${remote} ${reason}`),
    onShed: (remote, reason) => events.push(`shed ${remote} ${reason}`),
    onTlsError: (remote, reason) => events.push(`tls ${remote} ${reason}`),
    ...opts,
  });
  try {
    await fn(l, events);
  } finally {
    l.close();
    await settle();
  }
}

for (const [fn, listen] of LISTENERS) {
  Deno.test(`${fn}() bounds silent connections per address; another address still gets in`, async () => {
    await withListener({ maxUnauthenticatedPerSource: 4 }, async (l, events) => {
      const flood: net.Socket[] = [];
      try {
        for (let i = 0; i < 10; i++) flood.push(await silent(l.addr.port, "127.0.0.2"));
        await within(Promise.all(flood.slice(4).map(closedByServer)), "6 refusals", 3000);
        assert.equal(events.filter((e) => e.startsWith("refused 127.0.0.2:")).length, 6);
        assert.match(
          events[0],
          /127\.0\.0\.2 already holds 4 connections that have not authenticated/,
        );
        const peer = await within(tlsClient(l.addr.port), "the peer's handshake", 3000);
        const raw = await within(l.accept(), "the peer's connection", 3000);
        assert.match(raw.remote, /^127\.0\.0\.1:\d+$/);
        raw.conn.close();
        peer.destroy();
      } finally {
        for (const s of flood) s.destroy();
      }
    }, listen);
  });

  Deno.test(`${fn}() sheds the newest of the biggest holder when all slots are taken`, async () => {
    await withListener({ maxUnauthenticated: 3, maxConnections: 100 }, async (l, events) => {
      const flood: net.Socket[] = [];
      try {
        for (let i = 0; i < 3; i++) flood.push(await silent(l.addr.port, "127.0.0.2"));
        await settle();
        const peer = await within(tlsClient(l.addr.port), "the peer's handshake", 3000);
        await within(closedByServer(flood[2]), "the newest flood connection to go", 3000);
        assert.ok(
          events.some((e) => /^shed 127\.0\.0\.2:\d+ .*127\.0\.0\.2 holds the most/.test(e)),
        );
        const raw = await l.accept();
        raw.conn.close();
        peer.destroy();
      } finally {
        for (const s of flood) s.destroy();
      }
    }, listen);
  });

  Deno.test(`${fn}() at max_connections makes room only by shedding unauthenticated ones`, async () => {
    await withListener({ maxConnections: 2 }, async (l, events) => {
      const first = await within(tlsClient(l.addr.port), "first handshake", 3000);
      const a = await l.accept();
      a.authenticated!();
      const silentOne = await silent(l.addr.port, "127.0.0.2");
      await settle();
      // Full: one authenticated, one silent from 127.0.0.2. A newcomer from 127.0.0.1 sheds the silent one.
      const second = await within(tlsClient(l.addr.port), "second handshake", 3000);
      await within(closedByServer(silentOne), "the silent connection to go", 3000);
      const b = await l.accept();
      b.authenticated!();
      // Full again, nobody unauthenticated is left to shed: the next is refused at once.
      const third = await silent(l.addr.port, "127.0.0.3");
      await within(closedByServer(third), "the refusal", 3000);
      assert.ok(
        events.some((e) => /^refused 127\.0\.0\.3:\d+ 2 connections are open/.test(e)),
        events.join("\n"),
      );
      for (const r of [a, b] as RawConn[]) r.conn.close();
      first.destroy();
      second.destroy();
      third.destroy();
    }, listen);
  });
}

Deno.test("openNodeTlsListener() with a client CA passes the verified names and refuses others", async () => {
  await withListener({ clientCa: ca.certPem }, async (l, events) => {
    const good = await within(tlsClient(l.addr.port, office), "a verified client", 3000);
    const raw = await within(l.accept(), "its connection", 3000);
    assert.deepEqual(raw.certNames, ["office", "localhost"]);
    raw.conn.close();
    good.destroy();
    // TLS 1.3 clients finish first; the listener's refusal then closes them.
    for (const cert of [stranger, undefined]) {
      const s = await tlsClient(l.addr.port, cert).catch(() => null);
      if (s) await within(closedByServer(s), "the refused client to be closed", 3000);
    }
    assert.equal(events.filter((e) => e.startsWith("tls 127.0.0.1:")).length, 2, events.join("\n"));
    const again = await within(tlsClient(l.addr.port, office), "a verified client", 3000);
    const next = await within(l.accept(), "only the verified connection", 3000);
    assert.deepEqual(next.certNames, ["office", "localhost"]);
    next.conn.close();
    again.destroy();
  });
});

Deno.test("acceptLoop() pauses while out of file descriptors and resumes by itself", async () => {
  const clock = new FakeClock();
  const accepted: string[] = [];
  const report: string[] = [];
  let calls = 0;
  const conn = { close() {} } as unknown as Deno.Conn;
  const closed = Promise.withResolvers<never>();
  const fake = {
    accept(): Promise<Deno.Conn> {
      calls++;
      if (calls <= 2) {
        const e = new Error("Too many open files (os error 24)") as Error & { code: string };
        e.code = "EMFILE";
        return Promise.reject(e);
      }
      if (calls === 3) return Promise.resolve(conn);
      return closed.promise;
    },
  } as unknown as Deno.Listener;
  const loop = acceptLoop(fake, () => accepted.push("conn"), {
    clock,
    onExhausted: (reason, ms) => report.push(`out ${ms} ${reason}`),
    onResumed: (n) => report.push(`resumed after ${n}`),
  });
  await clock.advanceAsync(0);
  assert.deepEqual(report, ["out 50 Too many open files (os error 24)"]);
  await clock.advanceAsync(50);
  assert.equal(report[1], "out 100 Too many open files (os error 24)");
  await clock.advanceAsync(100);
  assert.deepEqual(report.slice(2), ["resumed after 2"]);
  assert.deepEqual(accepted, ["conn"]);
  loop.stop();
  closed.reject(new Deno.errors.BadResource("closed"));
  await loop.done;
  assert.equal(clock.pending, 0);
});

Deno.test("acceptLoop() waits for beforeAccept's promise before it accepts again", async () => {
  const conn = { close() {} } as unknown as Deno.Conn;
  const closed = Promise.withResolvers<never>();
  let calls = 0;
  const fake = {
    accept(): Promise<Deno.Conn> {
      calls++;
      return calls <= 2 ? Promise.resolve(conn) : closed.promise;
    },
  } as unknown as Deno.Listener;
  const gate = Promise.withResolvers<void>();
  let held = false;
  const accepted: number[] = [];
  const loop = acceptLoop(fake, () => accepted.push(calls), {
    clock: new FakeClock(),
    // After the first connection, the loop must wait until the gate opens.
    beforeAccept: () => (accepted.length === 1 && !held ? (held = true, gate.promise) : null),
  });
  await settle();
  assert.deepEqual(accepted, [1]);
  assert.equal(calls, 1);
  gate.resolve();
  await settle();
  assert.deepEqual(accepted, [1, 2]);
  loop.stop();
  closed.reject(new Deno.errors.BadResource("closed"));
  await loop.done;
});

Deno.test("acceptLoop() hands a connection it took as it stopped to onDiscarded, closed", async () => {
  let closed = 0;
  const conn = { close: () => closed++ } as unknown as Deno.Conn;
  const ready = Promise.withResolvers<Deno.Conn>();
  const fake = { accept: () => ready.promise } as unknown as Deno.Listener;
  const discarded: Deno.Conn[] = [];
  const loop = acceptLoop(fake, () => assert.fail("handed over after stop"), {
    clock: new FakeClock(),
    onDiscarded: (c) => discarded.push(c),
  });
  loop.stop();
  ready.resolve(conn);
  await loop.done;
  assert.deepEqual(discarded, [conn]);
  assert.equal(closed, 1);
});
