/** `driver = sim`: a switch that lives in memory, for demos and tests. It starts off. */
import type { DeviceDriver } from "./driver.ts";
import { DeviceError } from "./errors.ts";

/** An in-memory switch; remembers its state for the life of the process. */
export class SimDriver implements DeviceDriver {
  readonly name = "sim" as const;
  readonly networked = false;
  #on = false;

  constructor(readonly id: string) {}

  read(signal: AbortSignal): Promise<boolean> {
    return this.#apply(signal, () => this.#on);
  }

  set(on: boolean, signal: AbortSignal): Promise<boolean> {
    return this.#apply(signal, () => (this.#on = on));
  }

  toggle(signal: AbortSignal): Promise<boolean> {
    return this.#apply(signal, () => (this.#on = !this.#on));
  }

  /** Runs `change` unless the call is already cancelled; failures are rejections, never throws. */
  #apply(signal: AbortSignal, change: () => boolean): Promise<boolean> {
    if (signal.aborted) {
      return Promise.reject(
        new DeviceError("cancelled", `the request to device ${this.id} was cancelled`),
      );
    }
    return Promise.resolve(change());
  }
}
