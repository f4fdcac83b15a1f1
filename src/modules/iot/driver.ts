/** The one interface every device driver implements. */
import type { DriverName } from "../../config/types.ts";

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
