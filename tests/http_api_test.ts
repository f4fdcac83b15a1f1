/** The HTTP API ([mod_http], PATHS.md) and the NodeClient, through real HTTP on 127.0.0.1. */
import assert from "node:assert/strict";
import type { HttpConfig } from "../src/config/types.ts";
import { type HttpApi, HttpApiError, startHttpApi, toRouterPath } from "../src/http/mod.ts";
import { readCapped, TooLargeError } from "../src/util/read.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { fail, ok, type PathRequest, PathRouter } from "../src/paths/mod.ts";
import { ClientError, NodeClient, resolveTarget } from "../src/cli/client.ts";
import type { Config } from "../src/config/types.ts";
import { deadPort } from "./kit/ports.ts";

const MiB = 1024 * 1024;

const DEVICES = [
  { id: "plug-001", kind: "plug", label: "Press line plug", driver: "sim", on: true, online: true },
];

/** The factory's own paths, reached through `/node/factory/...` on the office. */
function factoryRouter(): PathRouter {
  const r = new PathRouter();
  r.on("GET", "/health", () => ok({ status: "ok", node: "factory" }));
  r.on("LIST", "/iot/devices", () => ok(DEVICES));
  r.on(
    "CALL",
    "/iot/devices/:id/:action",
    (req, p) => ok({ id: p.id, action: p.action, args: req.args, node: "factory" }),
  );
  return r;
}

interface Fixture {
  router: PathRouter;
  /** Requests the office router saw, in order. */
  seen: PathRequest[];
  /** Resolves with the signal of the first request to /hang once that signal aborts. */
  hangAborted: Promise<string>;
  /** Resolves when /hang has been entered. */
  hangEntered: Promise<void>;
}

/** An office node: local paths plus a `/node/:peer/*rest` handler forwarding like the federation. */
function officeRouter(): Fixture {
  const router = new PathRouter();
  const seen: PathRequest[] = [];
  const factory = factoryRouter();
  const entered = Promise.withResolvers<void>();
  const aborted = Promise.withResolvers<string>();
  const record = (req: PathRequest) => seen.push(req);
  router.on("GET", "/health", (req) => {
    record(req);
    return ok({ status: "ok", node: "office" });
  });
  router.on("GET", "/", () => ok({ root: true }));
  router.on("LIST", "/iot/devices", (req) => {
    record(req);
    return ok(DEVICES);
  });
  router.on("GET", "/iot/devices/:id", (req, p) => {
    record(req);
    const d = DEVICES.find((x) => x.id === p.id);
    return d ? ok(d) : fail(404, `no such device: '${p.id}'`);
  });
  router.on("CALL", "/iot/devices/:id/:action", (req, p) => {
    record(req);
    return ok({ id: p.id, action: p.action, args: req.args });
  });
  router.on("GET", "/hang", (req) => {
    entered.resolve();
    return new Promise((resolve) => {
      req.signal!.addEventListener("abort", () => {
        aborted.resolve(String(req.signal!.reason));
        resolve(fail(504, "gave up"));
      }, { once: true });
    });
  });
  for (const method of ["GET", "LIST", "CALL"] as const) {
    router.on(method, "/node/:peer/*rest", (req, p) => {
      record(req);
      if (p.peer === "factory") return factory.handle({ ...req, path: p.rest, origin: "office" });
      if (p.peer === "down") return fail(502, "node 'down' is unreachable: no connection is open");
      if (p.peer === "slow") return fail(504, "node 'slow' did not answer within 10s");
      return fail(404, `unknown node '${p.peer}'`);
    });
  }
  return { router, seen, hangAborted: aborted.promise, hangEntered: entered.promise };
}

async function withApi(
  http: Partial<HttpConfig>,
  fn: (base: string, fx: Fixture, logs: string[], api: HttpApi) => Promise<void>,
): Promise<void> {
  const fx = officeRouter();
  const logger = memoryLogger();
  const api = await startHttpApi({
    config: {
      listen: { hostname: "127.0.0.1", port: 0 },
      token: null,
      readToken: null,
      allowedHosts: null,
      ...http,
    },
    router: fx.router,
    logger,
  });
  try {
    await fn(`http://127.0.0.1:${api.addr.port}`, fx, logger.lines, api);
  } finally {
    await api.shutdown();
  }
}

// deno-lint-ignore no-explicit-any -- answers of many shapes, each checked by assertions
type Json = any;

async function send(
  url: string,
  init?: RequestInit,
): Promise<{ status: number; json: Json; headers: Headers }> {
  const res = await fetch(url, init);
  const text = await res.text();
  assert.match(res.headers.get("content-type") ?? "", /^application\/json/);
  return { status: res.status, json: JSON.parse(text), headers: res.headers };
}

Deno.test("GET /api/<path> is GET /<path>", async () => {
  await withApi({}, async (base, fx) => {
    const r = await send(`${base}/api/health`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { status: "ok", node: "office" });
    assert.equal(fx.seen[0].method, "GET");
    assert.equal(fx.seen[0].path, "/health");
    assert.equal(fx.seen[0].origin, null);
    assert.deepEqual(fx.seen[0].args, {});
  });
});

Deno.test("GET /api/<path>?k=v is GET /<path> with args {k: 'v'}", async () => {
  await withApi({}, async (base, fx) => {
    const r = await send(`${base}/api/iot/devices/plug-001?limit=5&name=a%20b`);
    assert.equal(r.status, 200);
    assert.deepEqual(fx.seen[0].args, { limit: "5", name: "a b" });
  });
});

Deno.test("GET /api/<path>?list is LIST /<path>", async () => {
  await withApi({}, async (base, fx) => {
    const r = await send(`${base}/api/iot/devices?list`);
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, DEVICES);
    assert.equal(fx.seen[0].method, "LIST");
    assert.equal(fx.seen[0].path, "/iot/devices");
  });
});

Deno.test("POST /api/<path> is CALL with the JSON object as args; no body is {}", async () => {
  await withApi({}, async (base, fx) => {
    const r = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      body: JSON.stringify({ level: 3, note: "x" }),
    });
    assert.equal(r.status, 200);
    assert.deepEqual(r.json, { id: "plug-001", action: "on", args: { level: 3, note: "x" } });
    assert.equal(fx.seen[0].method, "CALL");
    const empty = await send(`${base}/api/iot/devices/plug-001/off`, { method: "POST" });
    assert.equal(empty.status, 200);
    assert.deepEqual(empty.json.args, {});
  });
});

Deno.test("/api alone is the path /", async () => {
  await withApi({}, async (base) => {
    assert.deepEqual((await send(`${base}/api`)).json, { root: true });
    const list = await send(`${base}/api?list`);
    assert.equal(list.status, 200);
    assert.deepEqual(list.json, ["hang", "health", "iot", "node"]);
    assert.deepEqual((await send(`${base}/api/?list`)).json, list.json);
  });
});

Deno.test("a routed path /api/node/<peer>/... answers the peer's path", async () => {
  await withApi({}, async (base, fx) => {
    const health = await send(`${base}/api/node/factory/health`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: "ok", node: "factory" });
    assert.equal(fx.seen[0].path, "/node/factory/health");
    const list = await send(`${base}/api/node/factory/iot/devices?list`);
    assert.deepEqual(list.json, DEVICES);
    const call = await send(`${base}/api/node/factory/iot/devices/plug-001/toggle`, {
      method: "POST",
      body: "{}",
    });
    assert.deepEqual(call.json, { id: "plug-001", action: "toggle", args: {}, node: "factory" });
  });
});

Deno.test("404, 502 and 504 carry the error sentence as {error}", async () => {
  await withApi({}, async (base) => {
    const missing = await send(`${base}/api/nope`);
    assert.equal(missing.status, 404);
    assert.deepEqual(missing.json, { error: "no such path: /nope" });
    const unknown = await send(`${base}/api/node/mars/health`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.error, "unknown node 'mars'");
    const down = await send(`${base}/api/node/down/health`);
    assert.equal(down.status, 502);
    assert.match(down.json.error, /unreachable/);
    const slow = await send(`${base}/api/node/slow/health`);
    assert.equal(slow.status, 504);
    assert.match(slow.json.error, /did not answer/);
    const device = await send(`${base}/api/iot/devices/plug-404`);
    assert.equal(device.status, 404);
    assert.deepEqual(Object.keys(device.json), ["error"]);
  });
});

Deno.test("paths outside /api answer 404 JSON", async () => {
  await withApi({}, async (base) => {
    for (const p of ["/", "/health", "/apix", "/favicon.ico"]) {
      const r = await send(base + p);
      assert.equal(r.status, 404, p);
      assert.match(r.json.error, /no such endpoint/);
    }
  });
});

Deno.test("path segments are URL-decoded; an encoded '/' stays inside its segment", async () => {
  await withApi({}, async (base, fx) => {
    const r = await send(`${base}/api/%69ot/devices/plug%2D001`);
    assert.equal(r.status, 200);
    assert.equal(r.json.id, "plug-001");
    const slash = await send(`${base}/api/iot/devices/a%2Fb`);
    assert.equal(slash.status, 404);
    assert.equal(slash.json.error, "no such device: 'a/b'");
    assert.equal(fx.seen.length, 2);
    const bad = await send(`${base}/api/iot/devices/%E0%A4%A`);
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /percent-encoding/);
  });
  assert.equal(toRouterPath("/api//iot//devices/"), "/iot/devices");
  assert.equal(toRouterPath("/api"), "/");
  assert.equal(toRouterPath("/apis"), null);
  assert.equal(toRouterPath("/api/a%20b"), "/a%20b");
});

Deno.test("a token, when set, is required: missing and wrong get 401, right passes", async () => {
  await withApi({ token: "s3cret token" }, async (base, fx, logs) => {
    const missing = await send(`${base}/api/iot/devices/plug-001`);
    assert.equal(missing.status, 401);
    assert.match(missing.json.error, /needs a token/);
    assert.match(missing.headers.get("www-authenticate") ?? "", /^Bearer/);
    const wrong = await send(`${base}/api/health`, {
      headers: { authorization: "Bearer s3cret" },
    });
    assert.equal(wrong.status, 401);
    assert.match(wrong.json.error, /wrong token/);
    assert.match(wrong.headers.get("www-authenticate") ?? "", /^Bearer .*invalid_token/);
    const otherScheme = await send(`${base}/api/iot/devices/plug-001`, {
      headers: { authorization: "Basic czNjcmV0IHRva2Vu" },
    });
    assert.equal(otherScheme.status, 401);
    // Rejected before the router: nothing reached it.
    assert.equal(fx.seen.length, 0);
    const right = await send(`${base}/api/health`, {
      headers: { authorization: "Bearer s3cret token" },
    });
    assert.equal(right.status, 200);
    assert.deepEqual(right.json, { status: "ok", node: "office" });
    const refusals = logs.filter((l) => l.includes("refused"));
    assert.equal(refusals.length, 3);
    assert.match(refusals[0], /remote=127\.0\.0\.1:\d+/);
    assert.ok(!logs.some((l) => l.includes("s3cret")), "the token never appears in logs");
  });
});

Deno.test("methods other than GET, HEAD and POST get 405 with Allow", async () => {
  await withApi({}, async (base) => {
    for (const method of ["PUT", "DELETE", "PATCH", "OPTIONS"]) {
      const r = await send(`${base}/api/health`, { method });
      assert.equal(r.status, 405);
      assert.equal(r.headers.get("allow"), "GET, HEAD, POST");
      assert.match(r.json.error, new RegExp(method));
    }
  });
});

Deno.test("a body over 1 MiB gets 413, by Content-Length and while reading a chunked body", async () => {
  await withApi({}, async (base, fx) => {
    const big = new Uint8Array(MiB + 1).fill(0x20);
    const declared = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      body: big,
    });
    assert.equal(declared.status, 413);
    assert.match(declared.json.error, /larger/);

    // No Content-Length: the bound is enforced while reading.
    const chunk = new Uint8Array(64 * 1024).fill(0x20);
    let chunks = 0;
    const chunked = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (chunks++ === 32) return controller.close();
        controller.enqueue(chunk);
      },
    });
    const streamed = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      body: chunked,
    });
    assert.equal(streamed.status, 413);

    // Exactly 1 MiB of JSON is fine.
    const pad = "x".repeat(MiB - '{"p":""}'.length);
    const edge = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      body: `{"p":"${pad}"}`,
    });
    assert.equal(edge.status, 200);
    assert.equal(fx.seen.length, 1);
  });
});

Deno.test("readCapped() stops pulling and cancels the stream once past the bound", async () => {
  let pulled = 0;
  let cancelled = false;
  const chunk = new Uint8Array(64 * 1024);
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      // A guard only: the reader must stop long before.
      if (pulled++ === 1000) return controller.close();
      controller.enqueue(chunk);
    },
    cancel() {
      cancelled = true;
    },
  });
  await assert.rejects(
    readCapped(endless, MiB),
    (e: unknown) => e instanceof TooLargeError && e.limit === MiB,
  );
  assert.ok(cancelled);
  assert.ok(pulled <= 18, `pulled ${pulled} chunks of 64 KiB for a 1 MiB bound`);
  const small = new Blob(["ab", "cd"]).stream();
  assert.equal(new TextDecoder().decode(await readCapped(small, 4)), "abcd");
  assert.equal((await readCapped(null, 4)).length, 0);
});

Deno.test("invalid JSON gets 400 with the parse error; a non-object body gets 400", async () => {
  await withApi({}, async (base, fx) => {
    const bad = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      body: '{"level": 3,',
    });
    assert.equal(bad.status, 400);
    assert.match(bad.json.error, /^invalid JSON body: .+/);
    let parseMessage = "";
    try {
      JSON.parse('{"level": 3,');
    } catch (e) {
      parseMessage = (e as Error).message;
    }
    assert.ok(bad.json.error.includes(parseMessage));
    for (const [body, kind] of [["[1,2]", "an array"], ["null", "null"], ["7", "number"]]) {
      const r = await send(`${base}/api/iot/devices/plug-001/on`, { method: "POST", body });
      assert.equal(r.status, 400);
      assert.match(r.json.error, new RegExp(`must be an object of arguments, not ${kind}`));
    }
    assert.equal(fx.seen.length, 0);
  });
});

Deno.test("unknown query parameters, ?list on POST and Origin headers are refused", async () => {
  await withApi({}, async (base, fx) => {
    const typo = await send(`${base}/api/iot/devices?lst`);
    assert.equal(typo.status, 400);
    assert.match(typo.json.error, /unknown query parameter 'lst'/);
    const postList = await send(`${base}/api/iot/devices?list`, { method: "POST" });
    assert.equal(postList.status, 400);
    const twice = await send(`${base}/api/node/audit?limit=1&limit=2`);
    assert.match(twice.json.error, /'limit' is given twice/);
    const postQuery = await send(`${base}/api/iot/devices/plug-001/on?x=1`, { method: "POST" });
    assert.match(postQuery.json.error, /JSON object in the body/);
    const page = await send(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      headers: { origin: "http://evil.example" },
    });
    assert.equal(page.status, 403);
    assert.equal(fx.seen.length, 0);
  });
});

Deno.test("the router request carries a signal that aborts when the client leaves", async () => {
  await withApi({}, async (base, fx) => {
    const client = new AbortController();
    const pending = fetch(`${base}/api/hang`, { signal: client.signal }).catch((e) => e);
    await fx.hangEntered;
    client.abort();
    assert.equal((await pending).name, "AbortError");
    assert.ok(await fx.hangAborted);
  });
});

Deno.test("shutdown() aborts requests in flight and resolves", async () => {
  const fx = officeRouter();
  const api = await startHttpApi({
    config: {
      listen: { hostname: "127.0.0.1", port: 0 },
      token: null,
      readToken: null,
      allowedHosts: null,
    },
    router: fx.router,
    logger: memoryLogger(),
  });
  const pending = send(`http://127.0.0.1:${api.addr.port}/api/hang`);
  await fx.hangEntered;
  await api.shutdown();
  assert.match(await fx.hangAborted, /shutting down/);
  assert.equal((await pending).status, 504);
  await api.shutdown(); // idempotent
});

Deno.test("startHttpApi refuses listen = off, and says when the address is taken", async () => {
  const router = new PathRouter();
  await assert.rejects(
    startHttpApi({
      config: { listen: null, token: null, readToken: null, allowedHosts: null },
      router,
      logger: memoryLogger(),
    }),
    (e: unknown) =>
      e instanceof HttpApiError && e.code === "listen_off" && /listen = off/.test(e.message),
  );
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    await assert.rejects(
      startHttpApi({
        config: {
          listen: { hostname: "127.0.0.1", port },
          token: null,
          readToken: null,
          allowedHosts: null,
        },
        router,
        logger: memoryLogger(),
      }),
      (e: unknown) =>
        e instanceof HttpApiError && e.code === "listen_failed" &&
        e.message === `cannot listen for the HTTP API on 127.0.0.1:${port}: ` +
            "the address is already in use (check [mod_http] listen)",
    );
  } finally {
    taken.close();
  }
});

Deno.test("NodeClient get, list and call map to the API and back", async () => {
  await withApi({ token: "t0k" }, async (base) => {
    const client = new NodeClient({ url: base + "/api/", token: "t0k" });
    assert.equal(client.url, base);
    assert.deepEqual(await client.get("/health"), {
      status: 200,
      body: { status: "ok", node: "office" },
    });
    assert.deepEqual(await client.list("/node/factory/iot/devices"), {
      status: 200,
      body: DEVICES,
    });
    const called = await client.call("/iot/devices/plug-001/on", { level: 2 });
    assert.deepEqual(called.body, { id: "plug-001", action: "on", args: { level: 2 } });
    assert.deepEqual(await client.get("/nope"), { status: 404, error: "no such path: /nope" });
    const root = await client.list("/");
    assert.deepEqual(root.body, ["hang", "health", "iot", "node"]);
    const noToken = new NodeClient({ url: base });
    const refused = await noToken.get("/iot/devices");
    assert.equal(refused.status, 401);
    assert.match(refused.error ?? "", /needs a token/);
  });
});

Deno.test("NodeClient: a closed port gives the 'cannot reach' sentence", async () => {
  const port = deadPort();
  const client = new NodeClient({ url: `http://127.0.0.1:${port}` });
  await assert.rejects(client.get("/health"), (e: unknown) => {
    assert.ok(e instanceof ClientError);
    assert.equal(e.code, "unreachable");
    assert.equal(
      e.message,
      `cannot reach the node at http://127.0.0.1:${port}: connection refused — ` +
        "is portal running? check [mod_http] listen",
    );
    return true;
  });
});

Deno.test("NodeClient: a server that is not Portal, and one that does not answer in time", async () => {
  const entered = Promise.withResolvers<void>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === "/api/slow") {
      entered.resolve();
      return new Promise<Response>((resolve) =>
        req.signal.addEventListener("abort", () => resolve(new Response("late")), { once: true })
      );
    }
    return new Response("<html>hello</html>", { headers: { "content-type": "text/html" } });
  });
  try {
    const base = `http://127.0.0.1:${server.addr.port}`;
    const client = new NodeClient({ url: base, timeoutMs: 200 });
    await assert.rejects(
      client.get("/health"),
      (e: unknown) =>
        e instanceof ClientError && e.code === "bad_response" &&
        e.message.includes("answered 200 with text/html"),
    );
    await assert.rejects(
      client.get("/slow"),
      (e: unknown) =>
        e instanceof ClientError && e.code === "timeout" &&
        e.message === `the node at ${base} did not answer within 0.2 s`,
    );
    await entered.promise;
  } finally {
    await server.shutdown();
  }
});

Deno.test("resolveTarget: --url, --config's [mod_http], the default, and mistakes", async () => {
  const config = (http: HttpConfig) =>
    ({
      file: "/etc/portal/node.ini",
      node: { name: "office", requestTimeoutMs: 40_000 },
      iot: null,
      http,
    }) as unknown as Config;
  const deps = (http: HttpConfig | Error, env: Record<string, string> = {}) => ({
    loadConfig: (_path: string) =>
      http instanceof Error ? Promise.reject(http) : Promise.resolve(config(http)),
    env: (name: string) => env[name],
  });
  const listen = { hostname: "0.0.0.0", port: 8081 };
  assert.deepEqual(
    await resolveTarget(
      { config: "node.ini" },
      deps({ listen, token: "x", readToken: null, allowedHosts: null }),
    ),
    {
      url: "http://127.0.0.1:8081",
      token: "x",
      // 5 s above the config's request_timeout (tests/shell_unit_test.ts has the rest).
      timeoutMs: 45_000,
    },
  );
  assert.deepEqual(
    await resolveTarget(
      { config: "n.ini", token: "y" },
      deps({
        listen: { hostname: "::", port: 1 },
        token: "x",
        readToken: null,
        allowedHosts: null,
      }),
    ),
    { url: "http://[::1]:1", token: "y", timeoutMs: 45_000 },
  );
  assert.deepEqual(await resolveTarget({}, deps(new Error("unused"), { PORTAL_TOKEN: "env" })), {
    url: "http://127.0.0.1:8080",
    token: "env",
    timeoutMs: 15_000,
  });
  assert.deepEqual(await resolveTarget({ url: "http://h:9/api/" }, deps(new Error("unused"))), {
    url: "http://h:9",
    token: null,
    timeoutMs: 15_000,
  });
  const rejectsWith = (p: Promise<unknown>, re: RegExp) =>
    assert.rejects(
      p,
      (e: unknown) => e instanceof ClientError && e.code === "bad_target" && re.test(e.message),
    );
  await rejectsWith(
    resolveTarget(
      { config: "n.ini" },
      deps({ listen: null, token: null, readToken: null, allowedHosts: null }),
    ),
    /listen = off in \/etc\/portal\/node\.ini/,
  );
  await rejectsWith(
    resolveTarget({ config: "n.ini" }, deps(new Error("n.ini:3: unknown key 'x'"))),
    /^n\.ini:3: unknown key 'x'$/,
  );
  await rejectsWith(resolveTarget({ url: "ftp://h" }, deps(new Error("unused"))), /not an http/);
  await rejectsWith(
    resolveTarget({ url: "h:8080x" }, deps(new Error("unused"))),
    /not an http|not a URL/,
  );
  await rejectsWith(
    resolveTarget({ url: "http://h", config: "n.ini" }, deps(new Error("unused"))),
    /not both/,
  );
});

Deno.test("readCapped() gives TooLargeError even when cancelling the stream fails", async () => {
  let pulls = 0;
  const stubborn = new ReadableStream<Uint8Array>({
    pull(c) {
      pulls++;
      c.enqueue(new Uint8Array(1024));
    },
    cancel() {
      throw new Error("cannot cancel");
    },
  });
  await assert.rejects(() => readCapped(stubborn, 4096), TooLargeError);
  assert.ok(pulls <= 6, `stopped pulling (${pulls} pulls)`);
});

Deno.test("HttpApi.drain() lets a request in flight finish, refuses new connections, then stops", async () => {
  const router = new PathRouter();
  const release = Promise.withResolvers<void>();
  const entered = Promise.withResolvers<void>();
  router.on("GET", "/slow", async (req) => {
    entered.resolve();
    await release.promise;
    return ok({ aborted: req.signal?.aborted ?? false });
  });
  const config: HttpConfig = {
    listen: { hostname: "127.0.0.1", port: 0 },
    token: null,
    readToken: null,
    allowedHosts: null,
  };
  const api = await startHttpApi({ config, router, logger: memoryLogger() });
  const base = `http://127.0.0.1:${api.addr.port}/api`;
  const slow = fetch(`${base}/slow`);
  await entered.promise;
  const drained = api.drain(5_000);
  // The listener is closed at once: a newcomer cannot connect.
  await assert.rejects(fetch(`${base}/slow`, { signal: AbortSignal.timeout(2_000) }));
  release.resolve();
  const res = await slow;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { aborted: false });
  assert.equal(res.headers.get("connection"), "close");
  await drained;
  assert.equal(api.connections, 0);
});

Deno.test("HttpApi.reconfigure() swaps tokens for the next request and names a new listen address", async () => {
  const router = new PathRouter();
  router.on("GET", "/health", () => ok({ status: "ok" }));
  const config: HttpConfig = {
    listen: { hostname: "127.0.0.1", port: 0 },
    token: "one",
    readToken: null,
    allowedHosts: null,
  };
  const api = await startHttpApi({ config, router, logger: memoryLogger() });
  try {
    const status = async (token: string) => {
      const r = await fetch(`http://127.0.0.1:${api.addr.port}/api/health`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await r.body?.cancel();
      return r.status;
    };
    assert.equal(await status("one"), 200);
    assert.deepEqual(api.reconfigure({ ...config, token: "two", readToken: "r" }), []);
    assert.equal(await status("one"), 401);
    assert.equal(await status("two"), 200);
    assert.equal(await status("r"), 200);
    const moved = { ...config, listen: { hostname: "127.0.0.1", port: 1 } };
    assert.deepEqual(api.reconfigure(moved), ["listen"]);
  } finally {
    await api.shutdown();
  }
});
