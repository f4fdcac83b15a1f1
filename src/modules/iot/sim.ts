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
    this.#check(signal);
    return Promise.resolve(this.#on);
  }

  set(on: boolean, signal: AbortSignal): Promise<boolean> {
    this.#check(signal);
    this.#on = on;
    return Promise.resolve(this.#on);
  }

  toggle(signal: AbortSignal): Promise<boolean> {
    this.#check(signal);
    this.#on = !this.#on;
    return Promise.resolve(this.#on);
  }

  #check(signal: AbortSignal): void {
    if (signal.aborted) {
      throw new DeviceError("cancelled", `the request to device ${this.id} was cancelled`);
    }
  }
}
