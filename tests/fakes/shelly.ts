/**
 * A fake Shelly Gen2 device for tests: an HTTP server on 127.0.0.1 (port 0)
 * serving `/rpc/Switch.GetStatus|Set|Toggle?id=N` and remembering its switches.
 */

/** How the fake answers, switched at will by a test. */
export type FakeBehaviour =
  /** Like the real device. */
  | "normal"
  /** 200 with a body that is not JSON. */
  | "garbage"
  /** Never answers (until the fake closes). */
  | "hang";

/** Options of {@link startFakeShelly}. */
export interface FakeShellyOptions {
  /** Number of switch channels (`id` 0…n-1). Default 1. */
  readonly switches?: number;
  /** Answer every RPC with 401 and a Digest challenge, as a device with auth enabled does. */
  readonly requireAuth?: boolean;
}

/** A running fake Shelly. */
export interface FakeShelly {
  /** `127.0.0.1:<port>`, as a [device:ID] host. */
  readonly host: string;
  readonly port: number;
  /** Switch outputs by id. Tests may flip them (someone pressed the button). */
  readonly outputs: boolean[];
  behaviour: FakeBehaviour;
  /** Path and query of every request received, as sent. */
  readonly requests: string[];
  /** Resolves once `count` requests have been received in total. */
  received(count: number): Promise<void>;
  /** Stops listening; hanging requests are released first. */
  close(): Promise<void>;
  /** Listens again on the same port after `close()`. */
  reopen(): Promise<void>;
}

/** Shelly's RPC error answer (HTTP 500 with `{code, message}`). */
function rpcError(code: number, message: string): Response {
  return Response.json({ code, message }, { status: 500 });
}

/** Starts a fake Shelly; close it before the test ends. */
export async function startFakeShelly(options: FakeShellyOptions = {}): Promise<FakeShelly> {
  const outputs = Array.from({ length: options.switches ?? 1 }, () => false);
  const requests: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let release = Promise.withResolvers<void>();
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    for (const w of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    if (fake.behaviour === "hang") {
      // Held until close(): a device that hangs keeps hanging after the client gives up.
      await release.promise;
      return new Response(null, { status: 503 });
    }
    if (options.requireAuth) {
      return new Response(null, {
        status: 401,
        headers: {
          "www-authenticate":
            'Digest qop="auth", realm="shellyplus1-test", nonce="1", algorithm=SHA-256',
        },
      });
    }
    if (fake.behaviour === "garbage") return new Response("OK\n");
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

  const listen = (port: number): Promise<void> => {
    const ready = Promise.withResolvers<void>();
    server = Deno.serve(
      { hostname: "127.0.0.1", port, onListen: () => ready.resolve() },
      handler,
    );
    return ready.promise;
  };

  await listen(0);
  const port = server!.addr.port;
  const fake: FakeShelly = {
    host: `127.0.0.1:${port}`,
    port,
    outputs,
    behaviour: "normal",
    requests,
    received(count) {
      if (requests.length >= count) return Promise.resolve();
      const w = Promise.withResolvers<void>();
      waiters.push({ count, resolve: w.resolve });
      return w.promise;
    },
    async close() {
      release.resolve();
      if (server) {
        const s = server;
        server = null;
        await s.shutdown();
      }
      release = Promise.withResolvers<void>();
    },
    async reopen() {
      if (server === null) await listen(port);
    },
  };
  return fake;
}
