/**
 * What the HTTP listener serves besides /api/<path>: the SSE streams (bounded, stopped when the
 * client goes), /metrics behind the token, the dashboard's files without one, the cross-site
 * rule, and the shell's `watch` reading a stream.
 */
import assert from "node:assert/strict";
import type { HttpConfig } from "../src/config/types.ts";
import { type EventSource, EventStreams } from "../src/http/events_sse.ts";
import { startHttpApi } from "../src/http/mod.ts";
import { crossSiteRefusal } from "../src/http/same_origin.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { createNodeMetrics, Scrape } from "../src/metrics/mod.ts";
import { ok, PathRouter } from "../src/paths/mod.ts";
import { NodeClient } from "../src/cli/client.ts";
import { ShellSession } from "../src/cli/shell_commands.ts";
import { formatWatchLine, parseBlock } from "../src/cli/watch.ts";
import { FakeClock, within } from "./kit/mod.ts";

/** An event source whose listeners the test can count and feed. */
function source() {
  const listeners = new Set<
    { path: string; deliver: (e: { topic: string; data: unknown }) => void }
  >();
  const src: EventSource & { emit(topic: string, data: unknown): void; readonly size: number } = {
    listen(path, deliver) {
      const l = { path, deliver };
      listeners.add(l);
      return () => listeners.delete(l);
    },
    emit(topic, data) {
      for (const l of listeners) {
        if (topic === l.path || topic.startsWith(l.path + "/")) l.deliver({ topic, data });
      }
    },
    get size() {
      return listeners.size;
    },
  };
  return src;
}

async function readSome(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<string> {
  const { value } = await reader.read();
  return new TextDecoder().decode(value);
}

Deno.test("crossSiteRefusal() lets programs and the node's own page in, and refuses other sites", () => {
  const req = (headers: Record<string, string>) => new Headers(headers);
  assert.equal(crossSiteRefusal(req({})), null, "curl, Prometheus, the shell");
  assert.equal(
    crossSiteRefusal(req({ host: "portal.local:8080", origin: "http://portal.local:8080" })),
    null,
  );
  assert.equal(
    crossSiteRefusal(req({ host: "portal.local:8080", "sec-fetch-site": "same-origin" })),
    null,
  );
  for (
    const h of <Record<string, string>[]> [
      { host: "portal.local:8080", origin: "http://evil.example" },
      { host: "portal.local:8080", origin: "http://portal.local:9090" },
      { host: "portal.local:8080", origin: "null" },
      { origin: "http://portal.local:8080" },
      { host: "portal.local:8080", "sec-fetch-site": "cross-site" },
      { host: "portal.local:8080", "sec-fetch-site": "same-site" },
    ]
  ) {
    assert.ok(crossSiteRefusal(req(h)) !== null, JSON.stringify(h));
  }
});

Deno.test("EventStreams: hello first, then changes with ids; a slow client loses the oldest (counted); cancel stops the listeners", async () => {
  const clock = new FakeClock();
  const src = source();
  const streams = new EventStreams({
    source: src,
    node: "office",
    knows: (n) => n === "factory",
    clock,
    queueLimit: 3,
    keepAliveMs: 15_000,
  });
  const paths = streams.paths(new URL("http://x/api/events?path=/iot/&path=/node/factory/iot"));
  assert.deepEqual(paths, ["/iot", "/node/factory/iot"]);
  const res = streams.open(paths as string[], "read", new AbortController().signal) as Response;
  assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
  assert.equal(src.size, 2);
  assert.equal(streams.active, 1);
  const reader = res.body!.getReader();
  assert.equal(
    await readSome(reader),
    'retry: 3000\nevent: hello\ndata: {"node":"office","paths":["/iot","/node/factory/iot"],"role":"read"}\n\n',
  );
  for (let i = 1; i <= 5; i++) src.emit("/iot/devices/plug-001", { n: i });
  src.emit("/other", {});
  const text = await readSome(reader);
  assert.match(text, /^event: dropped\ndata: \{"count":2\}\n\n/);
  const events = text.split("\n\n").map(parseBlock).filter((b) => b?.event === "change");
  assert.deepEqual(events.map((e) => (e!.data as { data: { n: number } }).data.n), [3, 4, 5]);
  assert.match(text, /event: change\nid: 3\n/);
  assert.equal(streams.dropped, 2);

  // Quiet for 15 s: a keep-alive comment.
  const next = reader.read();
  clock.advance(15_000);
  assert.equal(new TextDecoder().decode((await next).value), ": keep-alive\n\n");

  await reader.cancel();
  assert.equal(src.size, 0, "listeners stopped with the stream");
  assert.equal(streams.active, 0);
  assert.equal(clock.pending, 0, "keep-alive timer cleared");
});

Deno.test("EventStreams: bounded in number, paths checked, and ended by the signal", async () => {
  const src = source();
  const streams = new EventStreams({
    source: src,
    node: "office",
    knows: (n) => n === "factory",
    clock: new FakeClock(),
    maxStreams: 1,
    maxPaths: 2,
  });
  const refusal = (q: string) => streams.paths(new URL(`http://x/api/events${q}`));
  assert.deepEqual(refusal(""), {
    status: 400,
    error: "say what to stream: /api/events?path=/iot/devices (repeat path= for more)",
  });
  assert.equal((refusal("?path=/a&paht=/b") as { status: number }).status, 400);
  assert.equal((refusal("?path=a") as { status: number }).status, 400);
  assert.equal((refusal("?path=/a&path=/b&path=/c") as { status: number }).status, 400);
  assert.match(
    (refusal("?path=/node/nowhere/iot") as { error: string }).error,
    /unknown node 'nowhere'/,
  );
  assert.deepEqual(refusal("?path=/node/peers"), ["/node/peers"], "a path of this node");

  const leave = new AbortController();
  const res = streams.open(["/iot"], "full", leave.signal) as Response;
  const full = streams.open(["/iot"], "full", new AbortController().signal);
  assert.equal((full as { status: number }).status, 503);
  const reader = res.body!.getReader();
  await reader.read();
  leave.abort();
  assert.equal(src.size, 0);
  assert.equal((await reader.read()).done, true, "the stream ends when the client leaves");
});

/** An API with the extras, a token, and a source the test feeds. */
async function withLiveApi(
  fn: (
    base: string,
    src: ReturnType<typeof source>,
    shutdown: () => Promise<void>,
  ) => Promise<void>,
  token: string | null = "secret-token",
) {
  const src = source();
  const router = new PathRouter();
  router.on("GET", "/health", () => ok({ status: "ok", node: "office" }));
  router.on("CALL", "/iot/devices/:id/on", (_r, p) => ok({ id: p.id, on: true }));
  const fed = {} as never;
  const metrics = createNodeMetrics({ name: "office", clock: new FakeClock(), federation: fed });
  const onlyExtras = {
    ...metrics,
    render: () => {
      const s = new Scrape();
      s.gauge("demo_up", "Up.", [{ value: 1 }]);
      return s.render();
    },
  };
  const config: HttpConfig = {
    listen: { hostname: "127.0.0.1", port: 0 },
    token,
    readToken: null,
    allowedHosts: null,
  };
  const api = await startHttpApi({
    config,
    router,
    logger: memoryLogger(),
    extras: {
      metrics: onlyExtras,
      events: { source: src, node: "office", knows: () => false, keepAliveMs: 60_000 },
      dashboard: true,
    },
  });
  try {
    await fn(`http://127.0.0.1:${api.addr.port}`, src, () => api.shutdown());
  } finally {
    await within(api.shutdown(), "shutdown with a stream open", 5000);
  }
}

Deno.test("the API serves /metrics and /api/events behind the token, the dashboard without it, and stops with streams open", async () => {
  await withLiveApi(async (base, src, shutdown) => {
    const auth = { authorization: "Bearer secret-token" };
    const noToken = await fetch(`${base}/metrics`);
    assert.equal(noToken.status, 401);
    await noToken.body?.cancel();
    const m = await fetch(`${base}/metrics`, { headers: auth });
    assert.equal(m.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
    assert.match(await m.text(), /^# HELP demo_up Up\.\n# TYPE demo_up gauge\ndemo_up 1\n$/);

    const page = await fetch(`${base}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy")!, /^default-src 'self'/);
    assert.equal(page.headers.get("x-frame-options"), "DENY");
    const html = await page.text();
    assert.match(html, /<script type="module" src="\/app.js"><\/script>/);
    assert.doesNotMatch(html, /<script>|<style>| on\w+=/, "nothing inline");
    const etag = page.headers.get("etag")!;
    const again = await fetch(`${base}/app.js`, { headers: { "if-none-match": etag } });
    assert.equal(again.status, 304);
    await again.body?.cancel();
    const post = await fetch(`${base}/`, { method: "POST" });
    assert.equal(post.status, 405);
    await post.body?.cancel();

    // The page's own POST carries Origin: welcome; another site's is refused.
    const host = new URL(base).host;
    const mine = await fetch(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      headers: { ...auth, origin: `http://${host}` },
    });
    assert.equal(mine.status, 200);
    await mine.body?.cancel();
    const theirs = await fetch(`${base}/api/iot/devices/plug-001/on`, {
      method: "POST",
      headers: { ...auth, origin: "http://evil.example" },
    });
    assert.equal(theirs.status, 403);
    assert.match((await theirs.json()).error, /another origin/);

    const noTokenStream = await fetch(`${base}/api/events?path=/iot`);
    assert.equal(noTokenStream.status, 401);
    await noTokenStream.body?.cancel();
    const stream = await fetch(`${base}/api/events?path=/iot`, { headers: auth });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    assert.match(await readSome(reader), /"role":"full"/);
    src.emit("/iot/devices/plug-001", { on: true });
    assert.match(await readSome(reader), /"topic":"\/iot\/devices\/plug-001","data":\{"on":true\}/);
    // Left open: shutdown ends it rather than wait for it.
    await within(shutdown(), "shutdown with a stream open", 5000);
    for (let r = await reader.read(); !r.done; r = await reader.read());
    assert.equal(src.size, 0);
  });
});

Deno.test("shell: watch prints one line per event, stops after N, and says why it could not start", async () => {
  await withLiveApi(async (base, src) => {
    const out: string[] = [];
    const err: string[] = [];
    const notes: string[] = [];
    const session = new ShellSession(new NodeClient({ url: base, token: "secret-token" }), {
      out: (t) => out.push(t),
      err: (m) => err.push(m),
      note: (t) => notes.push(t),
    });
    const running = session.run("cd /iot; watch devices 2");
    await within(
      (async () => {
        while (src.size === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      "the watch to listen",
    );
    src.emit("/iot/devices/plug-001", { id: "plug-001", on: true });
    src.emit("/iot/devices/plug-001", { id: "plug-001", on: false });
    assert.equal(await running, "ok");
    assert.equal(out.length, 2);
    assert.match(
      out[0],
      /^\d\d:\d\d:\d\d\.\d{3} {2}\/iot\/devices\/plug-001 {2}\{"id":"plug-001","on":true\}$/,
    );
    assert.deepEqual(notes, ["watching /iot/devices on office — Ctrl-C to stop"]);
    await within(
      (async () => {
        while (src.size > 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      "the node to see the stream closed",
    );

    assert.equal(await session.run("watch /node/nowhere/iot"), "failed");
    assert.match(err.at(-1)!, /^404: unknown node 'nowhere'/);
    assert.equal(await session.run("watch /x 0"), "failed");
    assert.match(err.at(-1)!, /not a number of events/);

    // Ctrl-C ends it as a success.
    const ctrlC = new AbortController();
    const watching = session.run("watch /iot", ctrlC.signal);
    await within(
      (async () => {
        while (src.size === 0) await new Promise((r) => setTimeout(r, 5));
      })(),
      "the second watch to listen",
    );
    ctrlC.abort();
    assert.equal(await watching, "ok");
  });
});

Deno.test("formatWatchLine() shows local time, topic and compact JSON, clipped", () => {
  const line = formatWatchLine({ topic: "/t", data: { a: "x".repeat(50) }, time: null }, 20);
  assert.match(line, /^\d\d:\d\d:\d\d\.\d{3} {2}\/t {2}\{"a":"xxxxxxxxxxx\.\.\.$/);
  assert.equal(parseBlock(": keep-alive"), null);
  assert.deepEqual(parseBlock('event: change\nid: 1\ndata: {"x":1}'), {
    event: "change",
    data: { x: 1 },
  });
});
