/** `/node/audit` (PATHS.md): the latest audited CALLs, newest first. */
import { fail, ok, type PathRouter } from "../paths/mod.ts";
import { Status } from "../wire/constants.ts";
import type { AuditLog } from "./audit_log.ts";

/** Records `/node/audit` answers when no `limit` is given. */
export const DEFAULT_AUDIT_LIMIT = 100;
/** Most records one answer holds (the records kept in memory). */
export const MAX_AUDIT_LIMIT = 1000;

/** Options of {@link registerAuditPath}. */
export interface AuditPathOptions {
  /** This node's name, for sentences. */
  readonly node: string;
  /** null when `audit_log` is not set: the path says so. */
  readonly audit: AuditLog | null;
}

/**
 * Registers GET `/node/audit`. `limit` (a whole number from 1 to {@link MAX_AUDIT_LIMIT}, as a
 * number or decimal text) comes from the request's args, which `?limit=N` fills.
 */
export function registerAuditPath(router: PathRouter, options: AuditPathOptions): void {
  router.on("GET", "/node/audit", (req) => {
    const audit = options.audit;
    if (audit === null) {
      return fail(
        Status.NotFound,
        `${options.node} keeps no audit log: set audit_log in its [mod_node] to record every CALL`,
      );
    }
    const limit = parseLimit(req.args.limit);
    if (limit === null) {
      return fail(
        Status.BadRequest,
        `limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}, got ` +
          JSON.stringify(req.args.limit),
      );
    }
    return ok(audit.latest(limit));
  });
}

function parseLimit(v: unknown): number | null {
  if (v === undefined) return DEFAULT_AUDIT_LIMIT;
  const n = typeof v === "string" && /^[0-9]{1,7}$/.test(v) ? Number(v) : v;
  return typeof n === "number" && Number.isSafeInteger(n) && n >= 1 && n <= MAX_AUDIT_LIMIT
    ? n
    : null;
}
