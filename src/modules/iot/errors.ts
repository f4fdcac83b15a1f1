/** How an exchange with a device fails. */

/** Why an exchange with a device failed. */
export type DeviceErrorCode =
  /** No answer within the device's timeout. */
  | "timeout"
  /** The host actively refused the TCP connection (nothing listening). */
  | "refused"
  /** Name resolution or routing failed, or the connection broke. */
  | "unreachable"
  /** The device answered with a non-success HTTP status. */
  | "http_status"
  /** The device wants credentials Portal does not have (or rejected the ones it has). */
  | "auth"
  /** The device answered, but not with a power state Portal understands. */
  | "bad_answer"
  /** Portal gave up waiting: the caller went away or the module is stopping. */
  | "cancelled"
  /** Too many commands are already waiting for this device (answered 503 "device busy"). */
  | "busy";

/** A failed exchange with one device; `message` is one sentence naming the device and its host. */
export class DeviceError extends Error {
  override readonly name = "DeviceError";
  constructor(readonly code: DeviceErrorCode, message: string) {
    super(message);
  }

  /** True when the device itself is at fault (as opposed to Portal cancelling or queueing). */
  get deviceFault(): boolean {
    return this.code !== "cancelled" && this.code !== "busy";
  }
}
