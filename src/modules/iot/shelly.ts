/**
 * `driver = shelly`: Shelly Gen2+ RPC over HTTP GET.
 * `Switch.GetStatus?id=N` answers `{"output": bool, …}`; `Switch.Set?id=N&on=B`
 * and `Switch.Toggle?id=N` answer `{"was_on": bool}`, the state *before* the call.
 */
import type { DeviceConfig } from "../../config/types.ts";
import type { DeviceDriver } from "./driver.ts";
import { DeviceError } from "./errors.ts";
import { deviceAt, getJson, type HttpDeps, type HttpTarget, snippet, urlHost } from "./http.ts";

/** The RPC methods used, as they appear in the URL. */
export const ShellyMethod = {
  GetStatus: "Switch.GetStatus",
  Set: "Switch.Set",
  Toggle: "Switch.Toggle",
} as const;
export type ShellyMethod = typeof ShellyMethod[keyof typeof ShellyMethod];

/** Drives one switch channel (`id`) of a Shelly Gen2+ device. */
export class ShellyDriver implements DeviceDriver {
  readonly name = "shelly" as const;
  readonly networked = true;
  readonly #deps: HttpDeps;
  readonly #target: HttpTarget;
  readonly #channel: number;

  constructor(config: DeviceConfig, deps: HttpDeps) {
    this.#deps = deps;
    this.#target = { id: config.id, host: config.host ?? "", timeoutMs: config.timeoutMs };
    this.#channel = config.channel;
  }

  /** The exact URL sent for `method`. */
  rpcUrl(method: ShellyMethod, on?: boolean): string {
    const extra = on === undefined ? "" : `&on=${on}`;
    return `http://${urlHost(this.#target.host)}/rpc/${method}?id=${this.#channel}${extra}`;
  }

  async read(signal: AbortSignal): Promise<boolean> {
    const answer = await this.#call(ShellyMethod.GetStatus, undefined, signal);
    return this.#field(answer, "output", ShellyMethod.GetStatus);
  }

  /**
   * The device acknowledges Switch.Set with the *previous* state; a success
   * means the output now is `on`, so no read-back round trip is spent.
   */
  async set(on: boolean, signal: AbortSignal): Promise<boolean> {
    const answer = await this.#call(ShellyMethod.Set, on, signal);
    this.#field(answer, "was_on", ShellyMethod.Set);
    return on;
  }

  async toggle(signal: AbortSignal): Promise<boolean> {
    const answer = await this.#call(ShellyMethod.Toggle, undefined, signal);
    return !this.#field(answer, "was_on", ShellyMethod.Toggle);
  }

  async #call(method: ShellyMethod, on: boolean | undefined, signal: AbortSignal) {
    try {
      return await getJson(this.#deps, this.#target, this.rpcUrl(method, on), method, signal);
    } catch (e) {
      if (e instanceof DeviceError && e.code === "auth") {
        throw new DeviceError(
          "auth",
          `${deviceAt(this.#target)} refused ${method}: it has authentication enabled, ` +
            `which Portal does not support for Shelly devices (turn it off on the device)`,
        );
      }
      throw e;
    }
  }

  #field(answer: unknown, name: "output" | "was_on", method: ShellyMethod): boolean {
    if (typeof answer === "object" && answer !== null && !Array.isArray(answer)) {
      const value = (answer as Record<string, unknown>)[name];
      if (typeof value === "boolean") return value;
    }
    throw new DeviceError(
      "bad_answer",
      `${deviceAt(this.#target)} answered ${method} without a true/false "${name}": ` +
        `${snippet(JSON.stringify(answer) ?? String(answer))}`,
    );
  }
}
