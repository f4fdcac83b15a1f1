/**
 * Seeing the federation live, with real main.ts processes over TLS (hub, office, factory behind
 * the hub): /metrics as Prometheus reads it (checked by promtool), counters that follow the
 * traffic, `watch` in office's shell and the SSE stream getting factory's changes through the
 * hub, and a stream client killed -9 that stops costing anything.
 */
import assert from "node:assert/strict";
import { Child, mainArgs, runCommand, within } from "./kit/mod.ts";
import {
  getJson,
  type LiveCluster,
  OFFICE_TOKEN,
  officeAuth,
  sample,
  startLiveCluster,
} from "./helpers/live_cluster.ts";

const PROMTOOL = "/usr/bin/promtool";
const havePromtool = await Deno.stat(PROMTOOL).then(() => true, () => false);
if (!havePromtool) {
  console.warn(
    `${PROMTOOL} is missing (Debian package 'prometheus'): the /metrics test is skipped`,
  );
}

async function metricsOf(url: string, headers: HeadersInit = {}): Promise<string> {
  const r = await fetch(`${url}/metrics`, { headers });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  assert.equal(r.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return text;
}

/** `promtool check metrics` on `text`: its exit code and what it said. */
async function promtool(text: string): Promise<{ code: number; said: string }> {
  const out = await runCommand(PROMTOOL, ["check", "metrics"], { input: text });
  return { code: out.code, said: out.stdout + out.stderr };
}

/** Polls `read` until `ok` holds for its value (a guard of `ms`), returning that value. */
async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, what: string, ms = 5000) {
  return await within(
    (async () => {
      for (;;) {
        const v = await read();
        if (ok(v)) return v;
        await new Promise((r) => setTimeout(r, 25));
      }
    })(),
    what,
    ms,
  );
}

interface Held {
  held_here: { subscriber: string; prefix: string; lease_left_ms: number }[];
}

const heldAtFactory = (c: LiveCluster) =>
  getJson(`${c.factoryUrl}/api/events/subscriptions`) as Promise<Held>;

Deno.test({
  name: "processes: /metrics passes promtool, needs the token, and its counters rise with traffic",
  ignore: !havePromtool,
  async fn() {
    const c = await startLiveCluster();
    try {
      const refused = await fetch(`${c.officeUrl}/metrics`);
      assert.equal(refused.status, 401);
      await refused.body?.cancel();

      // A client that does not speak TLS is refused by the hub's listener, and counted.
      const hubFed = Number(/federation=127\.0\.0\.1:(\d+)/.exec(c.hub.lines.join("\n"))![1]);
      const raw = await Deno.connect({ hostname: "127.0.0.1", port: hubFed });
      await raw.write(new TextEncoder().encode("GET / HTTP/1.0\r\n\r\n"));
      await raw.read(new Uint8Array(64)).catch(() => null);
      raw.close();

      const before = {
        office: await metricsOf(c.officeUrl, officeAuth),
        hub: await metricsOf(c.hubUrl),
        factory: await metricsOf(c.factoryUrl),
      };
      for (const [node, text] of Object.entries(before)) {
        const check = await promtool(text);
        assert.equal(check.code, 0, `promtool on ${node}'s /metrics:\n${check.said}\n${text}`);
        assert.equal(check.said.trim(), "", `promtool on ${node}: ${check.said}`);
      }
      assert.equal(
        sample(before.office, "portal_peer_state", { peer: "factory", state: "via-hub" }),
        1,
      );
      assert.ok((sample(before.office, "portal_peer_rtt_seconds", { peer: "factory" }) ?? -1) >= 0);
      assert.equal(sample(before.hub, "portal_authenticated_peers"), 2);
      assert.equal(sample(before.factory, "portal_device_online", { device: "plug-001" }), 1);
      assert.ok(
        (sample(before.hub, "portal_refused_connections_total", { reason: "tls_handshake" }) ??
          0) >= 1,
        "the hub counted the client that did not speak TLS",
      );
      assert.ok(
        (sample(before.factory, "portal_certificate_expiry_seconds", { key: "tls_cert" }) ?? 0) >
          86_400,
      );
      assert.equal(sample(before.factory, "portal_build_info", { node: "factory" }), 1);

      const N = 5;
      for (let i = 0; i < N; i++) {
        const r = await fetch(`${c.officeUrl}/api/node/factory/iot/devices/plug-001/toggle`, {
          method: "POST",
          headers: officeAuth,
        });
        assert.equal(r.status, 200, await r.text());
      }
      const after = {
        office: await metricsOf(c.officeUrl, officeAuth),
        hub: await metricsOf(c.hubUrl),
        factory: await metricsOf(c.factoryUrl),
      };
      const rise = (node: keyof typeof before, name: string, labels = {}) =>
        (sample(after[node], name, labels) ?? 0) - (sample(before[node], name, labels) ?? 0);
      const toFactory = { destination: "factory", method: "CALL", status: "200" };
      assert.equal(rise("office", "portal_request_duration_seconds_count", toFactory), N);
      assert.ok(rise("office", "portal_request_duration_seconds_sum", toFactory) > 0);
      assert.ok(rise("office", "portal_peer_messages_sent_total", { peer: "hub" }) >= N);
      assert.ok(rise("office", "portal_messages_received_total") >= N);
      assert.ok(rise("hub", "portal_peer_messages_relayed_total", { peer: "factory" }) >= N);
      assert.ok(rise("hub", "portal_peer_messages_relayed_total", { peer: "office" }) >= N);
      assert.ok(rise("hub", "portal_messages_relayed_total") >= 2 * N);
      assert.equal(rise("factory", "portal_device_commands_total"), N);
      assert.ok(rise("factory", "portal_peer_messages_received_total", { peer: "hub" }) >= N);
      // Five toggles from off: on.
      assert.equal(sample(after.factory, "portal_device_on", { device: "plug-001" }), 1);
      assert.equal(rise("office", "portal_access_decisions_total", { verdict: "allowed" }), N);
    } finally {
      await c.stop();
    }
  },
});

Deno.test("processes: watch in office's shell and the SSE stream get factory's change through the hub within 1 s; a killed stream client costs nothing", async () => {
  const c = await startLiveCluster();
  const shell = new Child("shell", {
    args: mainArgs([
      "shell",
      "--url",
      c.officeUrl,
      "--token",
      OFFICE_TOKEN,
      "-c",
      "watch /node/factory/iot/devices 2",
    ]),
  });
  const sse = new AbortController();
  let reading: Promise<void> = Promise.resolve();
  let streamClient: Child | null = null;
  try {
    const stream = await fetch(
      `${c.officeUrl}/api/events?path=${encodeURIComponent("/node/factory/iot/devices")}`,
      { headers: officeAuth, signal: sse.signal },
    );
    assert.equal(stream.status, 200);
    assert.equal(stream.headers.get("content-type"), "text/event-stream; charset=utf-8");
    const sseText: string[] = [];
    const sseGot = Promise.withResolvers<number>();
    reading = (async () => {
      try {
        for await (const t of stream.body!.pipeThrough(new TextDecoderStream())) {
          sseText.push(t);
          if (/"topic":"\/node\/factory\/iot\/devices\/plug-001"/.test(sseText.join(""))) {
            sseGot.resolve(performance.now());
          }
        }
      } catch {
        // Aborted at the end.
      }
    })();

    // Office holds one subscription at factory, shared by the shell and the stream.
    await until(
      () => metricsOf(c.officeUrl, officeAuth),
      (m) => sample(m, "portal_event_listeners") === 2,
      "the shell's stream and ours at office",
    );
    await until(
      () => heldAtFactory(c),
      (h) => h.held_here.some((s) => s.subscriber === "office" && s.prefix === "/iot/devices"),
      "office's subscription to reach factory",
    );
    const t0 = performance.now();
    const call = await fetch(`${c.hubUrl}/api/node/factory/iot/devices/plug-001/on`, {
      method: "POST",
    });
    assert.equal(call.status, 200, await call.text());
    const line = await shell.waitFor(/plug-001/, "the watch line", 5000);
    const watchMs = performance.now() - t0;
    const sseMs = (await within(sseGot.promise, "the SSE event", 5000)) - t0;
    console.log(
      `CALL at the hub -> factory -> EVENT via hub -> office: watch ${watchMs.toFixed(0)} ms, ` +
        `SSE ${sseMs.toFixed(0)} ms`,
    );
    assert.ok(watchMs < 1000, `watch printed after ${watchMs} ms`);
    assert.ok(sseMs < 1000, `SSE delivered after ${sseMs} ms`);
    assert.match(
      line,
      /^\d\d:\d\d:\d\d\.\d{3} {2}\/node\/factory\/iot\/devices\/plug-001 {2}\{.*"on":true/,
    );
    assert.match(sseText.join(""), /^retry: 3000\nevent: hello\ndata: \{"node":"office"/);

    // The second event ends `watch ... 2` on a pipe, with status 0.
    const off = await fetch(`${c.hubUrl}/api/node/factory/iot/devices/plug-001/off`, {
      method: "POST",
    });
    assert.equal(off.status, 200, await off.text());
    const status = await within(shell.exited(), "the shell to exit after two events", 5000);
    assert.equal(status.code, 0, shell.tail());
    assert.equal(shell.out.lines.length, 2, shell.tail());
    assert.match(shell.out.lines[1], /"on":false/);

    // A stream client of its own prefix, killed -9: office drops its listener at once and
    // gives up the subscription at factory.
    const url = `${c.officeUrl}/api/events?path=${encodeURIComponent("/node/factory/iot")}`;
    streamClient = new Child("stream-client", {
      args: [
        "eval",
        `const r = await fetch(${JSON.stringify(url)}, { headers: ${JSON.stringify(officeAuth)} });
         for await (const t of r.body.pipeThrough(new TextDecoderStream())) console.log(t.trim());`,
      ],
    });
    await streamClient.waitFor(/event: hello/, "the stream client's hello");
    await until(
      () => heldAtFactory(c),
      (h) => h.held_here.some((s) => s.subscriber === "office" && s.prefix === "/iot"),
      "the second subscription at factory",
    );
    const listening = sample(
      await metricsOf(c.officeUrl, officeAuth),
      "portal_event_listeners",
    )!;
    streamClient.signal("SIGKILL");
    await streamClient.exited();
    const killedAt = performance.now();
    await until(
      () => heldAtFactory(c),
      (h) => !h.held_here.some((s) => s.prefix === "/iot"),
      "factory to forget the killed client's subscription",
    );
    const goneMs = performance.now() - killedAt;
    const officeAfter = await metricsOf(c.officeUrl, officeAuth);
    assert.equal(sample(officeAfter, "portal_event_listeners"), listening - 1);
    console.log(
      `stream client killed -9: factory forgot its subscription in ${goneMs.toFixed(0)} ms`,
    );
  } finally {
    sse.abort();
    await reading;
    streamClient?.signal("SIGKILL");
    await streamClient?.exited();
    shell.signal("SIGKILL");
    await shell.exited();
    await c.stop();
  }
});
