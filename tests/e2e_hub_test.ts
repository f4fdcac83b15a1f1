/**
 * Through the hub, with real main.ts processes over TLS: presence tells office the truth about
 * factory (PORTAL02.md §9), a hanging device costs its callers its own timeout and nothing else
 * (§10), and a second node with factory's name never takes the name from the live one (§3).
 */
import assert from "node:assert/strict";
import { startFakeTasmota } from "./fakes/tasmota.ts";
import {
  type Child,
  deadPort,
  device,
  http,
  iot,
  makeCertDir,
  modNode,
  nodeReady,
  peer,
  startNode,
  stopAll,
  within,
  writeIni,
} from "./kit/mod.ts";

interface Answer {
  readonly status: number;
  // deno-lint-ignore no-explicit-any
  readonly body: any;
  readonly ms: number;
}

/** A client of one node's HTTP API that times each answer. */
function apiOf(base: string) {
  return async (path: string, init?: RequestInit): Promise<Answer> => {
    const t0 = performance.now();
    const r = await fetch(`${base}/api${path}`, init);
    const body = await r.json();
    return { status: r.status, body, ms: performance.now() - t0 };
  };
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.99) - 1)];
}

/** Hub, factory (dial-only, behind the hub) and office, started in that order. */
async function cluster(
  dir: string,
  nodes: Child[],
  factoryExtra: string[] = [],
  factoryNode: Record<string, string> = {},
) {
  const start = (name: string, ini: string) => {
    const node = startNode(name, ini);
    nodes.push(node);
    return node;
  };
  const hub = start(
    "hub",
    await writeIni(
      dir,
      "hub",
      modNode("hub", { extra: { ping_interval: "500ms", ping_max_missed: 2 } }),
      http(),
    ),
  );
  const hubAt = await nodeReady(hub);
  const hubPort = hubAt.federation!;
  const hubApi = apiOf(`http://127.0.0.1:${hubAt.api}`);
  const factoryIni = await writeIni(
    dir,
    "factory",
    modNode("factory", {
      listenPort: "off",
      extra: { reconnect_initial: "200ms", reconnect_max: "1s", ...factoryNode },
    }),
    peer("hub", { port: hubPort }),
    http("off"),
    ...factoryExtra,
  );
  const factory = start("factory", factoryIni);
  const office = start(
    "office",
    await writeIni(
      dir,
      "office",
      modNode("office", { listenPort: "off" }),
      peer("hub", { port: hubPort }),
      peer("factory", { port: deadPort(), hub: "hub", autoConnect: false }),
      http(),
    ),
  );
  const api = apiOf(`http://127.0.0.1:${(await nodeReady(office)).api}`);
  await office.waitFor(/factory is reachable via hub/, "office to hear factory is at the hub");
  return { hub, hubApi, factory, office, api, factoryIni, start };
}

Deno.test("processes: office's node peers follows factory through the hub (kill -9, SIGSTOP, back)", async () => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  const nodes: Child[] = [];
  try {
    const c = await cluster(dir, nodes);
    const factoryAt = async () =>
      (await c.api("/node/peers")).body.find((p: { name: string }) => p.name === "factory");
    assert.equal((await factoryAt()).status, "via-hub");
    assert.equal(typeof (await factoryAt()).latency_ms, "number");

    for (const how of ["SIGKILL", "SIGSTOP"] as const) {
      const hubMark = c.hub.log.count;
      const officeMark = c.office.log.count;
      const factory = nodes.find((n) => n.name === "factory" && n.running)!;
      factory.signal(how);
      // The hub closes the link (EOF) or declares it dead (2 missed pings of 500 ms).
      await c.hub.waitFor(
        /disconnected peer=factory/,
        `the hub to drop factory (${how})`,
        20_000,
        hubMark,
      );
      const closedAt = performance.now();
      await c.office.waitFor(/factory is not reachable/, "office to hear it", 5_000, officeMark);
      for (;;) {
        const v = await factoryAt();
        if (v.status === "disconnected") break;
        assert.ok(performance.now() - closedAt < 2_000, `still ${v.status} 2 s after the hub`);
      }
      assert.ok(performance.now() - closedAt < 2_000);
      const status = (await c.api("/node/status")).body;
      assert.equal(status.peers_disconnected, 1, JSON.stringify(status));
      const res = await c.api("/node/factory/health");
      assert.equal(res.status, 502);
      assert.match(res.body.error, /hub 'hub'/);
      assert.ok(res.ms < 100, `502 took ${res.ms.toFixed(1)} ms`);

      const backMark = c.hub.log.count;
      const officeBack = c.office.log.count;
      if (how === "SIGSTOP") factory.signal("SIGCONT");
      else c.start("factory", c.factoryIni);
      const line = await c.hub.waitFor(
        /authenticated peer=factory/,
        "factory back",
        20_000,
        backMark,
      );
      const authAt = performance.now();
      await c.office.waitFor(
        /factory is reachable via hub/,
        "office sees it back",
        5_000,
        officeBack,
      );
      const v = await factoryAt();
      assert.equal(v.status, "via-hub");
      assert.equal(typeof v.latency_ms, "number");
      assert.ok(performance.now() - authAt < 2_000, `via-hub ${line}`);
    }
  } finally {
    await stopAll(nodes);
    await Deno.remove(dir, { recursive: true });
  }
});

for (const pools of [{ workers: "4", queue_limit: "16" }, {}] as Record<string, string>[]) {
  const label = Object.keys(pools).length > 0 ? "workers 4, queue 16" : "defaults";
  Deno.test(`processes: a hanging device costs its own callers its timeout, nothing else (${label})`, async () => {
    const dir = await makeCertDir(["hub", "office", "factory"]);
    const nodes: Child[] = [];
    const hanging = await startFakeTasmota();
    hanging.behaviour = "hang";
    try {
      const c = await cluster(dir, nodes, [
        iot({ poll_interval: "1h" }),
        device("stuck-1", { driver: "tasmota", host: hanging.host, timeout: "2s" }),
        device("plug-001", { driver: "sim" }),
      ], pools);
      const calls = Array.from(
        { length: 40 },
        () => c.api("/node/factory/iot/devices/stuck-1/on", { method: "POST" }),
      );
      await within(hanging.received(1), "the device to get the first command");
      // /health and a second device, five at a time; the first round warms the path up.
      const round = (i: number) =>
        Promise.all(
          Array.from({ length: 5 }, (_, j) =>
            (i + j) % 2 === 0
              ? c.api("/node/factory/health")
              : c.api(`/node/factory/iot/devices/plug-001/${j % 4 === 1 ? "on" : "off"}`, {
                method: "POST",
              })),
        );
      await round(-1);
      const quick: Answer[] = [];
      for (let i = 0; i < 20; i++) quick.push(...await round(i));
      assert.deepEqual(quick.map((a) => a.status), quick.map(() => 200));
      const latency = p99(quick.map((a) => a.ms));
      assert.ok(latency < 50, `p99 ${latency.toFixed(1)} ms`);
      const answers = await Promise.all(calls);
      for (const a of answers) {
        assert.ok(a.status === 503 || a.status === 504, JSON.stringify(a));
        assert.ok(a.ms < 3_000, `a caller waited ${a.ms.toFixed(0)} ms (device timeout 2 s)`);
      }
      assert.ok(answers.some((a) => a.status === 503 && /device busy/.test(a.body.error)));
      assert.ok(answers.some((a) => a.status === 504));
    } finally {
      await stopAll(nodes);
      await hanging.close();
      await Deno.remove(dir, { recursive: true });
    }
  });
}

Deno.test("processes: a second node named factory gets 409 and never takes the name", async () => {
  const dir = await makeCertDir(["hub", "office", "factory"]);
  const nodes: Child[] = [];
  try {
    const c = await cluster(dir, nodes, [
      iot({ poll_interval: "1h" }),
      device("original-plug", { driver: "sim" }),
    ]);
    // A copied node.ini with its own devices, so the answers tell the two apart.
    const copyIni = (await Deno.readTextFile(c.factoryIni)).replace("original-plug", "copy-plug");
    await Deno.writeTextFile(`${dir}/copy.ini`, copyIni);
    const copy = c.start("factory-copy", `${dir}/copy.ini`);
    await copy.waitFor(/409|name in use/, "the copy to be refused");
    const until = performance.now() + 30_000;
    let served = 0;
    while (performance.now() < until) {
      const res = await c.api("/node/factory/iot/devices");
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(res.body.map((d: { id: string }) => d.id), ["original-plug"]);
      served++;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(served > 100);
    const errors = c.hub.log.lines.filter((l) =>
      l.includes("ERROR") && l.includes("two nodes use")
    );
    assert.equal(errors.length, 1, errors.join("\n"));
    assert.match(errors[0], /holder=127\.0\.0\.1:\d+ newcomer=127\.0\.0\.1:\d+/);
    const replaced = c.hub.log.lines.filter((l) => l.includes("replacing a connection"));
    assert.ok(replaced.length <= 1, replaced.join("\n"));
    const status = (await c.hubApi("/node/status")).body;
    assert.ok(status.name_conflicts >= 1, JSON.stringify(status));
    assert.ok(status.links_replaced <= 1, JSON.stringify(status));
  } finally {
    await stopAll(nodes);
    await Deno.remove(dir, { recursive: true });
  }
});
