/**
 * The reconnect schedule (PORTAL02.md §7): 1, 2, 4, 8, 16, 32, 60, 60 s, reset to 1 s after a
 * successful authentication, optional jitter. Driven by a FakeClock; nothing here sleeps.
 */
import assert from "node:assert/strict";
import type { PeerConfig } from "../src/config/types.ts";
import { Federation } from "../src/federation/federation.ts";
import { createLogger, type Logger } from "../src/log/logger.ts";
import { PathRouter } from "../src/paths/mod.ts";
import { Backoff } from "../src/peer/backoff.ts";
import { type Connected, type Link, Peer, type PeerHost } from "../src/peer/peer.ts";
import { formatDuration } from "../src/util/format.ts";
import { type ByteStream, FrameConnection } from "../src/transport/mod.ts";
import { type Dialer, tcpTlsDialer, TransportError } from "../src/transport/mod.ts";
import { nodeConfig, peerConfig, startTestNode } from "./helpers/nodes.ts";
import { FakeClock, within } from "./kit/mod.ts";

const SCHEDULE_MS = [1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000];

/** A logger whose lines a test can await, in order. */
class LogWatch {
  readonly lines: string[] = [];
  readonly logger: Logger;
  #cursor = 0;
  #waiter: { readonly text: string; readonly resolve: () => void } | null = null;

  constructor() {
    this.logger = createLogger({
      level: "debug",
      now: () => new Date(0),
      sink: (line) => this.#push(line),
    });
  }

  /** Resolves at the first line containing `text` after the line last awaited. */
  next(text: string): Promise<void> {
    if (this.#scan(text)) return Promise.resolve();
    const seen = new Promise<void>((resolve) => (this.#waiter = { text, resolve }));
    return within(seen, `log line containing "${text}"`).catch((e) => {
      throw new Error(`${(e as Error).message}; log:\n${this.lines.join("\n")}`);
    });
  }

  #push(line: string): void {
    this.lines.push(line);
    const w = this.#waiter;
    if (w !== null && this.#scan(w.text)) {
      this.#waiter = null;
      w.resolve();
    }
  }

  #scan(text: string): boolean {
    for (let i = this.#cursor; i < this.lines.length; i++) {
      if (this.lines[i].includes(text)) {
        this.#cursor = i + 1;
        return true;
      }
    }
    return false;
  }
}

/** One end of an in-memory byte pipe; closing either end is EOF for the other. */
class PipeEnd implements ByteStream {
  other!: PipeEnd;
  #chunks: Uint8Array[] = [];
  #closed = false;
  #otherClosed = false;
  #reader: ((n: number | null) => void) | null = null;
  #readInto: Uint8Array | null = null;

  read(p: Uint8Array): Promise<number | null> {
    if (this.#chunks.length > 0) return Promise.resolve(this.#take(p));
    if (this.#closed || this.#otherClosed) return Promise.resolve(null);
    return new Promise((resolve) => {
      this.#reader = resolve;
      this.#readInto = p;
    });
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#closed || this.#otherClosed) return Promise.reject(new Error("broken pipe"));
    this.other.#deliver(p.slice());
    return Promise.resolve(p.byteLength);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#wake();
    this.other.#otherClosed = true;
    this.other.#wake();
  }

  #deliver(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#wake();
  }

  #wake(): void {
    const resolve = this.#reader;
    const into = this.#readInto;
    if (resolve === null || into === null) return;
    if (this.#chunks.length > 0) {
      this.#reader = this.#readInto = null;
      resolve(this.#take(into));
    } else if (this.#closed || this.#otherClosed) {
      this.#reader = this.#readInto = null;
      resolve(null);
    }
  }

  #take(p: Uint8Array): number {
    const chunk = this.#chunks[0];
    const n = Math.min(chunk.byteLength, p.byteLength);
    p.set(chunk.subarray(0, n));
    if (n === chunk.byteLength) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return n;
  }
}

function pipe(): [PipeEnd, PipeEnd] {
  const a = new PipeEnd();
  const b = new PipeEnd();
  a.other = b;
  b.other = a;
  return [a, b];
}

type Connect = PeerHost["connect"];

/** A PeerHost whose connect the test scripts; it records every attempt's fake time. */
function scriptedHost(clock: FakeClock, log: LogWatch) {
  const attempts: number[] = [];
  const linksUp: Link[] = [];
  const linksDown: string[] = [];
  let behaviour: Connect = () => Promise.reject(new Error("connection refused"));
  let linkIds = 0;
  const host: PeerHost = {
    localName: "office",
    clock,
    logger: log.logger,
    pingIntervalMs: 10_000,
    pingMaxMissed: 3,
    nextLinkId: () => ++linkIds,
    connect: (peer, signal, onTcpUp, onAuthenticated) => {
      attempts.push(clock.now());
      return behaviour(peer, signal, onTcpUp, onAuthenticated);
    },
    onFrame: () => {},
    onLinkUp: (_peer, link) => linksUp.push(link),
    onLinkDown: (_peer, _link, reason) => linksDown.push(reason),
  };
  return {
    host,
    attempts,
    linksUp,
    linksDown,
    setBehaviour: (b: Connect) => (behaviour = b),
  };
}

const refuse: Connect = () =>
  Promise.reject(new TransportError("dial_failed", "cannot connect to 127.0.0.1:9090: refused"));

/**
 * A connect that succeeds: TCP up, then an authenticated FrameConnection over an in-memory pipe
 * (started, as the real handshake leaves it). The remote end is returned through `remotes`.
 */
function succeedInto(remotes: PipeEnd[]): Connect {
  return (_peer: PeerConfig, _signal, onTcpUp, onAuthenticated: (c: Connected) => void) => {
    const [local, remote] = pipe();
    remotes.push(remote);
    const conn = new FrameConnection(local);
    conn.start({ onFrame: () => {}, onClose: () => {} });
    onTcpUp();
    onAuthenticated({ conn, remote: "127.0.0.1:9090" });
    return Promise.resolve();
  };
}

function newPeer(host: PeerHost, over: { jitter?: number; random?: () => number } = {}): Peer {
  return new Peer({
    config: peerConfig("factory"),
    configured: true,
    host,
    reconnectInitialMs: 1000,
    reconnectMaxMs: 60_000,
    reconnectJitter: over.jitter ?? 0,
    random: over.random,
  });
}

Deno.test("Backoff.next() waits 1, 2, 4, 8, 16, 32, 60, 60 s and reset() starts over", () => {
  const b = new Backoff();
  assert.deepEqual(SCHEDULE_MS.map(() => b.next()), SCHEDULE_MS);
  assert.equal(b.next(), 60_000, "stays at the cap");
  b.reset();
  assert.deepEqual([b.next(), b.next(), b.next()], [1000, 2000, 4000]);
});

Deno.test("Backoff honours reconnect_initial and reconnect_max", () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000 });
  assert.deepEqual(
    Array.from({ length: 7 }, () => b.next()),
    [100, 200, 400, 800, 1000, 1000, 1000],
  );
  b.reset();
  assert.equal(b.next(), 100);
});

Deno.test("Backoff with jitter 0.5 waits within [w, 1.5w] of each scheduled wait", () => {
  const randoms = [0, 0.5, 0.999_999, 0.25, 0.75, 0.1, 0.999_999, 0];
  let i = 0;
  const b = new Backoff({ jitter: 0.5, random: () => randoms[i++] });
  const waits = SCHEDULE_MS.map(() => b.next());
  assert.equal(i, SCHEDULE_MS.length, "one random draw per wait");
  for (const [k, w] of SCHEDULE_MS.entries()) {
    assert.ok(
      waits[k] >= w && waits[k] <= 1.5 * w,
      `wait ${k}: ${waits[k]} not in [${w}, ${1.5 * w}]`,
    );
    assert.equal(waits[k], Math.round(w * (1 + 0.5 * randoms[k])));
  }
  assert.equal(waits[0], 1000, "random 0 adds nothing");
  assert.equal(waits[1], 2500, "random 0.5 adds a quarter");
  assert.equal(waits[6], 90_000, "the cap is jittered too, to at most 1.5 × 60 s");
});

Deno.test("Peer retries a failing connect after 1, 2, 4, 8, 16, 32, 60, 60 s and logs each wait", async () => {
  const clock = new FakeClock();
  const log = new LogWatch();
  const h = scriptedHost(clock, log);
  h.setBehaviour(refuse);
  const peer = newPeer(h.host);
  try {
    peer.start();
    assert.equal(h.attempts.length, 1, "start() dials at once");
    for (const [k, wait] of SCHEDULE_MS.entries()) {
      await log.next("connection attempt failed");
      await log.next(`next retry in ${formatDuration(wait)}`);
      const s = peer.state;
      assert.equal(s.kind, "backoff");
      assert.equal(s.kind === "backoff" && s.waitMs, wait);
      assert.equal(clock.nextDelay(), wait, `wait ${k + 1}`);
      assert.equal(clock.pending, 1, "only the retry timer is pending");
      clock.advance(wait - 1);
      assert.equal(h.attempts.length, k + 1, `no attempt before ${wait} ms`);
      clock.advance(1);
      assert.equal(h.attempts.length, k + 2, `attempt ${k + 2} after exactly ${wait} ms`);
      assert.equal(peer.state.kind, "connecting");
    }
    // Attempt times are the running sums of the schedule.
    let t = 0;
    assert.deepEqual(h.attempts, [0, ...SCHEDULE_MS.map((w) => (t += w))]);
    assert.ok(log.lines.some((l) => l.includes("cannot connect to 127.0.0.1:9090: refused")));
  } finally {
    peer.stop();
  }
  assert.equal(clock.pending, 0, "stop() leaves no timer behind");
});

Deno.test("Peer waits 1 s again after a link that authenticated drops", async () => {
  const clock = new FakeClock();
  const log = new LogWatch();
  const h = scriptedHost(clock, log);
  const remotes: PipeEnd[] = [];
  h.setBehaviour(refuse);
  const peer = newPeer(h.host);
  try {
    peer.start();
    // Four failures: the schedule is at 8 s when the next attempt succeeds.
    for (const wait of SCHEDULE_MS.slice(0, 4)) {
      await log.next(`next retry in ${wait / 1000}s`);
      assert.equal(clock.nextDelay(), wait);
      if (wait === 8000) h.setBehaviour(succeedInto(remotes));
      clock.advance(wait);
    }
    assert.equal(h.attempts.length, 5);
    await log.next("connecting -> authenticating");
    await log.next("authenticating -> connected");
    assert.equal(peer.state.kind, "connected");
    assert.equal(h.linksUp.length, 1);
    assert.equal(peer.link?.direction, "out");
    assert.equal(clock.nextDelay(), 10_000, "only the heartbeat is pending while connected");

    h.setBehaviour(refuse);
    remotes[0].close(); // the peer goes away
    await log.next("connected -> disconnected");
    await log.next("disconnected -> backoff");
    assert.ok(log.lines.at(-1)?.includes("next retry in 1s"), log.lines.at(-1));
    assert.deepEqual(h.linksDown, ["closed by the remote side"]);
    assert.equal(peer.link, null);
    assert.equal(clock.nextDelay(), 1000, "reset to 1 s after the successful authentication");
    assert.equal(clock.pending, 1, "the heartbeat of the dead link is stopped");

    clock.advance(1000);
    assert.equal(h.attempts.length, 6);
    await log.next("next retry in 2s");
    assert.equal(clock.nextDelay(), 2000, "and doubles again from there");
  } finally {
    peer.stop();
    for (const r of remotes) r.close();
  }
  assert.equal(clock.pending, 0);
});

Deno.test("Peer with reconnect_jitter 0.5 waits within [w, 1.5w] using the injected random", async () => {
  const clock = new FakeClock();
  const log = new LogWatch();
  const h = scriptedHost(clock, log);
  h.setBehaviour(refuse);
  const randoms = [0, 0.5, 0.999, 0.25, 0.6, 0.9, 0.999, 0.1];
  let draws = 0;
  const peer = newPeer(h.host, { jitter: 0.5, random: () => randoms[draws++] });
  try {
    peer.start();
    for (const [k, w] of SCHEDULE_MS.entries()) {
      const expected = Math.round(w * (1 + 0.5 * randoms[k]));
      await log.next(`next retry in ${formatDuration(expected)}`);
      const wait = clock.nextDelay();
      assert.equal(wait, expected, `wait ${k + 1}`);
      assert.ok(wait !== null && wait >= w && wait <= 1.5 * w, `${wait} not in [${w}, ${1.5 * w}]`);
      clock.advance(wait - 1);
      assert.equal(h.attempts.length, k + 1);
      clock.advance(1);
      assert.equal(h.attempts.length, k + 2);
    }
    assert.equal(draws, SCHEDULE_MS.length);
    assert.ok(log.lines.some((l) => l.includes("next retry in 2.5s")));
    assert.ok(log.lines.some((l) => l.includes("next retry in 5.998s")));
  } finally {
    peer.stop();
  }
});

Deno.test("Federation reconnects on the fake clock and resets to 1 s after authenticating", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const clock = new FakeClock();
  const log = new LogWatch();
  const real = tcpTlsDialer({ tls: false, caCerts: null });
  let refusals = 3;
  const dials: number[] = [];
  const dialer: Dialer = (peer, signal) => {
    dials.push(clock.now());
    if (refusals-- > 0) {
      return Promise.reject(
        new TransportError("dial_failed", `cannot connect to ${peer.host}:${peer.port}: refused`),
      );
    }
    return real(peer, signal);
  };
  const factory = new Federation({
    config: {
      node: nodeConfig("factory", { listenPort: null }),
      peers: [peerConfig("hub", { port: hub.port })],
    },
    router: new PathRouter(),
    logger: log.logger,
    clock,
    dialer,
    listen: null,
  });
  try {
    factory.start();
    for (const wait of [1000, 2000, 4000]) {
      await log.next(`next retry in ${wait / 1000}s`);
      assert.equal(clock.nextDelay(), wait);
      clock.advance(wait);
    }
    assert.deepEqual(dials, [0, 1000, 3000, 7000]);
    await within(factory.when(() => factory.peer("hub")?.link != null), "factory ↔ hub");
    await log.next("authenticated");

    await hub.fed.stop(); // the link drops from the far side
    await log.next("next retry in 1s");
    const s = factory.peer("hub")?.state;
    assert.equal(s?.kind, "backoff");
    assert.equal(s?.kind === "backoff" && s.waitMs, 1000);
  } finally {
    await factory.stop();
    await hub.fed.stop();
  }
  assert.equal(clock.pending, 0);
});
