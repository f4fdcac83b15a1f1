/**
 * What the fake Tasmota and Shelly devices share: an HTTP server on
 * 127.0.0.1 (port 0) that records every request, can hang or answer garbage
 * on demand, and can go away and come back on the same port.
 */

/** How a fake answers, switched at will by a test. */
export type FakeBehaviour =
  /** Like the real device. */
  | "normal"
  /** 200 with a body that is not the device's JSON. */
  | "garbage"
  /** Never answers (until the fake closes). */
  | "hang";

/** A running fake device. */
export interface FakeDevice {
  /** `127.0.0.1:<port>`, as a [device:ID] host. */
  readonly host: string;
  readonly port: number;
  behaviour: FakeBehaviour;
  /** Path and query of every request received, as sent. */
  readonly requests: string[];
  /** Resolves once `count` requests have been received in total. */
  received(count: number): Promise<void>;
  /** Answers every request hanging now as `behaviour` says (a device that was only slow). */
  answerHanging(): void;
  /** Stops listening; hanging requests are released first. */
  close(): Promise<void>;
  /** Listens again on the same port after `close()` (the device came back). */
  reopen(): Promise<void>;
}

/** Starts a fake device whose answers come from `answer` (called for a hanging request only after answerHanging()). */
export async function serveFakeDevice(
  answer: (url: URL, behaviour: FakeBehaviour) => Response,
): Promise<FakeDevice> {
  const requests: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let release = Promise.withResolvers<void>();
  let unstall = Promise.withResolvers<"answer">();
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;

  const handler = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    requests.push(url.pathname + url.search);
    for (const w of waiters.filter((w) => requests.length >= w.count)) {
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve();
    }
    if (fake.behaviour === "hang") {
      // Held until close() or answerHanging(): a device that hangs keeps hanging after the
      // client gives up.
      const why = await Promise.race([release.promise, unstall.promise]);
      if (why !== "answer") return new Response(null, { status: 503 });
    }
    return answer(url, fake.behaviour);
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
  const fake: FakeDevice = {
    host: `127.0.0.1:${port}`,
    port,
    behaviour: "normal",
    requests,
    received(count) {
      if (requests.length >= count) return Promise.resolve();
      const w = Promise.withResolvers<void>();
      waiters.push({ count, resolve: w.resolve });
      return w.promise;
    },
    answerHanging() {
      unstall.resolve("answer");
      unstall = Promise.withResolvers<"answer">();
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
