/**
 * A live fuzz: garbage before authentication, then a key holder sending mutated frames —
 * valid framing around bodies with missing, mistyped, huge, nested or forged fields, now and
 * then bytes flipped or a frame header broken. The node must keep serving everyone else,
 * with bounded memory and descriptors.
 */
import { concatBytes } from "../../../src/util/read.ts";
import { mulberry32, randBytes, randInt } from "../../../tests/kit/random.ts";
import { encodeFrame, type MsgType as MsgTypeT } from "../../../src/wire/mod.ts";
import {
  api,
  beforeAfter,
  KEY,
  type Lab,
  ms,
  MsgType,
  outcome,
  procFigures,
  type Scenario,
  sleep,
  steadyLoad,
  wireConnect,
} from "../lab.ts";
import { FACTORY_HEALTH, HUB_AUTH, startTrio } from "./trio.ts";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

const TEMPLATES: { type: MsgTypeT; body: { [k: string]: Json } }[] = [
  {
    type: MsgType.Request,
    body: { id: 1, src: "fuzzer", dst: "hub", method: "GET", path: "/health", args: {}, ttl: 8 },
  },
  {
    type: MsgType.Request,
    body: { id: 2, src: "fuzzer", dst: "factory", method: "LIST", path: "/iot/devices", ttl: 3 },
  },
  {
    type: MsgType.Request,
    body: { id: 3, src: "fuzzer", dst: "hub", method: "CALL", path: "/node/status", args: {} },
  },
  { type: MsgType.Response, body: { id: 4, src: "fuzzer", dst: "hub", status: 200, body: {} } },
  {
    type: MsgType.Event,
    body: { src: "fuzzer", dst: "hub", topic: "presence", data: { full: true, nodes: [] } },
  },
];

/** A value of a random kind, some of them hostile. */
function wild(rand: () => number, depth = 0): Json {
  switch (randInt(rand, 0, 11)) {
    case 0:
      return null;
    case 1:
      return rand() < 0.5;
    case 2:
      return [-1, 0, 2 ** 53, 1e308, -0.5, 4294967296][randInt(rand, 0, 5)];
    case 3:
      return "";
    case 4:
      return "x".repeat(randInt(rand, 1, 70_000));
    case 5:
      return ["/", "/../../etc", "%zz", "/node/hub/node/hub/health", "/" + "a/".repeat(300)][
        randInt(rand, 0, 4)
      ];
    case 6:
      return String.fromCodePoint(...Array.from({ length: 8 }, () => randInt(rand, 1, 0x10ffff)))
        .replace(/[\ud800-\udfff]/g, "?");
    case 7:
      return depth > 30 ? {} : { n: wild(rand, depth + 1) };
    case 8:
      return depth > 30 ? [] : [wild(rand, depth + 1), wild(rand, depth + 1)];
    case 9:
      return ["hub", "factory", "office", "fuzzer", "nobody", ""][randInt(rand, 0, 5)];
    case 10:
      return ["GET", "LIST", "CALL", "get", "DELETE"][randInt(rand, 0, 4)];
    default:
      return randInt(rand, 0, 1_000_000);
  }
}

/** One fuzzed frame: mostly valid framing with a mutated body, sometimes broken bytes. */
function fuzzFrame(rand: () => number, seq: number): { bytes: Uint8Array; breaks: boolean } {
  const t = TEMPLATES[randInt(rand, 0, TEMPLATES.length - 1)];
  if (rand() < 0.05) {
    const type = rand() < 0.5 ? MsgType.Ping : MsgType.Pong;
    return { bytes: encodeFrame(type, randBytes(rand, randInt(rand, 0, 64))), breaks: false };
  }
  const body: { [k: string]: Json } = structuredClone(t.body);
  if ("id" in body) body.id = seq;
  for (let n = randInt(rand, 1, 3); n > 0; n--) {
    const keys = Object.keys(body);
    const r = rand();
    if (r < 0.25 && keys.length > 0) delete body[keys[randInt(rand, 0, keys.length - 1)]];
    else if (r < 0.85 && keys.length > 0) {
      body[keys[randInt(rand, 0, keys.length - 1)]] = wild(rand);
    } else body[`k${randInt(rand, 0, 99)}`] = wild(rand);
  }
  let bytes = encodeFrame(t.type, new TextEncoder().encode(JSON.stringify(body)));
  // Now and then something a receiver must close the link for (PORTAL02 §2).
  const r = rand();
  if (r < 0.002) {
    bytes[11 + randInt(rand, 0, Math.max(0, bytes.length - 12))] ^= 0xff;
    return { bytes, breaks: true };
  }
  if (r < 0.003) {
    bytes = bytes.slice();
    bytes[6] = [0x00, 0x04, 0x05, 0x08, 0xff][randInt(rand, 0, 4)];
    return { bytes, breaks: true };
  }
  if (r < 0.004) {
    new DataView(bytes.buffer, bytes.byteOffset).setUint32(7, 0xfffffff0);
    return { bytes: bytes.subarray(0, 11), breaks: true };
  }
  return { bytes, breaks: false };
}

/** Sends `target` fuzzed frames to the listener at `port`: garbage first, then from a key holder. */
export async function fuzz(
  port: number,
  ca: string,
  target: number,
  rand: () => number,
): Promise<{ frames: number; preAuth: number; links: number }> {
  let frames = 0;
  // Before authentication: random bytes and frames, on connections of their own.
  let preAuth = 0;
  for (let i = 0; i < 200; i++) {
    const c = await wireConnect(port, `127.0.0.${2 + (i % 8)}`, ca).catch(() => null);
    if (c === null) continue;
    for (let k = 0; k < 20; k++) {
      const junk = rand() < 0.5 ? randBytes(rand, randInt(rand, 1, 300)) : fuzzFrame(rand, k).bytes;
      await c.write(junk).catch(() => {});
      preAuth++;
    }
    c.close();
  }
  frames += preAuth;
  // After authentication: batches of mutated frames; a broken one costs the link, so redial.
  let links = 0;
  let seq = 0;
  while (frames < target) {
    const c = await wireConnect(port, "127.0.0.1", ca);
    const verdict = await c.authenticate("fuzzer", KEY);
    if (verdict.status !== 200) throw new Error(`fuzzer refused: ${JSON.stringify(verdict)}`);
    links++;
    const reading = c.drained();
    let open = true;
    while (open && frames < target) {
      const parts: Uint8Array[] = [];
      let size = 0;
      for (let i = 0; i < 200 && frames < target; i++) {
        const f = fuzzFrame(rand, ++seq);
        parts.push(f.bytes);
        size += f.bytes.byteLength;
        frames++;
        if (f.breaks) {
          open = false;
          break;
        }
      }
      await c.write(concatBytes(parts, size)).catch(() => (open = false));
    }
    if (open) c.close();
    await Promise.race([reading, sleep(3000)]);
    c.close();
  }
  return { frames, preAuth, links };
}

export const liveFuzz: Scenario = {
  name: "live fuzz",
  what: "garbage before authentication, then ≥100,000 mutated frames from a key holder",
  async run(lab: Lab, quick: boolean) {
    const { hub, office } = await startTrio(lab);
    const port = hub.fedPort!;
    const { ca } = lab.pem("hub");
    const status0 = (await api(hub.apiPort!, "/api/node/status", { headers: HUB_AUTH })).body as {
      messages_received: number;
      messages_dropped: number;
    };
    const before = procFigures(hub.child.pid);
    const mark = hub.child.log.count;
    const load = steadyLoad(office.apiPort!, FACTORY_HEALTH, 100);
    const rand = mulberry32(0x5eed);
    const t0 = performance.now();
    const { frames, preAuth, links } = await fuzz(port, ca, quick ? 100_000 : 300_000, rand);
    const took = performance.now() - t0;
    await sleep(500);
    const health = await api(hub.apiPort!, "/api/health");
    const tally = await load.stop();
    const after = procFigures(hub.child.pid);
    const status1 = (await api(hub.apiPort!, "/api/node/status", { headers: HUB_AUTH })).body as {
      messages_received: number;
      messages_dropped: number;
    };
    const lines = hub.child.log.count - mark;
    return outcome([
      `${frames} frames in ${ms(took)} (${preAuth} before authentication, the rest on ${links} ` +
      `authenticated links)`,
      `the hub processed ${status1.messages_received - status0.messages_received} messages ` +
      `(${status1.messages_dropped - status0.messages_dropped} dropped), the rest were after a ` +
      `frame that closed the link, or PINGs`,
      `office→factory meanwhile ${tally}`,
      `hub ${beforeAfter(before, after)}`,
      `${lines} log lines`,
    ], {
      "at least 100,000 frames": frames >= 100_000,
      "the hub still answers": health.status === 200 && hub.child.running,
      "office's requests kept flowing": tally.count(200) > 0 && tally.only(200, 502, 504),
      "memory bounded (under +128 MiB)": after.rssMiB - before.rssMiB < 128,
      "no descriptors leaked": after.fds <= before.fds + 4,
      "log bounded (under 1,000 lines)": lines < 1000,
    });
  },
};
