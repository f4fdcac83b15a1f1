import { type FakeBehaviour, type FakeDevice, serveFakeDevice } from "./device_server.ts";

export type { FakeBehaviour } from "./device_server.ts";

/**
 * A fake Shelly Gen2 device for tests: an HTTP server on 127.0.0.1 (port 0)
 * serving `/rpc/Switch.GetStatus|Set|Toggle?id=N` and remembering its switches.
 */

/** Options of {@link startFakeShelly}. */
export interface FakeShellyOptions {
  /** Number of switch channels (`id` 0…n-1). Default 1. */
  readonly switches?: number;
  /** Answer every RPC with 401 and a Digest challenge, as a device with auth enabled does. */
  readonly requireAuth?: boolean;
}

/** A running fake Shelly. */
export interface FakeShelly extends FakeDevice {
  /** Switch outputs by id. Tests may flip them (someone pressed the button). */
  readonly outputs: boolean[];
}

/** Shelly's RPC error answer (HTTP 500 with `{code, message}`). */
function rpcError(code: number, message: string): Response {
  return Response.json({ code, message }, { status: 500 });
}

/** Starts a fake Shelly; close it before the test ends. */
export async function startFakeShelly(options: FakeShellyOptions = {}): Promise<FakeShelly> {
  const outputs = Array.from({ length: options.switches ?? 1 }, () => false);

  const respond = (url: URL, behaviour: FakeBehaviour): Response => {
    if (options.requireAuth) {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate":
            'Digest qop="auth", realm="shellyplus1-test", nonce="1", algorithm=SHA-256',
        },
      });
    }
    if (behaviour === "garbage") return new Response("OK\n");
    const m = /^\/rpc\/(Switch\.(?:GetStatus|Set|Toggle))$/.exec(url.pathname);
    if (!m) return rpcError(404, `No handler for ${url.pathname.replace("/rpc/", "")}`);
    const idText = url.searchParams.get("id");
    if (idText === null) return rpcError(-103, "Missing required argument 'id'!");
    const id = Number(idText);
    if (!Number.isInteger(id) || id < 0 || id >= outputs.length) {
      return rpcError(-105, `Argument 'id', value ${idText} not found!`);
    }
    switch (m[1]) {
      case "Switch.GetStatus":
        return Response.json({
          id,
          source: "http",
          output: outputs[id],
          apower: 0,
          voltage: 230.1,
          temperature: { tC: 40.2, tF: 104.4 },
        });
      case "Switch.Set": {
        const on = url.searchParams.get("on");
        if (on !== "true" && on !== "false") {
          return rpcError(-103, "Missing required argument 'on'!");
        }
        const wasOn = outputs[id];
        outputs[id] = on === "true";
        return Response.json({ was_on: wasOn });
      }
      default: {
        const wasOn = outputs[id];
        outputs[id] = !wasOn;
        return Response.json({ was_on: wasOn });
      }
    }
  };

  return Object.assign(await serveFakeDevice(respond), { outputs });
}
