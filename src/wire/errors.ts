/** Why a byte stream or body broke PORTAL02 (§2); each closes the connection. */
export type WireErrorCode =
  | "bad_magic"
  | "bad_version"
  | "unknown_type"
  | "frame_too_large"
  | "bad_json"
  | "not_an_object"
  | "bad_field"
  | "bad_auth_body"
  | "bad_ping_body";

/** A protocol violation found while decoding. */
export class WireError extends Error {
  override readonly name = "WireError";
  constructor(readonly code: WireErrorCode, message: string) {
    super(message);
  }
}
