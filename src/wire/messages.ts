/** The JSON bodies of REQUEST, RESPONSE and EVENT frames (PORTAL02.md §4). */
import type { Method } from "./constants.ts";

export type JsonObject = { [key: string]: unknown };

export interface RequestMessage {
  readonly id: number;
  readonly src: string;
  readonly dst: string;
  readonly method: Method;
  readonly path: string;
  readonly args?: JsonObject;
  readonly ttl?: number;
  readonly timeout_ms?: number;
}

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

export interface EventMessage {
  readonly src: string;
  readonly dst: string;
  readonly topic: string;
  readonly data?: unknown;
}
