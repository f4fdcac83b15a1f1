/** PORTAL02 constants (PORTAL02.md §2). */

/** "PRT\0" */
export const MAGIC = new Uint8Array([0x50, 0x52, 0x54, 0x00]);
/** Protocol version in every header. */
export const VERSION = 0x0002;
/** Magic, version, type and body length. */
export const HEADER_BYTES = 11;

/** Frame types. */
export const MsgType = {
  Request: 0x01,
  Response: 0x02,
  Event: 0x03,
  AuthChallenge: 0x04,
  AuthResponse: 0x05,
  Ping: 0x06,
  Pong: 0x07,
} as const;
export type MsgType = typeof MsgType[keyof typeof MsgType];

/** Default receive bound for a body (`max_frame_bytes`). */
export const DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;
/** Size of an AUTH_CHALLENGE nonce (§3). */
export const NONCE_BYTES = 32;
/** Size of the SHA-256 digest that opens an AUTH_RESPONSE (§3). */
export const DIGEST_BYTES = 32;
/** Largest PING/PONG body (§2). */
export const MAX_PING_BYTES = 64;
/** Relay hops a REQUEST may take when it names no `ttl` (§4). */
export const DEFAULT_TTL = 8;

/** Response statuses with HTTP meanings (§4). */
export const Status = {
  OK: 200,
  BadRequest: 400,
  Unauthorized: 401,
  Forbidden: 403,
  NotFound: 404,
  MethodNotAllowed: 405,
  Conflict: 409,
  TooLarge: 413,
  Internal: 500,
  Unreachable: 502,
  Overloaded: 503,
  Timeout: 504,
  Loop: 508,
} as const;

/** Request methods (§4). */
export const Methods = ["GET", "LIST", "CALL"] as const;
export type Method = typeof Methods[number];
