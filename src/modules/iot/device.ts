/** One device as mod_iot tracks it: its config, driver, last known state and its wait queue. */
import type { DeviceConfig, DriverName } from "../../config/types.ts";
import type { TimerHandle } from "../../util/clock.ts";
import { formatDuration } from "../../util/format.ts";
import type { DeviceDriver } from "./driver.ts";
import { DeviceLock } from "./lock.ts";

/** One device as every way in sees it. */
export interface DeviceView {
  readonly id: string;
  readonly kind: string;
  readonly label: string;
  readonly driver: DriverName;
  /** null while unknown: before the first answer, and while the device is offline. */
  readonly on: boolean | null;
  /** Whether the last exchange with the device succeeded. */
  readonly online: boolean;
  /** Why the device is offline (one sentence); null when online or not yet contacted. */
  readonly error: string | null;
}

/**
 * Commands that may wait behind the one a device is carrying out; more are answered 503
 * at once. Small on purpose: each waiter still ends within the device's timeout, and a
 * device that hangs should cost its callers that timeout and nothing else.
 */
export const MAX_WAITING_COMMANDS = 4;

/** How the link to a device stands; `unknown` until the first exchange. */
export type Link =
  | { readonly kind: "unknown" }
  | { readonly kind: "online" }
  | { readonly kind: "offline"; readonly error: string };

export const ONLINE: Link = { kind: "online" };
const UNKNOWN: Link = { kind: "unknown" };

/** Everything the module tracks about one device. */
export class Device {
  on: boolean | null;
  link: Link;
  pollTimer: TimerHandle | null = null;
  /** One exchange at a time, so a poll's answer never overwrites a newer command's. */
  readonly lock = new DeviceLock(MAX_WAITING_COMMANDS);

  constructor(readonly config: DeviceConfig, readonly driver: DeviceDriver) {
    // A sim switch is known from the start: it is off and always reachable.
    this.on = driver.networked ? null : false;
    this.link = driver.networked ? UNKNOWN : ONLINE;
  }

  get id(): string {
    return this.config.id;
  }

  /** `device plug-001 at 10.0.0.5` (network devices) or `device sim-1`. */
  get named(): string {
    return `device ${this.id}${this.config.host === null ? "" : ` at ${this.config.host}`}`;
  }

  /** The device's own timeout, as written in sentences (`3s`). */
  get timeoutText(): string {
    return formatDuration(this.config.timeoutMs);
  }

  view(): DeviceView {
    return {
      id: this.config.id,
      kind: this.config.kind,
      label: this.config.label,
      driver: this.config.driver,
      on: this.on,
      online: this.link.kind === "online",
      error: this.link.kind === "offline" ? this.link.error : null,
    };
  }
}
