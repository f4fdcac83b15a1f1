/** mod_iot: devices driven by this node (sim, Tasmota, Shelly Gen2), served under /iot. */
export {
  createIotModule,
  DeviceAction,
  type IotCounters,
  type IotDeps,
  type IotModule,
  type IotReload,
} from "./module.ts";
export { type DeviceView, MAX_WAITING_COMMANDS } from "./device.ts";
export type { DeviceDriver } from "./driver.ts";
export { createDriver } from "./registry.ts";
export { SimDriver } from "./sim.ts";
export { TASMOTA_DEFAULT_USER, TasmotaDriver } from "./tasmota.ts";
export { ShellyDriver, ShellyMethod } from "./shelly.ts";
export { DeviceError, type DeviceErrorCode } from "./errors.ts";
export { type HttpDeps, MAX_ANSWER_BYTES } from "./http.ts";
