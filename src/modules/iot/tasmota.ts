/**
 * `driver = tasmota`: the Tasmota HTTP command API.
 * `GET http://HOST/cm?cmnd=Power%20On` (`Off`, `Toggle`, or plain `Power` to
 * read) answers `{"POWER":"ON"}`; credentials, when set, go in the query as
 * `user=…&password=…`, which is how Tasmota's /cm checks its WebPassword.
 */
import type { DeviceConfig } from "../../config/types.ts";
import type { DeviceDriver } from "./driver.ts";
import { DeviceError } from "./errors.ts";
import { deviceAt, getJson, type HttpDeps, type HttpTarget, snippet, urlHost } from "./http.ts";

/** Tasmota's fixed web user name; it is the one WEB_USERNAME a stock build accepts. */
export const TASMOTA_DEFAULT_USER = "admin";

/** The payloads sent after `Power`. */
const PowerPayload = { On: "On", Off: "Off", Toggle: "Toggle" } as const;
type PowerPayload = typeof PowerPayload[keyof typeof PowerPayload];

/** Drives one relay of a Tasmota device. */
export class TasmotaDriver implements DeviceDriver {
  readonly name = "tasmota" as const;
  readonly networked = true;
  readonly #deps: HttpDeps;
  readonly #target: HttpTarget;
  readonly #command: string;
  readonly #answerKeys: readonly string[];
  readonly #auth: string;

  constructor(config: DeviceConfig, deps: HttpDeps) {
    this.#deps = deps;
    this.#target = { id: config.id, host: config.host ?? "", timeoutMs: config.timeoutMs };
    // Tasmota numbers relays from 1; channel 0 (the default) is the plain `Power` command.
    this.#command = config.channel > 0 ? `Power${config.channel}` : "Power";
    this.#answerKeys = config.channel === 0
      ? ["POWER", "POWER1"]
      : config.channel === 1
      ? ["POWER1", "POWER"]
      : [`POWER${config.channel}`];
    this.#auth = config.user !== null || config.password !== null
      ? `user=${enc(config.user ?? TASMOTA_DEFAULT_USER)}&password=${enc(config.password ?? "")}&`
      : "";
  }

  /** The exact URL sent for `cmnd` (which carries the password when one is configured). */
  commandUrl(payload?: PowerPayload): string {
    const cmnd = payload === undefined ? this.#command : `${this.#command} ${payload}`;
    return `http://${urlHost(this.#target.host)}/cm?${this.#auth}cmnd=${enc(cmnd)}`;
  }

  read(signal: AbortSignal): Promise<boolean> {
    return this.#run(undefined, signal);
  }

  set(on: boolean, signal: AbortSignal): Promise<boolean> {
    return this.#run(on ? PowerPayload.On : PowerPayload.Off, signal);
  }

  toggle(signal: AbortSignal): Promise<boolean> {
    return this.#run(PowerPayload.Toggle, signal);
  }

  async #run(payload: PowerPayload | undefined, signal: AbortSignal): Promise<boolean> {
    const what = payload === undefined ? this.#command : `${this.#command} ${payload}`;
    const answer = await getJson(this.#deps, this.#target, this.commandUrl(payload), what, signal);
    return this.#parse(answer, what);
  }

  #parse(answer: unknown, what: string): boolean {
    const at = deviceAt(this.#target);
    if (typeof answer !== "object" || answer === null || Array.isArray(answer)) {
      throw new DeviceError(
        "bad_answer",
        `${at} answered ${what} with ${snippet(JSON.stringify(answer))}, not a JSON object`,
      );
    }
    const fields = new Map(
      Object.entries(answer as Record<string, unknown>).map(([k, v]) => [k.toUpperCase(), v]),
    );
    const warning = fields.get("WARNING");
    // Tasmota answers a missing or wrong password with HTTP 200 and this warning.
    if (typeof warning === "string" && /user=.*password=/i.test(warning)) {
      throw new DeviceError(
        "auth",
        `${at} rejected ${what}: it needs a user and password ` +
          `(set user and password in [device:${this.#target.id}] to its WebPassword)`,
      );
    }
    for (const key of this.#answerKeys) {
      if (!fields.has(key)) continue;
      const state = parseState(fields.get(key));
      if (state !== null) return state;
      throw new DeviceError(
        "bad_answer",
        `${at} answered ${what} with ${key} = ${snippet(JSON.stringify(fields.get(key)))}, ` +
          `which is neither ON nor OFF`,
      );
    }
    throw new DeviceError(
      "bad_answer",
      `${at} answered ${what} without ${this.#answerKeys.join(" or ")}: ` +
        `${snippet(JSON.stringify(answer))}`,
    );
  }
}

function parseState(value: unknown): boolean | null {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value === 1 ? true : value === 0 ? false : null;
  if (typeof value !== "string") return null;
  const v = value.trim().toUpperCase();
  if (v === "ON" || v === "1" || v === "TRUE") return true;
  if (v === "OFF" || v === "0" || v === "FALSE") return false;
  return null;
}

/** Percent-encodes a query value; spaces become %20 as Tasmota's own examples show. */
function enc(value: string): string {
  return encodeURIComponent(value);
}
