/** The options of a Federation and of one request it sends. */
import type { LogLimiter } from "../log/limiter.ts";
import type { Logger } from "../log/logger.ts";
import type { PathService } from "../paths/types.ts";
import type { Dialer, Listener } from "../transport/types.ts";
import type { Clock } from "../util/clock.ts";
import type { EventMessage, JsonObject, RequestMessage } from "../wire/mod.ts";
import type { FederationConfig } from "./reload.ts";

/** Options of `Federation`. */
export interface FederationOptions {
  readonly config: FederationConfig;
  /** Serves requests addressed to this node. */
  readonly router: PathService;
  readonly logger: Logger;
  /**
   * Limits the lines other nodes can make this one repeat (its lines go to the limiter's own
   * logger, limited once). Default one of the federation's own, over `logger`.
   */
  readonly limiter?: LogLimiter;
  readonly clock: Clock;
  readonly dialer: Dialer;
  /** Opens the listener; null for a dial-only node. */
  readonly listen: (() => Listener | Promise<Listener>) | null;
  /** Uniform [0,1) source for reconnect jitter. Default Math.random. */
  readonly random?: () => number;
  /** Bytes queued to one peer before it is closed as a slow consumer. Default 8 MiB. */
  readonly maxOutboundBytes?: number;
  /** Signs a REQUEST this node sends (§11); returns the `sig` object, or null to leave it unsigned. */
  readonly sign?: (req: RequestMessage) => JsonObject | null;
  /** EVENTs addressed to this node on other topics than presence (subscriptions). */
  readonly onEvent?: (ev: EventMessage) => void;
  /**
   * §11 `tls_client_auth = require`: a dialer's name must be one its TLS
   * client certificate names (CN or DNS SAN). Default false.
   */
  readonly requireCertificateName?: boolean;
}

/** How a request is sent: its caller's abort signal, hop budget and origin. */
export interface RequestOptions {
  /** The caller left: stop waiting (504); an already-aborted request is never sent. */
  readonly signal?: AbortSignal;
  /** Hops left (PORTAL02 `ttl`); default 8. Negative: spent, answered 508 at once. */
  readonly ttl?: number;
  /** The node the request is made for; null (default) when it comes from this node's own API. */
  readonly origin?: string | null;
}
