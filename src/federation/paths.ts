/**
 * The node module: `/node`, `/node/peers`, `/node/status`, and
 * `/node/<peer>/<path>`, which is `<path>` on that peer (PATHS.md).
 */
import type { Federation } from "./federation.ts";
import type { Clock } from "../util/clock.ts";
import { Methods } from "../wire/constants.ts";
import { ok, type PathRouter } from "../paths/mod.ts";

/** CALL here makes the node read its node.ini again (runtime/reload.ts); local callers only. */
export const RELOAD_PATH = "/node/reload";

/** Options of {@link registerNodePaths}. */
export interface NodePathsOptions {
  readonly federation: Federation;
  readonly clock: Clock;
  readonly startedAt: number;
}

/** Registers the federation's paths on `router`. */
export function registerNodePaths(router: PathRouter, options: NodePathsOptions): void {
  const fed = options.federation;
  router.on("LIST", "/node", () => ok(fed.peerNames()));
  router.on("GET", "/node/peers", () => ok(fed.peerViews()));
  router.on("GET", "/node/status", () =>
    ok({
      ...fed.status(),
      uptime_s: Math.floor((options.clock.now() - options.startedAt) / 1000),
    }));
  for (const method of Methods) {
    router.on(
      method,
      "/node/:peer/*rest",
      (req, params) =>
        fed.request(params.peer, method, params.rest, req.args, {
          signal: req.signal,
          ttl: req.hops,
          origin: req.origin,
        }),
    );
  }
}
