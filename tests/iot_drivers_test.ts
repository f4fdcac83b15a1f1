import assert from "node:assert/strict";
import type { DeviceConfig } from "../src/config/types.ts";
import { systemClock } from "../src/util/clock.ts";
import {
  createDriver,
  DeviceError,
  MAX_ANSWER_BYTES,
  ShellyDriver,
  ShellyMethod,
  SimDriver,
  TasmotaDriver,
} from "../src/modules/iot/mod.ts";
import { startFakeTasmota } from "./fakes/tasmota.ts";
import { startFakeShelly } from "./fakes/shelly.ts";
import { deadPort, FakeClock } from "./kit/mod.ts";

function dev(over: Partial<DeviceConfig> = {}): DeviceConfig {
  return {
    id: "plug-001",
    driver: "tasmota",
    host: null,
    kind: "plug",
    label: "Press line plug",
    user: null,
    password: null,
    channel: 0,
    timeoutMs: 2000,
    ...over,
  };
}

const live = { fetch, clock: systemClock };
const never = new AbortController().signal;

async function deviceError(p: Promise<unknown>): Promise<DeviceError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof DeviceError, `expected a DeviceError, got ${e}`);
    return e;
  }
  throw new Error("expected a DeviceError, but the call succeeded");
}

Deno.test("sim driver starts off and remembers its state", async () => {
  const sim = new SimDriver("sim-1");
  assert.equal(await sim.read(never), false);
  assert.equal(await sim.set(true, never), true);
  assert.equal(await sim.read(never), true);
  assert.equal(await sim.toggle(never), false);
  assert.equal(await sim.toggle(never), true);
  assert.equal(await sim.read(never), true);
  assert.equal(await sim.set(false, never), false);
  assert.equal(await sim.read(never), false);
});

Deno.test("sim driver refuses a cancelled call", async () => {
  const sim = new SimDriver("sim-1");
  const err = await deviceError(sim.set(true, AbortSignal.abort()));
  assert.equal(err.code, "cancelled");
  assert.equal(await sim.read(never), false);
});

Deno.test("createDriver() picks the driver named in the config", () => {
  assert.ok(createDriver(dev({ driver: "sim" }), live) instanceof SimDriver);
  assert.ok(createDriver(dev({ host: "h" }), live) instanceof TasmotaDriver);
  assert.ok(createDriver(dev({ driver: "shelly", host: "h" }), live) instanceof ShellyDriver);
});

Deno.test("tasmota driver sends the documented URLs", () => {
  const t = new TasmotaDriver(dev({ host: "10.0.0.5" }), live);
  assert.equal(t.commandUrl(), "http://10.0.0.5/cm?cmnd=Power");
  assert.equal(t.commandUrl("On"), "http://10.0.0.5/cm?cmnd=Power%20On");
  assert.equal(t.commandUrl("Off"), "http://10.0.0.5/cm?cmnd=Power%20Off");
  assert.equal(t.commandUrl("Toggle"), "http://10.0.0.5/cm?cmnd=Power%20Toggle");
  const auth = new TasmotaDriver(
    dev({ host: "10.0.0.5:8080", user: "admin", password: "p&ss word", channel: 2 }),
    live,
  );
  assert.equal(
    auth.commandUrl("On"),
    "http://10.0.0.5:8080/cm?user=admin&password=p%26ss%20word&cmnd=Power2%20On",
  );
  const passwordOnly = new TasmotaDriver(dev({ host: "h", password: "x" }), live);
  assert.equal(passwordOnly.commandUrl(), "http://h/cm?user=admin&password=x&cmnd=Power");
});

Deno.test("a bare IPv6 host gets brackets in the URL; host:port is kept as written", () => {
  const v6 = new TasmotaDriver(dev({ host: "fe80::1" }), live);
  assert.equal(v6.commandUrl(), "http://[fe80::1]/cm?cmnd=Power");
  const v6port = new ShellyDriver(dev({ driver: "shelly", host: "[::1]:8080" }), live);
  assert.equal(
    v6port.rpcUrl(ShellyMethod.GetStatus),
    "http://[::1]:8080/rpc/Switch.GetStatus?id=0",
  );
  const named = new ShellyDriver(dev({ driver: "shelly", host: "relay.local:8123" }), live);
  assert.equal(named.rpcUrl(ShellyMethod.Toggle), "http://relay.local:8123/rpc/Switch.Toggle?id=0");
});

Deno.test("tasmota driver switches and reads a device", async () => {
  const fake = await startFakeTasmota();
  try {
    const t = new TasmotaDriver(dev({ host: fake.host }), live);
    assert.equal(await t.read(never), false);
    assert.equal(await t.set(true, never), true);
    assert.deepEqual(fake.relays, [true]);
    assert.equal(await t.read(never), true);
    assert.equal(await t.toggle(never), false);
    assert.deepEqual(fake.relays, [false]);
    assert.equal(await t.set(false, never), false);
    fake.relays[0] = true; // someone pressed the button on the device
    assert.equal(await t.read(never), true);
    assert.deepEqual(fake.requests, [
      "/cm?cmnd=Power",
      "/cm?cmnd=Power%20On",
      "/cm?cmnd=Power",
      "/cm?cmnd=Power%20Toggle",
      "/cm?cmnd=Power%20Off",
      "/cm?cmnd=Power",
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("tasmota driver drives one relay of a multi-relay device (POWERn answers)", async () => {
  const fake = await startFakeTasmota({ relays: 3 });
  try {
    const first = new TasmotaDriver(dev({ host: fake.host }), live);
    const third = new TasmotaDriver(dev({ host: fake.host, channel: 3 }), live);
    assert.equal(await first.set(true, never), true); // answered as POWER1
    assert.equal(await third.toggle(never), true); // answered as POWER3
    assert.deepEqual(fake.relays, [true, false, true]);
    assert.equal(await third.read(never), true);
    assert.equal(fake.requests[1], "/cm?cmnd=Power3%20Toggle");
  } finally {
    await fake.close();
  }
});

Deno.test("tasmota driver sends user and password and works with them", async () => {
  const fake = await startFakeTasmota({ password: "joker" });
  try {
    const t = new TasmotaDriver(dev({ host: fake.host, user: "admin", password: "joker" }), live);
    assert.equal(await t.set(true, never), true);
    assert.deepEqual(fake.relays, [true]);
    assert.equal(fake.requests[0], "/cm?user=admin&password=joker&cmnd=Power%20On");
  } finally {
    await fake.close();
  }
});

Deno.test("tasmota driver reports a missing or wrong password as an auth error", async () => {
  for (const authFailure of ["warning", "401"] as const) {
    const fake = await startFakeTasmota({ password: "joker", authFailure });
    try {
      for (const password of [null, "wrong"]) {
        const t = new TasmotaDriver(dev({ host: fake.host, password }), live);
        const err = await deviceError(t.set(true, never));
        assert.equal(err.code, "auth", `${authFailure}/${password}: ${err.message}`);
        assert.match(err.message, new RegExp(`^device plug-001 at ${fake.host} `));
        assert.match(err.message, /\[device:plug-001\]/);
        assert.doesNotMatch(err.message, /wrong|joker/); // never echo a password
      }
      assert.deepEqual(fake.relays, [false]);
    } finally {
      await fake.close();
    }
  }
});

Deno.test("tasmota driver turns garbage into a bad_answer sentence", async () => {
  const fake = await startFakeTasmota();
  try {
    fake.behaviour = "garbage";
    const t = new TasmotaDriver(dev({ host: fake.host }), live);
    const err = await deviceError(t.read(never));
    assert.equal(err.code, "bad_answer");
    assert.match(err.message, /answered Power with something that is not JSON: "<html>/);
    // A JSON answer without the relay asked for is just as wrong.
    fake.behaviour = "normal";
    const missing = new TasmotaDriver(dev({ host: fake.host, channel: 4 }), live);
    const err2 = await deviceError(missing.read(never));
    assert.equal(err2.code, "bad_answer");
    assert.match(err2.message, /without POWER4: "\{\\"Command\\":\\"Unknown\\"\}"/);
  } finally {
    await fake.close();
  }
});

Deno.test("shelly driver sends the documented URLs", () => {
  const s = new ShellyDriver(dev({ driver: "shelly", host: "10.0.0.6", channel: 1 }), live);
  assert.equal(s.rpcUrl(ShellyMethod.GetStatus), "http://10.0.0.6/rpc/Switch.GetStatus?id=1");
  assert.equal(s.rpcUrl(ShellyMethod.Set, true), "http://10.0.0.6/rpc/Switch.Set?id=1&on=true");
  assert.equal(s.rpcUrl(ShellyMethod.Set, false), "http://10.0.0.6/rpc/Switch.Set?id=1&on=false");
  assert.equal(s.rpcUrl(ShellyMethod.Toggle), "http://10.0.0.6/rpc/Switch.Toggle?id=1");
});

Deno.test("shelly driver switches and reads a channel", async () => {
  const fake = await startFakeShelly({ switches: 2 });
  try {
    const s = new ShellyDriver(dev({ driver: "shelly", host: fake.host, channel: 1 }), live);
    assert.equal(await s.read(never), false);
    assert.equal(await s.set(true, never), true);
    assert.deepEqual(fake.outputs, [false, true]);
    assert.equal(await s.set(true, never), true); // was_on: true, still on
    assert.equal(await s.toggle(never), false);
    assert.equal(await s.toggle(never), true);
    assert.equal(await s.set(false, never), false);
    assert.deepEqual(fake.outputs, [false, false]);
    fake.outputs[1] = true;
    assert.equal(await s.read(never), true);
    assert.deepEqual(fake.requests, [
      "/rpc/Switch.GetStatus?id=1",
      "/rpc/Switch.Set?id=1&on=true",
      "/rpc/Switch.Set?id=1&on=true",
      "/rpc/Switch.Toggle?id=1",
      "/rpc/Switch.Toggle?id=1",
      "/rpc/Switch.Set?id=1&on=false",
      "/rpc/Switch.GetStatus?id=1",
    ]);
  } finally {
    await fake.close();
  }
});

Deno.test("shelly driver reports RPC errors, auth and garbage as sentences", async () => {
  const fake = await startFakeShelly();
  const locked = await startFakeShelly({ requireAuth: true });
  try {
    const wrongChannel = new ShellyDriver(
      dev({ driver: "shelly", host: fake.host, channel: 5 }),
      live,
    );
    const rpc = await deviceError(wrongChannel.set(true, never));
    assert.equal(rpc.code, "http_status");
    assert.equal(
      rpc.message,
      `device plug-001 at ${fake.host} answered HTTP 500 to Switch.Set: ` +
        `"Argument 'id', value 5 not found!"`,
    );

    const auth = await deviceError(
      new ShellyDriver(dev({ driver: "shelly", host: locked.host }), live).read(never),
    );
    assert.equal(auth.code, "auth");
    assert.match(auth.message, /authentication enabled.*turn it off on the device/);

    fake.behaviour = "garbage";
    const s = new ShellyDriver(dev({ driver: "shelly", host: fake.host }), live);
    const garbage = await deviceError(s.toggle(never));
    assert.equal(garbage.code, "bad_answer");
    assert.match(garbage.message, /answered Switch.Toggle with something that is not JSON: "OK"/);
  } finally {
    await fake.close();
    await locked.close();
  }
});

Deno.test("a refused connection is a 'refused' sentence naming device and host", async () => {
  const host = `127.0.0.1:${deadPort()}`;
  for (const driver of ["tasmota", "shelly"] as const) {
    const d = createDriver(dev({ driver, host }), live);
    const err = await deviceError(d.read(never));
    assert.equal(err.code, "refused");
    assert.equal(err.message, `device plug-001 at ${host} refused the connection`);
  }
});

Deno.test("a device that never answers times out on the injected clock", async () => {
  const fake = await startFakeTasmota();
  try {
    fake.behaviour = "hang";
    const clock = new FakeClock();
    const t = new TasmotaDriver(dev({ host: fake.host, timeoutMs: 3000 }), { fetch, clock });
    const call = deviceError(t.set(true, never));
    await fake.received(1);
    clock.advance(2999);
    assert.equal(clock.pending, 1); // not yet
    clock.advance(1);
    const err = await call;
    assert.equal(err.code, "timeout");
    assert.equal(err.message, `device plug-001 at ${fake.host} did not answer within 3s`);
    assert.equal(clock.pending, 0);
  } finally {
    await fake.close();
  }
});

Deno.test("a real-time timeout fires within the device's timeoutMs", async () => {
  const fake = await startFakeShelly();
  try {
    fake.behaviour = "hang";
    const s = new ShellyDriver(dev({ driver: "shelly", host: fake.host, timeoutMs: 300 }), live);
    const started = performance.now();
    const err = await deviceError(s.read(never));
    const took = performance.now() - started;
    assert.equal(err.code, "timeout");
    assert.match(err.message, /did not answer within 300ms$/);
    assert.ok(took >= 290 && took < 5000, `took ${took}ms`);
  } finally {
    await fake.close();
  }
});

Deno.test("cancelling a call is 'cancelled', not a device fault", async () => {
  const fake = await startFakeTasmota();
  try {
    fake.behaviour = "hang";
    const ctrl = new AbortController();
    const clock = new FakeClock();
    const t = new TasmotaDriver(dev({ host: fake.host }), { fetch, clock });
    const call = deviceError(t.read(ctrl.signal));
    await fake.received(1);
    ctrl.abort();
    const err = await call;
    assert.equal(err.code, "cancelled");
    assert.equal(err.deviceFault, false);
    assert.equal(clock.pending, 0);
  } finally {
    await fake.close();
  }
});

Deno.test("an oversized answer is refused without reading it all", async () => {
  const big = "x".repeat(MAX_ANSWER_BYTES + 1);
  const fakeFetch: typeof fetch = () => Promise.resolve(new Response(big));
  const t = new TasmotaDriver(dev({ host: "10.0.0.5" }), { fetch: fakeFetch, clock: systemClock });
  const err = await deviceError(t.read(never));
  assert.equal(err.code, "bad_answer");
  assert.match(err.message, /more than 16384 bytes/);
});

Deno.test("an unresolvable name is an 'unreachable' sentence", async () => {
  const fakeFetch: typeof fetch = () =>
    Promise.reject(
      new TypeError("fetch failed", {
        cause: new Error(
          "error sending request for url (http://plug.invalid/cm?cmnd=Power): client error " +
            "(Connect): dns error: failed to lookup address information: Name or service not known",
        ),
      }),
    );
  const t = new TasmotaDriver(dev({ host: "plug.invalid" }), {
    fetch: fakeFetch,
    clock: systemClock,
  });
  const err = await deviceError(t.read(never));
  assert.equal(err.code, "unreachable");
  assert.equal(
    err.message,
    `device plug-001 at plug.invalid could not be reached: the name "plug.invalid" does not resolve`,
  );
});
