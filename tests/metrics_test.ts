/** Metrics: the text exposition, the bounded histogram, and the node collector in process. */
import assert from "node:assert/strict";
import {
  checkLabelName,
  checkMetricName,
  createNodeMetrics,
  escapeLabelValue,
  formatValue,
  Histogram,
  MetricNameError,
  MetricType,
  render,
  Scrape,
  single,
} from "../src/metrics/mod.ts";
import { ok } from "../src/paths/mod.ts";
import { systemClock } from "../src/util/clock.ts";
import { linked, nodeConfig, peerConfig, reachableVia, startTestNode } from "./helpers/nodes.ts";
import { sample } from "./helpers/live_cluster.ts";
import { runCommand, within } from "./kit/mod.ts";

const PROMTOOL = "/usr/bin/promtool";
const havePromtool = await Deno.stat(PROMTOOL).then(() => true, () => false);

async function promtool(text: string): Promise<string> {
  const out = await runCommand(PROMTOOL, ["check", "metrics"], { input: text });
  const said = out.stdout + out.stderr;
  return out.code === 0 ? said.trim() : `exit ${out.code}: ${said}`;
}

Deno.test("render() writes HELP, TYPE and samples with escaped label values and help", () => {
  const s = new Scrape();
  s.counter("demo_events_total", 'Events, with a \\ and a\nnew line and "quotes".', [
    { labels: { path: 'C:\\dir "x"\nnext' }, value: 3 },
    { labels: { path: "/plain" }, value: 0 },
  ]);
  s.gauge("demo_temperature_celsius", "A gauge.", single(21.5));
  s.gauge("demo_empty", "Nothing to say: left out.", []);
  assert.equal(
    s.render(),
    [
      '# HELP demo_events_total Events, with a \\\\ and a\\nnew line and "quotes".',
      "# TYPE demo_events_total counter",
      'demo_events_total{path="C:\\\\dir \\"x\\"\\nnext"} 3',
      'demo_events_total{path="/plain"} 0',
      "# HELP demo_temperature_celsius A gauge.",
      "# TYPE demo_temperature_celsius gauge",
      "demo_temperature_celsius 21.5",
      "",
    ].join("\n"),
  );
  assert.equal(escapeLabelValue('a"b'), 'a\\"b');
  assert.deepEqual([Infinity, -Infinity, NaN, 0.25].map(formatValue), [
    "+Inf",
    "-Inf",
    "NaN",
    "0.25",
  ]);
});

Deno.test("names are checked: counters end in _total and only they do; labels are not reserved", () => {
  assert.throws(() => checkMetricName("requests", MetricType.Counter), MetricNameError);
  assert.throws(() => checkMetricName("up_total", MetricType.Gauge), /only counters/);
  assert.throws(() => checkMetricName("9lives", MetricType.Gauge), /not a valid metric name/);
  assert.throws(() => checkLabelName("__name__"), MetricNameError);
  assert.throws(() => checkLabelName("bad-label"), MetricNameError);
  checkLabelName("peer");
  assert.throws(
    () =>
      render([{
        name: "x",
        type: "gauge",
        help: "",
        samples: [{ name: "x", labels: {}, value: 1 }],
      }, {
        name: "x",
        type: "gauge",
        help: "",
        samples: [{ name: "x", labels: {}, value: 2 }],
      }]),
    /appears twice/,
  );
});

Deno.test("Histogram counts cumulative buckets, sum and count per label set, and folds extra sets into 'other'", () => {
  const h = new Histogram({
    name: "demo_duration_seconds",
    help: "Durations.",
    labelNames: ["dst"],
    buckets: [0.1, 1],
    maxSeries: 2,
  });
  h.observe({ dst: "a" }, 0.05);
  h.observe({ dst: "a" }, 0.5);
  h.observe({ dst: "a" }, 5);
  h.observe({ dst: "b" }, 0.1);
  h.observe({ dst: "c" }, 0.2);
  h.observe({ dst: "d" }, 0.3);
  assert.equal(h.series, 3, "a, b and the overflow set");
  const text = render([h.family()]);
  assert.equal(sample(text, "demo_duration_seconds_bucket", { dst: "a", le: "0.1" }), 1);
  assert.equal(sample(text, "demo_duration_seconds_bucket", { dst: "a", le: "1" }), 2);
  assert.equal(sample(text, "demo_duration_seconds_bucket", { dst: "a", le: "+Inf" }), 3);
  assert.equal(sample(text, "demo_duration_seconds_sum", { dst: "a" }), 5.55);
  assert.equal(sample(text, "demo_duration_seconds_count", { dst: "b" }), 1);
  assert.equal(sample(text, "demo_duration_seconds_count", { dst: "other" }), 2);
  assert.throws(
    () => new Histogram({ name: "x_seconds", help: "", labelNames: ["le"] }),
    /label named 'le'/,
  );
});

Deno.test({
  name: "promtool accepts an exposition with every kind of family and awkward label values",
  ignore: !havePromtool,
  async fn() {
    const s = new Scrape();
    s.counter("demo_messages_total", "Messages.", [{ labels: { peer: 'a"\\\nb' }, value: 7 }]);
    s.gauge("demo_up", "Up.", single(1));
    const h = new Histogram({
      name: "demo_request_duration_seconds",
      help: "Time.",
      labelNames: ["x"],
    });
    h.observe({ x: "y" }, 0.003);
    s.add(h.family());
    assert.equal(await promtool(s.render()), "");
  },
});

Deno.test("the node's metrics follow its peers, traffic, pools and requests (in process)", async () => {
  const hub = startTestNode(nodeConfig("hub"), []);
  const factory = startTestNode(nodeConfig("factory", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
  ]);
  factory.router.on("GET", "/slow", () => ok("done"));
  const office = startTestNode(nodeConfig("office", { listenPort: null }), [
    peerConfig("hub", { port: hub.port }),
    peerConfig("factory", { host: null, autoConnect: false, hubs: ["hub"] }),
  ]);
  // A dialer with the wrong key: the hub refuses it and counts why.
  const stranger = startTestNode(nodeConfig("stranger", { listenPort: null }), [
    peerConfig("hub", { port: hub.port, key: "not-the-federation-key" }),
  ]);
  try {
    await linked(factory, "hub");
    await reachableVia(office, "factory", "hub");
    const metrics = {
      hub: createNodeMetrics({ name: "hub", clock: systemClock, federation: hub.fed }),
      office: createNodeMetrics({ name: "office", clock: systemClock, federation: office.fed }),
    };
    const api = metrics.office.instrument({
      handle: (req) => office.fed.request(req.path.split("/")[2] ?? "office", "GET", "/slow"),
    });
    for (let i = 0; i < 3; i++) {
      const res = await api.handle({
        method: "GET",
        path: "/node/factory/slow",
        args: {},
        origin: null,
      });
      assert.equal(res.status, 200);
    }
    const unknown = metrics.office.instrument({
      handle: () => Promise.resolve({ status: 404, error: "x" }),
    });
    await unknown.handle({ method: "GET", path: "/node/nowhere/x", args: {}, origin: null });
    await unknown.handle({ method: "LIST", path: "/iot/devices", args: {}, origin: null });

    const o = metrics.office.render();
    const to = (destination: string, method: string, status: string) => ({
      destination,
      method,
      status,
    });
    assert.equal(
      sample(o, "portal_request_duration_seconds_count", to("factory", "GET", "200")),
      3,
    );
    assert.equal(
      sample(o, "portal_request_duration_seconds_count", to("unknown", "GET", "404")),
      1,
    );
    assert.equal(
      sample(o, "portal_request_duration_seconds_count", to("office", "LIST", "404")),
      1,
    );
    assert.equal(sample(o, "portal_peer_state", { peer: "factory", state: "via-hub" }), 1);
    assert.equal(sample(o, "portal_peer_state", { peer: "factory", state: "connected" }), 0);
    assert.equal(sample(o, "portal_peer_up", { peer: "hub" }), 1);
    assert.ok(sample(o, "portal_peer_messages_sent_total", { peer: "hub" })! >= 3);
    assert.ok(sample(o, "portal_peer_messages_received_total", { peer: "hub" })! >= 3);
    assert.equal(
      sample(o, "portal_peer_messages_sent_total", { peer: "factory" }),
      0,
      "no direct link",
    );
    assert.ok(sample(o, "portal_peer_link_uptime_seconds", { peer: "hub" })! >= 0);
    assert.equal(sample(o, "portal_peer_link_uptime_seconds", { peer: "factory" }), 0);

    await within(
      (async () => {
        while ((hub.fed.refusedConnections.get("bad_digest") ?? 0) === 0) {
          await new Promise((r) => setTimeout(r, 10));
        }
      })(),
      "the hub to refuse the stranger",
    );
    const h = metrics.hub.render();
    assert.ok(sample(h, "portal_peer_messages_relayed_total", { peer: "factory" })! >= 3);
    assert.ok(sample(h, "portal_peer_messages_relayed_total", { peer: "office" })! >= 3);
    assert.equal(sample(h, "portal_peer_messages_relayed_total", { peer: "hub" }), null);
    assert.equal(
      sample(h, "portal_messages_relayed_total"),
      sample(h, "portal_peer_messages_relayed_total", { peer: "factory" })! +
        sample(h, "portal_peer_messages_relayed_total", { peer: "office" })!,
      "every relayed message is credited to the peer it went to",
    );
    assert.ok(sample(h, "portal_refused_connections_total", { reason: "bad_digest" })! >= 1);
    assert.equal(sample(h, "portal_authenticated_peers"), 2);
    assert.equal(
      sample(h, "portal_pool_rejected_total", { origin: "office" }),
      null,
      "office asks the hub nothing",
    );
    if (havePromtool) assert.equal(await promtool(h), "");
  } finally {
    await stranger.fed.stop();
    await office.fed.stop();
    await factory.fed.stop();
    await hub.fed.stop();
  }
});
