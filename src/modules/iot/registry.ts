/** The driver registry: which class serves each `driver =` name of a [device:ID]. */
import type { DeviceConfig } from "../../config/types.ts";
import type { DeviceDriver } from "./driver.ts";
import type { HttpDeps } from "./http.ts";
import { ShellyDriver } from "./shelly.ts";
import { SimDriver } from "./sim.ts";
import { TasmotaDriver } from "./tasmota.ts";

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
