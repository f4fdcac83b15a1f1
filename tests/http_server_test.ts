/**
 * The API's HTTP/1.1 server on real sockets: deadlines for heads, idle and bodies, keep-alive,
 * HEAD, bounded and fair connections, streaming; and the API's rules on top (Host, health,
 * read_token).
 */
import assert from "node:assert/strict";
import net from "node:net";
import type { HttpConfig } from "../src/config/types.ts";
import { type HttpApi, startHttpApi } from "../src/http/mod.ts";
import { serveHttp } from "../src/http/listen.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { ok, type PathRequest, PathRouter } from "../src/paths/mod.ts";
import { systemClock } from "../src/util/clock.ts";
import { within } from "./kit/mod.ts";

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw keep-alive HTTP client reading responses by Content-Length. */
class Raw {
  #buf = new Uint8Array(0);
  private constructor(readonly conn: Deno.TcpConn) {}

  static async open(port: number): Promise<Raw> {
    return new Raw(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  async send(text: string): Promise<void> {
    await this.conn.write(enc.encode(text));
  }

  /** More bytes, or false at EOF. */
  async #more(): Promise<boolean> {
    const chunk = new Uint8Array(65536);
    const n = await this.conn.read(chunk).catch(() => null);
    if (n === null) return false;
    const next = new Uint8Array(this.#buf.length + n);
    next.set(this.#buf);
    next.set(chunk.subarray(0, n), this.#buf.length);
    this.#buf = next;
    return true;
  }

  /** The next response (head text and body text); `head: true` for a HEAD request's answer. */
  async response(opts: { head?: boolean } = {}): Promise<{ head: string; body: string }> {
    for (;;) {
      const text = dec.decode(this.#buf);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const head = text.slice(0, end);
        const m = /content-length: (\d+)/i.exec(head);
        const len = opts.head || !m ? 0 : Number(m[1]);
        if (this.#buf.length >= end + 4 + len) {
          const body = dec.decode(this.#buf.subarray(end + 4, end + 4 + len));
          this.#buf = this.#buf.slice(end + 4 + len);
          return { head, body };
        }
      }
      if (!(await this.#more())) throw new Error(`connection closed; got: ${text}`);
    }
  }

  /** Everything until the server closes. */
  async rest(): Promise<string> {
    while (await this.#more());
    return dec.decode(this.#buf);
  }

  close(): void {
    try {
      this.conn.close();
    } catch {
      // closed
    }
  }
}

function router(seen: PathRequest[] = []): PathRouter {
  const r = new PathRouter();
  r.on("GET", "/health", (req) => {
    seen.push(req);
    return ok({ status: "ok", node: "office", version: "1", uptime_s: 3 });
  });
  r.on("LIST", "/iot/devices", (req) => {
    seen.push(req);
    return ok(["plug-001"]);
  });
  r.on("GET", "/greeting", () => ok({ text: "Grüße aus der Fabrik 🏭, ça va? ✓" }));
  r.on("CALL", "/iot/devices/:id/on", (req, p) => {
    seen.push(req);
    return ok({ id: p.id, on: true });
  });
  return r;
}

async function withApi(
  http: Partial<HttpConfig>,
  fn: (port: number, seen: PathRequest[], logs: string[], api: HttpApi) => Promise<void>,
  timeouts: { headerTimeoutMs?: number; idleTimeoutMs?: number; maxConnections?: number } = {},
): Promise<void> {
  const seen: PathRequest[] = [];
  const logger = memoryLogger();
  const api = await startHttpApi({
    config: {
      listen: { hostname: "127.0.0.1", port: 0 },
      token: null,
      readToken: null,
      allowedHosts: null,
      ...http,
    },
    router: router(seen),
    logger,
    ...timeouts,
  });
  try {
    await fn(api.addr.port, seen, logger.lines, api);
  } finally {
    await api.shutdown();
  }
}

const get = (path: string, host = "127.0.0.1", extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: ${host}\r\n${extra}\r\n`;

Deno.test("the server closes idle and half-sent connections at the header timeout", async () => {
  await withApi({}, async (port, _seen, _logs, api) => {
    const idle = await Raw.open(port);
    const half = await Raw.open(port);
    await half.send("GET /api/health HTTP/1.1\r\nHost: loc");
    const started = performance.now();
    const [idleText, halfText] = await within(
      Promise.all([idle.rest(), half.rest()]),
      "both connections to be closed",
      3000,
    );
    const took = performance.now() - started;
    assert.equal(idleText, "", "a silent connection is closed without a word");
    assert.match(halfText, /^HTTP\/1\.1 408 /);
    assert.ok(took >= 250 && took < 1500, `closed after ${took} ms`);
    idle.close();
    half.close();
    assert.equal(api.connections, 0);
  }, { headerTimeoutMs: 300 });
});

Deno.test("keep-alive serves several requests on one connection, then closes it when idle", async () => {
  await withApi({}, async (port) => {
    const c = await Raw.open(port);
    for (let i = 0; i < 3; i++) {
      await c.send(get("/api/health"));
      const r = await c.response();
      assert.match(r.head, /^HTTP\/1\.1 200 OK/);
      assert.equal(JSON.parse(r.body).node, "office");
    }
    // Two requests in one write (pipelining) are answered in order.
    await c.send(get("/api/health") + get("/api/iot/devices?list"));
    assert.equal(JSON.parse((await c.response()).body).status, "ok");
    assert.deepEqual(JSON.parse((await c.response()).body), ["plug-001"]);
    const started = performance.now();
    assert.equal(await within(c.rest(), "the idle close", 3000), "");
    assert.ok(performance.now() - started >= 150);
    c.close();
  }, { idleTimeoutMs: 200, headerTimeoutMs: 2000 });
});

Deno.test("Content-Length counts UTF-8 bytes of a non-ASCII answer", async () => {
  await withApi({}, async (port) => {
    const c = await Raw.open(port);
    await c.send(get("/api/greeting"));
    const r = await c.response();
    assert.equal(JSON.parse(r.body).text, "Grüße aus der Fabrik 🏭, ça va? ✓");
    // The next answer on the same connection parses: the length was exact.
    await c.send(get("/api/health"));
    assert.equal(JSON.parse((await c.response()).body).status, "ok");
    c.close();
  });
});

Deno.test("HEAD answers GET's status and headers without a body, wherever GET works", async () => {
  await withApi({}, async (port) => {
    const c = await Raw.open(port);
    await c.send(`HEAD /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    const head = await c.response({ head: true });
    assert.match(head.head, /^HTTP\/1\.1 200 /);
    const length = Number(/content-length: (\d+)/.exec(head.head)![1]);
    await c.send(get("/api/health"));
    const body = await c.response();
    assert.equal(enc.encode(body.body).length, length);
    await c.send(`HEAD /api/iot/devices?list HTTP/1.1\r\nHost: localhost\r\n\r\n`);
    assert.match((await c.response({ head: true })).head, /^HTTP\/1\.1 200 /);
    c.close();
  });
});

Deno.test("without a token a foreign Host is refused; loopback names, the listen address and allowed_hosts pass", async () => {
  await withApi({}, async (port) => {
    for (const host of ["localhost", `localhost:${port}`, "127.0.0.1", "[::1]:8080"]) {
      const r = await fetchRaw(port, get("/api/iot/devices?list", host));
      assert.match(r, /^HTTP\/1\.1 200 /, host);
    }
    const evil = await fetchRaw(port, get("/api/iot/devices?list", "evil.example"));
    assert.match(evil, /^HTTP\/1\.1 403 /);
    assert.match(evil, /Host 'evil\.example' is not one this API answers without a token/);
    // Health checks still get the status, and only that.
    const health = await fetchRaw(port, get("/api/health", "evil.example"));
    assert.match(health, /^HTTP\/1\.1 200 /);
    assert.ok(health.endsWith('{"status":"ok"}\n'), health);
  });
  await withApi({ allowedHosts: ["portal-office"] }, async (port) => {
    assert.match(await fetchRaw(port, get("/api/iot/devices?list", "portal-office:8080")), / 200 /);
    assert.match(await fetchRaw(port, get("/api/iot/devices?list", "localhost")), / 403 /);
  });
});

Deno.test("with a token, /api/health answers a health check without one: the status alone", async () => {
  await withApi({ token: "full-token" }, async (port, seen) => {
    const r = await fetchRaw(port, get("/api/health"));
    assert.match(r, /^HTTP\/1\.1 200 /);
    assert.ok(r.endsWith('{"status":"ok"}\n'), r);
    assert.match(await fetchRaw(port, `HEAD /api/health HTTP/1.1\r\nHost: x\r\n\r\n`), / 200 /);
    assert.match(await fetchRaw(port, get("/api/health?list")), / 401 /);
    assert.match(await fetchRaw(port, get("/api/node/factory/health")), / 401 /);
    const full = await fetchRaw(
      port,
      get("/api/health", "x", "Authorization: Bearer full-token\r\n"),
    );
    assert.match(full, /"node":"office"/);
    assert.equal(seen.at(-1)?.role, "full");
  });
});

Deno.test("read_token may GET and LIST; a CALL with it gets 403; token keeps full access", async () => {
  await withApi({ token: "full-token", readToken: "look-only" }, async (port, seen) => {
    const auth = (t: string) => `Authorization: Bearer ${t}\r\n`;
    assert.match(await fetchRaw(port, get("/api/health", "x", auth("look-only"))), / 200 /);
    assert.equal(seen.at(-1)?.role, "read");
    assert.match(
      await fetchRaw(port, get("/api/iot/devices?list", "x", auth("look-only"))),
      / 200 /,
    );
    const post = (t: string) =>
      `POST /api/iot/devices/plug-001/on HTTP/1.1\r\nHost: x\r\n${
        auth(t)
      }Content-Length: 0\r\n\r\n`;
    const refused = await fetchRaw(port, post("look-only"));
    assert.match(refused, /^HTTP\/1\.1 403 /);
    assert.match(refused, /read-only token \(read_token\) may GET and LIST/);
    const calls = seen.filter((r) => r.method === "CALL").length;
    assert.equal(calls, 0);
    assert.match(await fetchRaw(port, post("full-token")), / 200 /);
    assert.equal(seen.at(-1)?.role, "full");
  });
  await withApi({}, async (port, seen) => {
    await fetchRaw(port, get("/api/health"));
    assert.equal(seen.at(-1)?.role, "full", "no token configured: full access");
  });
});

Deno.test("malformed and ambiguous requests are refused and the connection closed", async () => {
  await withApi({}, async (port) => {
    const cases: [string, RegExp][] = [
      [
        "POST /api/x HTTP/1.1\r\nHost: localhost\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        / 400 /,
      ],
      ["GET /api/health HTTP/1.1\r\nHost: localhost\r\nHost: other\r\n\r\n", / 400 /],
      ["GET /api/health HTTP/1.1\r\n\r\n", / 400 /],
      ["GET /api/health HTTP/2.0\r\nHost: localhost\r\n\r\n", / 505 /],
      ["GET /api/health HTTP/1.1\r\nHost: localhost\r\n folded\r\n\r\n", / 400 /],
      [
        "GET /api/health HTTP/1.1\r\nHost: localhost\r\nX: " + "y".repeat(20_000) + "\r\n\r\n",
        / 431 /,
      ],
      ["GET /api/health HTTP/1.1\r\nHost: localhost\r\nExpect: magic\r\n\r\n", / 417 /],
      ["BREW /api/health HTTP/1.1\r\nHost: localhost\r\n\r\n", / 405 /],
    ];
    for (const [request, status] of cases) {
      assert.match(await fetchRaw(port, request), status, request.slice(0, 60));
    }
  });
});

Deno.test("a chunked body and Expect: 100-continue are read when the handler asks", async () => {
  await withApi({}, async (port, seen) => {
    const c = await Raw.open(port);
    await c.send(
      "POST /api/iot/devices/plug-001/on HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n" +
        '5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n',
    );
    assert.match((await c.response()).head, / 200 /);
    assert.deepEqual(seen.at(-1)?.args, { a: 1 });
    await c.send(
      "POST /api/iot/devices/plug-001/on HTTP/1.1\r\nHost: localhost\r\nExpect: 100-continue\r\n" +
        "Content-Length: 7\r\n\r\n",
    );
    assert.match((await c.response()).head, /^HTTP\/1\.1 100 Continue/);
    await c.send('{"b":2}');
    assert.match((await c.response()).head, / 200 /);
    assert.deepEqual(seen.at(-1)?.args, { b: 2 });
    c.close();
  });
});

Deno.test("a flood of silent connections from one address never locks out another", async () => {
  await withApi({}, async (port, _seen, logs) => {
    const flood: net.Socket[] = [];
    try {
      for (let i = 0; i < 40; i++) {
        flood.push(await netConnect(port, "127.0.0.2"));
      }
      // The flood's address holds at most its bound; the rest were refused at once.
      const r = await fetchRaw(port, get("/api/health"));
      assert.match(r, /^HTTP\/1\.1 200 /);
      await within(
        (async () => {
          while (!logs.some((l) => l.includes("HTTP connection refused"))) {
            await new Promise((res) => setTimeout(res, 10));
          }
        })(),
        "a refusal to be logged",
        3000,
      );
    } finally {
      for (const s of flood) s.destroy();
    }
  }, { maxConnections: 16 });
});

Deno.test("serveHttp() streams a reply chunked and cancels the stream when the client leaves", async () => {
  let cancelled = Promise.withResolvers<void>();
  let tick: ReturnType<typeof setInterval> | undefined;
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    clock: systemClock,
    handler: () => {
      cancelled = Promise.withResolvers<void>();
      let n = 0;
      const body = new ReadableStream<Uint8Array>({
        start(controller) {
          tick = setInterval(() => controller.enqueue(enc.encode(`data: ${n++}\n\n`)), 5);
        },
        cancel() {
          clearInterval(tick);
          cancelled.resolve();
        },
      });
      return { status: 200, headers: { "content-type": "text/event-stream" }, body };
    },
  });
  try {
    const c = await Raw.open(server.addr.port);
    await c.send(get("/events"));
    const buf = new Uint8Array(4096);
    let text = "";
    while (!text.includes("data: 2")) {
      const n = await c.conn.read(buf);
      if (n === null) break;
      text += dec.decode(buf.subarray(0, n));
    }
    assert.match(text, /transfer-encoding: chunked/);
    assert.match(text, /\r\n[0-9a-f]+\r\ndata: 0\n\n\r\n/);
    c.close();
    await within(cancelled.promise, "the stream to be cancelled", 3000);
  } finally {
    clearInterval(tick);
    await server.shutdown();
  }
});

/** One request on a fresh connection; everything the server sends until it closes (or 2 s). */
async function fetchRaw(port: number, request: string): Promise<string> {
  const c = await Raw.open(port);
  try {
    await c.send(
      request.includes("Connection:") ? request : request.replace(
        /\r\n\r\n/,
        "\r\nConnection: close\r\n\r\n",
      ),
    );
    return await within(c.rest(), "the answer", 2000);
  } finally {
    c.close();
  }
}

function netConnect(port: number, localAddress: string): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host: "127.0.0.1", port, localAddress }, () => resolve(s));
    s.on("error", () => {});
    s.once("error", reject);
  });
}
