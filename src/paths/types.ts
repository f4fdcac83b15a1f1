/**
 * The path contract (PATHS.md): one request model served the same way to the
 * federation, the HTTP API and the shell. Everything a node offers is a path.
 */
import { type Method, Status } from "../wire/constants.ts";
import type { JsonObject } from "../wire/messages.ts";

/** How a request from another node arrived (absent for this node's own API and shell). */
export interface RequestEnvelope {
  /** The origin's request id. */
  readonly id: number;
  /** The origin node (same as `origin`). */
  readonly src: string;
  /** This node's name as the origin addressed it. */
  readonly dst: string;
  /** The neighbour it came through when that is not the origin itself; null when direct. */
  readonly relay: string | null;
  /** The origin's signature object (§11), unchecked; undefined when unsigned. */
  readonly sig?: unknown;
}

/** What a local caller of the HTTP API may do: `full` (token, or no token set) or `read`. */
export type CallerRole = "full" | "read";

/** A request for a path, from whichever way in. */
export interface PathRequest {
  readonly method: Method;
  readonly path: string;
  readonly args: JsonObject;
  /** Node that sent it; null when it came from this node's own API or shell. */
  readonly origin: string | null;
  /** Aborted when nobody waits for the answer any more (deadline passed, link lost). */
  readonly signal?: AbortSignal;
  /**
   * The ttl for a request this one makes again (`/node/<peer>/…` asked by
   * another node): the ttl it arrived with minus one, as a relay would pass
   * it on; negative means spent. Chains of nested forwards end this way.
   */
  readonly hops?: number;
  /**
   * Gives up the worker this request holds, for a handler about to wait on an
   * outside system that has its own bound (a device's queue and timeout), so
   * that other paths of the same origin keep their workers (PORTAL02.md §10).
   */
  readonly detach?: () => void;
  /** Set for requests from other nodes: the wire fields access control needs (§11). */
  readonly envelope?: RequestEnvelope;
  /** Set by the HTTP API for local callers: which token they presented. */
  readonly role?: CallerRole;
}

/** The answer: `body` on success, `error` (one sentence) on failure. */
export interface PathResponse {
  readonly status: number;
  readonly body?: unknown;
  readonly error?: string;
}

/** Values captured by `:name` and `*name` in a pattern. */
export type Params = Readonly<Record<string, string>>;

/** Serves one method on one pattern. */
export type PathHandler = (
  req: PathRequest,
  params: Params,
) => Promise<PathResponse> | PathResponse;

/** Anything that answers path requests: the router, or a wrapper around it. */
export interface PathService {
  handle(req: PathRequest): Promise<PathResponse>;
}

/** A success response. */
export function ok(body: unknown): PathResponse {
  return { status: Status.OK, body };
}

/** An error response with one readable sentence. */
export function fail(status: number, error: string): PathResponse {
  return { status, error };
}
