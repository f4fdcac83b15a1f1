/** PORTAL02 codec: bytes in, frames out. No I/O. */
export * from "./constants.ts";
export * from "./errors.ts";
export * from "./frame.ts";
export * from "./bodies.ts";
export type * from "./messages.ts";
