/** The JSON bodies of REQUEST, RESPONSE and EVENT frames (PORTAL02.md §4). */
import type { Method } from "./constants.ts";

/** A parsed JSON object. */
export type JsonObject = { [key: string]: unknown };

/** A REQUEST body (§4). */
export interface RequestMessage {
  readonly id: number;
  readonly src: string;
  readonly dst: string;
  readonly method: Method;
  readonly path: string;
  readonly args?: JsonObject;
  readonly ttl?: number;
  readonly timeout_ms?: number;
  /** The origin's signature (§11); relays pass it on untouched. */
  readonly sig?: unknown;
}

/** A RESPONSE body (§4; also the §3 authentication verdict). */
export interface ResponseMessage {
  readonly id: number;
  readonly src?: string;
  readonly dst?: string;
  readonly status: number;
  readonly body?: unknown;
  readonly error?: string;
  /** Only on the authentication response (§3). */
  readonly message?: string;
  readonly node?: string;
}

/** An EVENT body (§4). */
export interface EventMessage {
  readonly src: string;
  readonly dst: string;
  readonly topic: string;
  readonly data?: unknown;
}
