/** The one interface every device driver implements, and the factory that picks one. */
import type { DeviceConfig, DriverName } from "../../config/types.ts";
import type { HttpDeps } from "./http.ts";
import { SimDriver } from "./sim.ts";
import { ShellyDriver } from "./shelly.ts";
import { TasmotaDriver } from "./tasmota.ts";

/**
 * Reads and switches one device. Every method answers the device's state after
 * the call (true = on) and throws DeviceError on failure. `signal` cancels the
 * call (the caller went away, the module is stopping); each network call is also
 * bounded by the device's own timeout.
 */
export interface DeviceDriver {
  /** Which driver this is, as named in the config. */
  readonly name: DriverName;
  /** Whether the state lives on the network (and so is worth polling). */
  readonly networked: boolean;
  read(signal: AbortSignal): Promise<boolean>;
  set(on: boolean, signal: AbortSignal): Promise<boolean>;
  toggle(signal: AbortSignal): Promise<boolean>;
}

/** Builds the driver a [device:ID] section asks for. The config must already be validated. */
export function createDriver(config: DeviceConfig, deps: HttpDeps): DeviceDriver {
  switch (config.driver) {
    case "sim":
      return new SimDriver(config.id);
    case "tasmota":
      return new TasmotaDriver(config, deps);
    case "shelly":
      return new ShellyDriver(config, deps);
  }
}
