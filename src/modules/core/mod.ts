/** The core module: `/health` (PATHS.md). `/` LIST comes from the router's own tree. */
import { ok, type PathRouter } from "../../paths/mod.ts";
import type { Clock } from "../../util/clock.ts";
import { VERSION } from "../../version.ts";

/** Options of {@link registerCore}. */
export interface CoreOptions {
  readonly name: string;
  readonly clock: Clock;
  /** Clock time at which the node started. */
  readonly startedAt: number;
}

/** Registers `/health`. */
export function registerCore(router: PathRouter, options: CoreOptions): void {
  router.on("GET", "/health", () =>
    ok({
      status: "ok",
      node: options.name,
      version: VERSION,
      uptime_s: Math.floor((options.clock.now() - options.startedAt) / 1000),
    }));
}
