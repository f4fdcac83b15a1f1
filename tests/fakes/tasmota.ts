import { type FakeBehaviour, type FakeDevice, serveFakeDevice } from "./device_server.ts";

export type { FakeBehaviour } from "./device_server.ts";

/**
 * A fake Tasmota device for tests: an HTTP server on 127.0.0.1 (port 0) that
 * serves `/cm?cmnd=Power…` as Tasmota does and remembers its relays.
 */

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
export interface FakeTasmota extends FakeDevice {
  /** Relay states; index 0 is relay 1. Tests may flip them (someone pressed the button). */
  readonly relays: boolean[];
}

const WARNING_NEED_AUTH = { WARNING: "Need user=<username>&password=<password>" };

/** Starts a fake Tasmota; close it before the test ends. */
export async function startFakeTasmota(options: FakeTasmotaOptions = {}): Promise<FakeTasmota> {
  const relays = Array.from({ length: options.relays ?? 1 }, () => false);

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

  const respond = (url: URL, behaviour: FakeBehaviour): Response => {
    if (url.pathname !== "/cm") return new Response("Not found", { status: 404 });
    if (behaviour === "garbage") {
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

  return Object.assign(await serveFakeDevice(respond), { relays });
}
