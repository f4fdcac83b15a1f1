import assert from "node:assert/strict";
import type { DeviceConfig, IotConfig } from "../src/config/types.ts";
import { memoryLogger } from "../src/log/logger.ts";
import { type PathResponse, PathRouter } from "../src/paths/mod.ts";
import { type Clock, systemClock } from "../src/util/clock.ts";
import type { Method } from "../src/wire/constants.ts";
import {
  createIotModule,
  type DeviceView,
  type IotModule,
  MAX_WAITING_COMMANDS,
} from "../src/modules/iot/mod.ts";
import { startFakeTasmota } from "./fakes/tasmota.ts";
import { startFakeShelly } from "./fakes/shelly.ts";
import { deadPort, FakeClock, settled } from "./kit/mod.ts";

function dev(id: string, over: Partial<DeviceConfig> = {}): DeviceConfig {
  return {
    id,
    driver: "sim",
    host: null,
    kind: "plug",
    label: id,
    user: null,
    password: null,
    channel: 0,
    timeoutMs: 3000,
    ...over,
  };
}

interface Rig {
  readonly iot: IotModule;
  readonly router: PathRouter;
  readonly clock: FakeClock;
  readonly lines: string[];
  readonly events: [string, DeviceView][];
  /** Sends a request through the router, as the federation, HTTP API and shell do. */
  req(method: Method, path: string, signal?: AbortSignal): Promise<PathResponse>;
}

function rig(
  devices: DeviceConfig[],
  pollIntervalMs = 30_000,
  clock: Clock = new FakeClock(),
): Rig {
  const logger = memoryLogger();
  const events: [string, DeviceView][] = [];
  const config: IotConfig = { pollIntervalMs, devices };
  const iot = createIotModule(config, {
    node: "factory",
    clock,
    logger,
    onEvent: (topic, data) => events.push([topic, data as DeviceView]),
  });
  const router = new PathRouter();
  iot.register(router);
  return {
    iot,
    router,
    clock: clock as FakeClock,
    lines: logger.lines,
    events,
    req: (method, path, signal) => router.handle({ method, path, args: {}, origin: null, signal }),
  };
}

Deno.test("GET and LIST /iot/devices answer every device object", async () => {
  const t = rig([
    dev("sim-1", { label: "Test lamp", kind: "lamp" }),
    dev("plug-001", { driver: "tasmota", host: "10.0.0.5", label: "Press line plug" }),
    dev("relay-7", { driver: "shelly", host: "10.0.0.6:8080" }),
  ]);
  const expected = [
    {
      id: "sim-1",
      kind: "lamp",
      label: "Test lamp",
      driver: "sim",
      on: false,
      online: true,
      error: null,
    },
    {
      id: "plug-001",
      kind: "plug",
      label: "Press line plug",
      driver: "tasmota",
      on: null,
      online: false,
      error: null,
    },
    {
      id: "relay-7",
      kind: "plug",
      label: "relay-7",
      driver: "shelly",
      on: null,
      online: false,
      error: null,
    },
  ];
  assert.deepEqual(await t.req("GET", "/iot/devices"), { status: 200, body: expected });
  assert.deepEqual(await t.req("LIST", "/iot/devices"), { status: 200, body: expected });
  assert.deepEqual(await t.req("LIST", "/iot"), { status: 200, body: ["devices"] });
  assert.deepEqual(t.iot.devices(), expected);
  await t.iot.stop();
});

Deno.test("paths answer 404/405 with a sentence for unknown devices and actions", async () => {
  const t = rig([dev("sim-1"), dev("sim-2")]);
  assert.deepEqual(await t.req("GET", "/iot/devices/sim-1"), {
    status: 200,
    body: {
      id: "sim-1",
      kind: "plug",
      label: "sim-1",
      driver: "sim",
      on: false,
      online: true,
      error: null,
    },
  });
  const unknown = { status: 404, error: 'no device "plug-009" on factory (known: sim-1, sim-2)' };
  assert.deepEqual(await t.req("GET", "/iot/devices/plug-009"), unknown);
  assert.deepEqual(await t.req("CALL", "/iot/devices/plug-009/on"), unknown);
  assert.deepEqual(await t.req("CALL", "/iot/devices/plug-009/explode"), unknown);
  assert.deepEqual(await t.req("LIST", "/iot/devices/plug-009"), unknown);
  assert.deepEqual(await t.req("CALL", "/iot/devices/sim-1/explode"), {
    status: 404,
    error: 'device sim-1 has no action "explode" (use on, off or toggle)',
  });
  assert.deepEqual(await t.req("LIST", "/iot/devices/sim-1"), {
    status: 200,
    body: ["off", "on", "toggle"],
  });
  const get = await t.req("GET", "/iot/devices/sim-1/on");
  assert.equal(get.status, 405);
  assert.equal(t.iot.counters.commands, 0);
  await t.iot.stop();
});

Deno.test("a sim device switches through the router and remembers its state", async () => {
  const t = rig([dev("sim-1")]);
  const on = (await t.req("CALL", "/iot/devices/sim-1/on")).body as DeviceView;
  assert.equal(on.on, true);
  assert.equal(((await t.req("GET", "/iot/devices/sim-1")).body as DeviceView).on, true);
  assert.equal(((await t.req("CALL", "/iot/devices/sim-1/toggle")).body as DeviceView).on, false);
  assert.equal(((await t.req("CALL", "/iot/devices/sim-1/toggle")).body as DeviceView).on, true);
  assert.equal(((await t.req("CALL", "/iot/devices/sim-1/off")).body as DeviceView).on, false);
  assert.equal(((await t.req("CALL", "/iot/devices/sim-1/off")).body as DeviceView).on, false);
  assert.equal(t.iot.counters.commands, 5);
  assert.equal(t.iot.counters.changes, 4);
  assert.deepEqual(t.events.map(([topic, d]) => `${topic} ${d.on}`), [
    "/iot/devices/sim-1 true",
    "/iot/devices/sim-1 false",
    "/iot/devices/sim-1 true",
    "/iot/devices/sim-1 false",
  ]);
  assert.match(
    t.lines[0],
    /INFO {2}device sim-1 is on component=iot device=sim-1 on=true .*by=local/,
  );
  await t.iot.stop();
});

Deno.test("a tasmota device with a password switches through the router", async () => {
  const fake = await startFakeTasmota({ password: "joker" });
  const t = rig([
    dev("plug-001", { driver: "tasmota", host: fake.host, user: "admin", password: "joker" }),
    dev("plug-002", { driver: "tasmota", host: fake.host, password: "wrong" }),
  ]);
  try {
    const on = await t.req("CALL", "/iot/devices/plug-001/on");
    assert.deepEqual(on, {
      status: 200,
      body: {
        id: "plug-001",
        kind: "plug",
        label: "plug-001",
        driver: "tasmota",
        on: true,
        online: true,
        error: null,
      },
    });
    assert.deepEqual(fake.relays, [true]);
    assert.equal(
      ((await t.req("CALL", "/iot/devices/plug-001/toggle")).body as DeviceView).on,
      false,
    );
    assert.deepEqual(fake.relays, [false]);
    assert.equal(((await t.req("CALL", "/iot/devices/plug-001/on")).body as DeviceView).on, true);
    assert.equal(((await t.req("CALL", "/iot/devices/plug-001/off")).body as DeviceView).on, false);
    assert.deepEqual(fake.relays, [false]);
    assert.deepEqual(fake.requests, [
      "/cm?user=admin&password=joker&cmnd=Power%20On",
      "/cm?user=admin&password=joker&cmnd=Power%20Toggle",
      "/cm?user=admin&password=joker&cmnd=Power%20On",
      "/cm?user=admin&password=joker&cmnd=Power%20Off",
    ]);

    // The wrong password never switches anything and says what to fix.
    const denied = await t.req("CALL", "/iot/devices/plug-002/on");
    assert.equal(denied.status, 502);
    assert.match(denied.error!, /^device plug-002 at 127\.0\.0\.1:\d+ rejected Power On: it needs/);
    assert.deepEqual(fake.relays, [false]);
    const view = t.iot.device("plug-002")!;
    assert.equal(view.online, false);
    assert.equal(view.error, denied.error);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a shelly device switches through the router on its channel", async () => {
  const fake = await startFakeShelly({ switches: 2 });
  const t = rig([dev("relay-7", { driver: "shelly", host: fake.host, channel: 1 })]);
  try {
    t.iot.start();
    await t.iot.idle();
    assert.equal(t.iot.device("relay-7")!.on, false);
    assert.equal(t.iot.device("relay-7")!.online, true);
    assert.equal(((await t.req("CALL", "/iot/devices/relay-7/on")).body as DeviceView).on, true);
    assert.deepEqual(fake.outputs, [false, true]);
    assert.equal(
      ((await t.req("CALL", "/iot/devices/relay-7/toggle")).body as DeviceView).on,
      false,
    );
    assert.equal(
      ((await t.req("CALL", "/iot/devices/relay-7/toggle")).body as DeviceView).on,
      true,
    );
    assert.equal(((await t.req("CALL", "/iot/devices/relay-7/off")).body as DeviceView).on, false);
    assert.deepEqual(fake.outputs, [false, false]);
    assert.deepEqual(fake.requests, [
      "/rpc/Switch.GetStatus?id=1",
      "/rpc/Switch.Set?id=1&on=true",
      "/rpc/Switch.Toggle?id=1",
      "/rpc/Switch.Toggle?id=1",
      "/rpc/Switch.Set?id=1&on=false",
    ]);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a device that is down answers 502 naming it and goes offline", async () => {
  const port = deadPort();
  const t = rig([
    dev("plug-002", { driver: "tasmota", host: `127.0.0.1:${port}`, timeoutMs: 500 }),
    dev("sim-1"),
  ]);
  try {
    const res = await t.req("CALL", "/iot/devices/plug-002/on");
    assert.deepEqual(res, {
      status: 502,
      error: `device plug-002 at 127.0.0.1:${port} refused the connection`,
    });
    const view = (await t.req("GET", "/iot/devices/plug-002")).body as DeviceView;
    assert.equal(view.online, false);
    assert.equal(view.on, null);
    assert.equal(view.error, res.error);
    assert.deepEqual(t.events.map(([topic, d]) => [topic, d.online]), [[
      "/iot/devices/plug-002",
      false,
    ]]);
    assert.equal(t.iot.counters.failures, 1);
    assert.match(
      t.lines.at(-1)!,
      /WARN {2}device plug-002 at .* refused the connection .*online=false/,
    );
    // Other devices are unaffected.
    assert.equal((await t.req("CALL", "/iot/devices/sim-1/on")).status, 200);
  } finally {
    await t.iot.stop();
  }
});

Deno.test("a device that goes away and comes back is followed by the poller", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 500 })], 10_000);
  try {
    t.iot.start();
    await t.iot.idle();
    assert.equal(t.iot.counters.polls, 1);
    assert.deepEqual(t.iot.device("plug-001"), {
      id: "plug-001",
      kind: "plug",
      label: "plug-001",
      driver: "tasmota",
      on: false,
      online: true,
      error: null,
    });

    await fake.close();
    t.clock.advance(10_000);
    await t.iot.idle();
    assert.equal(t.iot.counters.polls, 2);
    assert.equal(t.iot.device("plug-001")!.online, false);
    assert.match(t.iot.device("plug-001")!.error!, /refused the connection/);

    // Still down at the next poll: no new change, no new event.
    t.clock.advance(10_000);
    await t.iot.idle();
    assert.equal(t.events.length, 2);

    fake.relays[0] = true; // switched on by hand while Portal could not see it
    await fake.reopen();
    t.clock.advance(10_000);
    await t.iot.idle();
    assert.equal(t.iot.device("plug-001")!.online, true);
    assert.equal(t.iot.device("plug-001")!.on, true);
    assert.deepEqual(
      t.events.map(([, d]) => `${d.online}/${d.on}`),
      ["true/false", "false/null", "true/true"],
    );
    assert.deepEqual(t.iot.counters, { polls: 4, changes: 3, failures: 2, commands: 0 });
    assert.match(t.lines.at(-1)!, /INFO {2}device plug-001 is online and on .*by=poll/);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a poll reports a change made on the device as one line and one event", async () => {
  const fake = await startFakeShelly();
  const t = rig([dev("relay-1", { driver: "shelly", host: fake.host })], 5_000);
  try {
    t.iot.start();
    await t.iot.idle();
    const before = t.lines.length;
    fake.outputs[0] = true;
    t.clock.advance(4_999);
    await t.iot.idle();
    assert.equal(t.iot.counters.polls, 1);
    t.clock.advance(1);
    await t.iot.idle();
    assert.equal(t.iot.counters.polls, 2);
    assert.equal(t.lines.length, before + 1);
    assert.match(
      t.lines.at(-1)!,
      /INFO {2}device relay-1 is on component=iot device=relay-1 on=true/,
    );
    assert.deepEqual(t.events.at(-1), ["/iot/devices/relay-1", t.iot.device("relay-1")]);
    assert.equal(t.iot.device("relay-1")!.on, true);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a hanging device does not delay a request to another device", async () => {
  const hanging = await startFakeTasmota();
  const fine = await startFakeShelly();
  const t = rig([
    dev("plug-001", { driver: "tasmota", host: hanging.host, timeoutMs: 3000 }),
    dev("relay-1", { driver: "shelly", host: fine.host }),
  ]);
  try {
    hanging.behaviour = "hang";
    const stuck = t.req("CALL", "/iot/devices/plug-001/on");
    await hanging.received(1);
    const other = await t.req("CALL", "/iot/devices/relay-1/on");
    assert.equal(other.status, 200);
    assert.equal((other.body as DeviceView).on, true);
    assert.equal((await t.req("GET", "/iot/devices")).status, 200);
    assert.equal(await settled(stuck), false);

    t.clock.advance(3000);
    assert.deepEqual(await stuck, {
      status: 504,
      error: `device plug-001 at ${hanging.host} did not answer within 3s`,
    });
    assert.equal(t.iot.device("plug-001")!.online, false);
  } finally {
    await t.iot.stop();
    await hanging.close();
    await fine.close();
  }
});

Deno.test("on the real clock, a hanging device answers 504 within its timeout", async () => {
  const fake = await startFakeTasmota();
  const t = rig(
    [dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 500 })],
    30_000,
    systemClock,
  );
  try {
    fake.behaviour = "hang";
    const started = performance.now();
    const res = await t.req("CALL", "/iot/devices/plug-001/toggle");
    const took = performance.now() - started;
    assert.equal(res.status, 504);
    assert.match(res.error!, /did not answer within 500ms$/);
    assert.ok(took >= 490 && took < 5000, `took ${took}ms`);
    assert.equal(t.iot.device("plug-001")!.online, false);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("polls of one device never overlap", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 5000 })], 1000);
  try {
    fake.behaviour = "hang";
    t.iot.start();
    await fake.received(1);
    for (let i = 0; i < 4; i++) t.clock.advance(1000); // the poll still hangs
    assert.equal(fake.requests.length, 1);
    assert.equal(t.iot.counters.polls, 1);
    t.clock.advance(1000); // 5 s: the poll times out
    await t.iot.idle();
    assert.equal(t.iot.counters.failures, 1);
    fake.behaviour = "normal";
    t.clock.advance(1000);
    await t.iot.idle();
    assert.equal(fake.requests.length, 2);
    assert.equal(t.iot.device("plug-001")!.online, true);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("commands to one device wait their turn, and only so many may wait", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("plug-001", { driver: "tasmota", host: fake.host })]);
  try {
    fake.behaviour = "hang";
    const first = t.req("CALL", "/iot/devices/plug-001/on");
    await fake.received(1);
    const waiting = Array.from(
      { length: MAX_WAITING_COMMANDS },
      () => t.req("CALL", "/iot/devices/plug-001/toggle"),
    );
    const refused = await t.req("CALL", "/iot/devices/plug-001/off");
    assert.equal(refused.status, 503);
    assert.equal(
      refused.error,
      "device busy: plug-001 already has 4 commands waiting; try again shortly",
    );
    assert.equal(fake.requests.length, 1); // serialised: the others have not been sent

    // The device was only slow: it answers within the timeout, and the queue drains in order.
    t.clock.advance(1000);
    fake.behaviour = "normal";
    fake.answerHanging();
    assert.equal(((await first).body as DeviceView).on, true);
    const results = await Promise.all(waiting);
    assert.deepEqual(results.map((r) => (r.body as DeviceView).on), [false, true, false, true]);
    assert.equal(fake.requests.length, 1 + MAX_WAITING_COMMANDS);
    assert.equal(t.clock.pending, 0); // every command's deadline was cleared
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a command waiting behind a hanging one ends at its own deadline, not later", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 3000 })]);
  try {
    fake.behaviour = "hang";
    const first = t.req("CALL", "/iot/devices/plug-001/on");
    await fake.received(1);
    t.clock.advance(1000);
    const second = t.req("CALL", "/iot/devices/plug-001/off"); // arrives at 1 s: deadline 4 s
    t.clock.advance(2000); // 3 s: the first command's time is up
    assert.deepEqual(await first, {
      status: 504,
      error: `device plug-001 at ${fake.host} did not answer within 3s`,
    });
    // The second now has the device, and 1 s left of its 3 s.
    await fake.received(2);
    assert.equal(await settled(second), false);
    t.clock.advance(1000); // 4 s
    assert.deepEqual(await second, {
      status: 504,
      error: `device plug-001 at ${fake.host} did not answer within 3s`,
    });
    assert.equal(t.iot.device("plug-001")!.online, false);
    assert.equal(t.clock.pending, 0);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("40 CALLs to a hanging device: 4 wait, the rest are refused at once, all end by the timeout", async () => {
  const fake = await startFakeTasmota();
  const t = rig([
    dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 3000 }),
    dev("sim-1"),
  ]);
  try {
    fake.behaviour = "hang";
    const calls = Array.from({ length: 40 }, () => t.req("CALL", "/iot/devices/plug-001/on"));
    await fake.received(1);
    const done = await Promise.all(calls.map(settled));
    assert.equal(done.filter((s) => s).length, 40 - 1 - MAX_WAITING_COMMANDS);
    // Other devices and reads are not held up.
    assert.equal((await t.req("CALL", "/iot/devices/sim-1/on")).status, 200);
    assert.equal((await t.req("GET", "/iot/devices/plug-001")).status, 200);

    t.clock.advance(3000);
    const answers = await Promise.all(calls);
    const busy = answers.filter((a) => a.status === 503);
    assert.equal(busy.length, 35);
    assert.ok(busy.every((a) => /^device busy: plug-001 /.test(a.error!)), busy[0].error);
    const late = answers.filter((a) => a.status === 504);
    assert.equal(late.length, 1 + MAX_WAITING_COMMANDS);
    assert.equal(late[0].error, `device plug-001 at ${fake.host} did not answer within 3s`);
    for (const waited of late.slice(1)) {
      assert.equal(
        waited.error,
        `device plug-001 at ${fake.host} did not answer within 3s: it was still busy with an ` +
          "earlier command",
      );
    }
    assert.equal(fake.requests.length, 1);
    assert.equal(t.iot.counters.commands, 2); // the one sent to plug-001, and sim-1
    assert.equal(t.clock.pending, 0);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("on real sockets, 40 CALLs to a hanging device all end within its timeout", async () => {
  const fake = await startFakeTasmota();
  const t = rig(
    [dev("plug-001", { driver: "tasmota", host: fake.host, timeoutMs: 300 })],
    30_000,
    systemClock,
  );
  try {
    fake.behaviour = "hang";
    const started = performance.now();
    const ends: number[] = [];
    const calls = Array.from(
      { length: 40 },
      () =>
        t.req("CALL", "/iot/devices/plug-001/on").then((r) => {
          ends.push(performance.now() - started);
          return r;
        }),
    );
    const answers = await Promise.all(calls);
    const took = performance.now() - started;
    assert.deepEqual(
      [
        answers.filter((a) => a.status === 503).length,
        answers.filter((a) => a.status === 504).length,
      ],
      [35, 5],
    );
    // The refusals come at once; nobody waits past the device's 300 ms (plus scheduling slack).
    assert.ok(ends.filter((ms) => ms < 100).length >= 35, `ends: ${ends.join(", ")}`);
    assert.ok(took >= 290 && took < 1500, `took ${took}ms`);
    assert.ok(fake.requests.length <= 1 + MAX_WAITING_COMMANDS, `${fake.requests.length} sent`);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a caller that gives up gets 504 and leaves the device's state alone", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("plug-001", { driver: "tasmota", host: fake.host })]);
  try {
    assert.equal((await t.req("CALL", "/iot/devices/plug-001/on")).status, 200);
    fake.behaviour = "hang";
    const ctrl = new AbortController();
    const res = t.req("CALL", "/iot/devices/plug-001/off", ctrl.signal);
    await fake.received(2);
    ctrl.abort();
    const answer = await res;
    assert.equal(answer.status, 504);
    assert.match(answer.error!, /cancelled/);
    assert.equal(t.iot.device("plug-001")!.online, true);
    assert.equal(t.iot.device("plug-001")!.on, true);
    assert.equal(t.iot.counters.failures, 0);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("a device answering garbage answers 502 with a sentence", async () => {
  const fake = await startFakeShelly();
  const t = rig([dev("relay-1", { driver: "shelly", host: fake.host })]);
  try {
    fake.behaviour = "garbage";
    const res = await t.req("CALL", "/iot/devices/relay-1/on");
    assert.deepEqual(res, {
      status: 502,
      error:
        `device relay-1 at ${fake.host} answered Switch.Set with something that is not JSON: "OK"`,
    });
    assert.equal(t.iot.device("relay-1")!.online, false);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("stop() cancels polls, queued commands and timers, leaving nothing behind", async () => {
  const fake = await startFakeTasmota();
  const t = rig([
    dev("plug-001", { driver: "tasmota", host: fake.host }),
    dev("sim-1"),
  ], 1000);
  try {
    fake.behaviour = "hang";
    t.iot.start();
    await fake.received(1);
    const queued = t.req("CALL", "/iot/devices/plug-001/on");
    await t.iot.stop();
    assert.deepEqual(await queued, {
      status: 503,
      error: "the on command for device plug-001 was cancelled: the node is shutting down",
    });
    assert.equal(t.clock.pending, 0);
    assert.equal(t.iot.device("plug-001")!.error, null); // shutting down is not the device's fault
    assert.deepEqual(await t.req("CALL", "/iot/devices/sim-1/on"), {
      status: 503,
      error: "device sim-1 was not switched: the node is shutting down",
    });
    assert.equal(fake.requests.length, 1);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("poll_interval 0 reads devices once at start and never again", async () => {
  const fake = await startFakeShelly();
  const t = rig([dev("relay-1", { driver: "shelly", host: fake.host })], 0);
  try {
    t.iot.start();
    await t.iot.idle();
    assert.equal(t.iot.device("relay-1")!.online, true);
    assert.equal(t.clock.pending, 0);
    assert.equal(fake.requests.length, 1);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
});

Deno.test("reconfigure() adds, removes and restarts only the devices whose section changed", async () => {
  const fake = await startFakeTasmota();
  const t = rig([dev("keep-1"), dev("gone-1"), dev("move-1", { label: "old" })]);
  try {
    t.iot.start();
    assert.equal((await t.req("CALL", "/iot/devices/keep-1/on")).status, 200);
    const report = t.iot.reconfigure({
      pollIntervalMs: 30_000,
      devices: [
        dev("keep-1"),
        dev("move-1", { label: "new" }),
        dev("net-1", { driver: "tasmota", host: fake.host }),
      ],
    });
    assert.deepEqual(report, { added: ["net-1"], removed: ["gone-1"], changed: ["move-1"] });
    assert.deepEqual(t.iot.devices().map((d) => [d.id, d.label, d.on]), [
      ["keep-1", "keep-1", true],
      ["move-1", "new", false],
      ["net-1", "net-1", null],
    ]);
    assert.equal((await t.req("GET", "/iot/devices/gone-1")).status, 404);
    await fake.received(1); // the new network device is read at once
    await t.iot.idle();
    assert.equal(t.iot.device("net-1")?.online, true);
  } finally {
    await t.iot.stop();
    await fake.close();
  }
  assert.equal(t.clock.pending, 0);
});
