/**
 * A fake Tasmota device for tests: an HTTP server on 127.0.0.1 (port 0) that
 * serves `/cm?cmnd=Power…` as Tasmota does and remembers its relays.
 */

/** How the fake answers, switched at will by a test. */
export type FakeBehaviour =
  /** Like the real device. */
  | "normal"
  /** 200 with an HTML page instead of JSON. */
  | "garbage"
  /** Never answers (until the fake closes). */
  | "hang";

/** Options of {@link startFakeTasmota}. */
export interface FakeTasmotaOptions {
  /** When set, /cm requires `user=…&password=…`, as Tasmota's WebPassword does. Default: none. */
  readonly password?: string;
  /** The user name accepted with `password`. Default `admin` (Tasmota's WEB_USERNAME). */
  readonly user?: string;
  /** How a bad password is answered: `warning` (HTTP 200, as Tasmota does) or `401`. Default `warning`. */
  readonly authFailure?: "warning" | "401";
  /** Number of relays. Default 1; with one relay answers use `POWER`, else `POWER1`…`POWERn`. */
  readonly relays?: number;
}

/** A running fake Tasmota. */
export interface FakeTasmota {
  /** `127.0.0.1:<port>`, as a [device:ID] host. */
  readonly host: string;
  readonly port: number;
  /** Relay states; index 0 is relay 1. Tests may flip them (someone pressed the button). */
  readonly relays: boolean[];
  behaviour: FakeBehaviour;
  /** Path and query of every request received, as sent. */
  readonly requests: string[];
  /** Resolves once `count` requests have been received in total. */
  received(count: number): Promise<void>;
  /** Stops listening; hanging requests are released first. */
  close(): Promise<void>;
  /** Listens again on the same port after `close()` (the device came back). */
  reopen(): Promise<void>;
}

const WARNING_NEED_AUTH = { WARNING: "Need user=<username>&password=<password>" };

/** Starts a fake Tasmota; close it before the test ends. */
export async function startFakeTasmota(options: FakeTasmotaOptions = {}): Promise<FakeTasmota> {
  const relays = Array.from({ length: options.relays ?? 1 }, () => false);
  const requests: string[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  let release = Promise.withResolvers<void>();
  let server: Deno.HttpServer<Deno.NetAddr> | null = null;

  const answer = (cmnd: string): unknown => {
    const m = /^power(\d*)(?:\s+(.*))?$/i.exec(cmnd.trim());
    if (!m) return { Command: "Unknown" };
    const index = m[1] === "" ? 1 : Number(m[1]);
    if (index < 1 || index > relays.length) return { Command: "Unknown" };
    const payload = (m[2] ?? "").trim().toLowerCase();
    const i = index - 1;
    if (["on", "1", "true"].includes(payload)) relays[i] = true;
    else if (["off", "0", "false"].includes(payload)) relays[i] = false;
    else if (["toggle", "2"].includes(payload)) relays[i] = !relays[i];
    else if (payload !== "") return { Command: "Error" };
    const key = relays.length === 1 ? "POWER" : `POWER${index}`;
    return { [key]: relays[i] ? "ON" : "OFF" };
  };

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
    if (url.pathname !== "/cm") return new Response("Not found", { status: 404 });
    if (fake.behaviour === "garbage") {
      return new Response("<html><body>Tasmota</body></html>", {
        headers: { "content-type": "text/html" },
      });
    }
    const q = url.searchParams;
    if (options.password !== undefined) {
      const good = q.get("user") === (options.user ?? "admin") &&
        q.get("password") === options.password;
      if (!good) {
        return options.authFailure === "401"
          ? new Response("Unauthorized", { status: 401 })
          : Response.json(WARNING_NEED_AUTH);
      }
    }
    const cmnd = q.get("cmnd") ?? "";
    if (cmnd === "") return Response.json({ WARNING: "Enter command cmnd=" });
    return Response.json(answer(cmnd));
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
  const fake: FakeTasmota = {
    host: `127.0.0.1:${port}`,
    port,
    relays,
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
